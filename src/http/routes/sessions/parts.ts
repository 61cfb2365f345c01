/**
 * Pieces of message bodies shared by the sessions family and the Backplane (which stores the same
 * messages in the SDK's shape): content blocks, sources and token counts. One Source, for what is
 * taken and what is answered.
 */
import { z } from "zod";

export const ContentBlock = z.looseObject({ type: z.string().min(1, "must not be empty") });
export const Source = z.looseObject({
  id: z.string(),
  type: z.string(),
  title: z.string().optional(),
  snippet: z.string().optional(),
});
export const Count = z.number().int().nonnegative();
