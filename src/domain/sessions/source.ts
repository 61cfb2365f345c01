/**
 * A source: a citation of what an answer drew on (`{id, type, title, snippet}`, other fields kept).
 * The one Source of the hub: what clients store with a message and are answered, what the
 * Backplane and the knowledge tools answer, and, bounded, what an agent sends in a turn's
 * `sources` event (turns/events.ts). Only zod: the typed client's turn reducer uses its type.
 */
import { z } from "zod";

export const Source = z.looseObject({
  id: z.string(),
  type: z.string(),
  title: z.string().optional(),
  snippet: z.string().optional(),
});
export type Source = z.output<typeof Source>;
