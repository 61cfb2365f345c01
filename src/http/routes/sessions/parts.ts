/**
 * Pieces of message bodies shared by the sessions family and the Backplane (which stores the same
 * messages in the SDK's shape): content blocks and token counts. Their Source is the domain's one
 * (domain/sessions/source.ts).
 */
import { z } from "zod";

export const ContentBlock = z.looseObject({ type: z.string().min(1, "must not be empty") });
export const Count = z.number().int().nonnegative();
