/**
 * Schemas of knowledge: an item as it is written, the RAG query and a tool call's context. The
 * routes take them (http/routes/knowledge, the Backplane's RAG) and the service and the tools
 * parse with them again, so a direct call holds to the same rules.
 */
import { z } from "zod";
import { Title } from "../../schemas.js";

/** The longest knowledge item, in characters (about a thousand chunks). */
export const KNOWLEDGE_CONTENT_MAX = 1_000_000;
/** A role or taxonomy name: trimmed, 1–100 characters. */
const KnowledgeLabel = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters");
const KnowledgeLabels = z
  .array(KnowledgeLabel)
  .max(100, "must have at most 100 entries")
  .transform((names) => [...new Set(names)]);
const LanguageId = z.string().trim().min(1, "must not be empty").max(35, "must be at most 35 characters");

export const CreateKnowledge = z.strictObject({
  title: Title,
  content: z
    .string()
    .max(KNOWLEDGE_CONTENT_MAX, `must be at most ${KNOWLEDGE_CONTENT_MAX} characters`)
    .refine((c) => c.trim().length > 0, "must not be empty"),
  roles: KnowledgeLabels.optional(),
  taxonomies: KnowledgeLabels.optional(),
  language: LanguageId.nullish(),
  source: z.string().trim().max(2000, "must be at most 2000 characters").nullish(),
});

/** RAG (`POST /v1/…/rag`): `{text, topK?: 1–10 (5), languageId?}`; other fields are ignored. */
export const RagQuery = z.object({
  text: z
    .string()
    .max(4000, "must be at most 4000 characters")
    .refine((t) => t.trim().length > 0, "must not be empty"),
  topK: z.number({ message: "must be a whole number from 1 to 10" }).int("must be a whole number from 1 to 10").min(1, "must be a whole number from 1 to 10").max(10, "must be a whole number from 1 to 10").optional(),
  languageId: LanguageId.nullish(),
});

/** A tool call's `context` (the SDK's ToolExecuteContext); other fields are ignored. */
export const ToolContext = z
  .object({
    spaceId: z.string().max(200).nullish(),
    userId: z.string().max(200).nullish(),
    roleId: z.string().max(200).nullish(),
    languageId: LanguageId.nullish(),
    topK: z.number().nullish(),
  })
  .nullish();
