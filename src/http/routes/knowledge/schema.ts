/** Schemas of the knowledge family (what RAG and the tools search): what its routes take and answer. */
import { z } from "zod";
import { Time } from "../agents/schema.js";

export { CreateKnowledge } from "../../../domain/knowledge/schema.js";

export const Knowledge = z.object({
  id: z.string(),
  workspace_id: z.string(),
  title: z.string(),
  content: z.string(),
  roles: z.array(z.string()),
  taxonomies: z.array(z.string()),
  language: z.string().nullable(),
  source: z.string().nullable(),
  chunk_count: z.number().int(),
  created_by: z.number().int().nullable(),
  created_at: Time,
  updated_at: Time,
});
export const KnowledgePage = z.object({ items: z.array(Knowledge), next_cursor: z.string().nullable() });
