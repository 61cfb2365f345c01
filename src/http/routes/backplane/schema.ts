/**
 * Schemas of the Agent Backplane (the Sharely Agent API under /v1/workspaces/{workspaceId}, and
 * the key exchange): what its routes take and what they answer, in the SDK's camelCase shapes.
 */
import { z } from "zod";
import { MESSAGE_ROLES } from "../../../domain/sessions/messages.js";
import { AgentId, CursorQuery, ServerUrl, Title, Uuid, limitQuery, plainJsonProblem } from "../../../schemas.js";
import { Source } from "../../../domain/sessions/source.js";
import { Time } from "../agents/schema.js";
import { ContentBlock, Count } from "../sessions/parts.js";

export { RagQuery } from "../../../domain/knowledge/schema.js";

// ---- requests (camelCase; unknown fields are ignored, as Sharely does) ---------------------------

/** A nested part the SDKs may send as JSON or as a JSON-encoded string. */
function jsonOrEncoded<S extends z.ZodType>(schema: S) {
  return z.preprocess((v, ctx) => {
    if (typeof v !== "string") return v;
    let decoded: unknown;
    try {
      decoded = JSON.parse(v);
    } catch {
      return v;
    }
    // What parse() checked on the body, checked again on what the string decoded to: a `\u0000`
    // escape is no NUL until it is decoded, and jsonb refuses it (that answered 500).
    const problem = plainJsonProblem(decoded);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message, input: v });
    return decoded;
  }, schema);
}

/** An id the caller chose for its own world (a user, a space): 1–200 characters. */
const ExternalId = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");

export const CreateThread = z.object({
  title: Title.nullish(),
  agentServerId: AgentId.nullish(),
  userId: z.union([ExternalId, z.number().int().transform(String)]).nullish(),
  spaceId: ExternalId.nullish(),
  temporalUserId: ExternalId.nullish(),
});

/** `?limit=` 1–50 (default 20; larger is served as 50), `cursor`, and the SDK's filters. */
export const ThreadListQuery = z.object({
  limit: limitQuery(20, 50),
  cursor: CursorQuery,
  userId: ExternalId.optional(),
  spaceId: ExternalId.optional(),
  temporalUserId: ExternalId.optional(),
});

export const StoreThreadMessage = z.object({
  id: Uuid.nullish(),
  role: z.enum(["user", "assistant", "system"], { message: "must be one of user, assistant, system" }),
  content: z.union([z.string(), z.array(ContentBlock)], { message: "must be a string, an array of content blocks, or null (a draft)" }).nullable(),
  thinkingSteps: jsonOrEncoded(z.array(z.record(z.string(), z.unknown())).nullish()),
  toolCalls: jsonOrEncoded(z.array(z.record(z.string(), z.unknown())).nullish()),
  sources: jsonOrEncoded(z.array(Source).nullish()),
  tokenUsage: jsonOrEncoded(z.object({ inputTokens: Count, outputTokens: Count, totalTokens: Count }).nullish()),
  model: z.string().max(200).nullish(),
  finishReason: z.string().max(100).nullish(),
  metadata: jsonOrEncoded(z.record(z.string(), z.unknown()).nullish()),
});

/** `POST /threads/{id}/chat`: the user's message starts a turn. */
export const ThreadChat = z.object({ message: z.string().refine((m) => m.trim().length > 0, "must not be empty") });

const ServerStatus = z.enum(["ACTIVE", "INACTIVE"], { message: "must be ACTIVE or INACTIVE" });
const ServerMetadata = jsonOrEncoded(z.record(z.string(), z.unknown()).nullable());
export const CreateServer = z.object({ name: Title, url: ServerUrl.unwrap(), status: ServerStatus.optional(), metadata: ServerMetadata.optional() });
export const UpdateServer = z.object({ name: Title.optional(), url: ServerUrl.optional(), status: ServerStatus.optional(), metadata: ServerMetadata.optional() });

export const RbacSwitch = z.object({ rbacEnabled: z.boolean({ message: "must be true or false" }) });
export const TokenToValidate = z.object({ token: z.string().min(1, "must not be empty").max(16_000) });
/**
 * `generate-access-key-token`: the role the exchanged token acts with (RBAC), as `roleId` or, as
 * the newer Sharely SDK sends it, `customerRoleId`; both may be sent only naming the same role.
 */
const ExchangeRole = z.string().trim().min(1, "must not be empty").max(200).nullish();
export const KeyExchange = z
  .object({ roleId: ExchangeRole, customerRoleId: ExchangeRole })
  .refine((b) => !b.roleId || !b.customerRoleId || b.roleId === b.customerRoleId, { message: "must name the same role as roleId", path: ["customerRoleId"] })
  .transform((b) => ({ roleId: b.roleId || b.customerRoleId || undefined }));
/** `POST /tools/{name}/execute`: the tool's input and the caller's context, each checked by the tool (knowledge/tools.ts). */
export const ToolExecute = z.object({ input: z.unknown().optional(), context: z.unknown().optional() });

// ---- answers ------------------------------------------------------------------------------------

const Json = z.record(z.string(), z.unknown());

export const Thread = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(["ACTIVE", "ARCHIVED"]),
  /** null for a group's conversation (it has no one agent). */
  agentServerId: z.string().nullable(),
  userId: z.string().nullable(),
  roleId: z.string().nullable(),
  spaceId: z.string().nullable(),
  temporalUserId: z.string().nullable(),
  createdAt: Time,
  updatedAt: Time,
  deletedAt: z.null(),
});
export const ThreadPage = z.object({ items: z.array(Thread), nextCursor: z.string().nullable(), hasMore: z.boolean() });
export const ThreadMessage = z.object({
  id: z.string(),
  threadId: z.string(),
  role: z.enum(MESSAGE_ROLES),
  /** null: a draft, stored to be filled in later. */
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).nullable(),
  thinkingSteps: z.array(z.unknown()).optional(),
  toolCalls: z.array(z.unknown()).optional(),
  sources: z.array(Source).optional(),
  agentId: z.string().optional(),
  userId: z.number().int().optional(),
  userName: z.string().optional(),
  tokenUsage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int(), totalTokens: z.number().int() }).optional(),
  model: z.string().optional(),
  finishReason: z.string().optional(),
  metadata: Json.optional(),
  createdAt: Time,
});
export const ThreadWithMessages = Thread.extend({ messages: z.array(ThreadMessage) });

export const Server = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string().nullable(),
  status: z.enum(["ACTIVE", "INACTIVE"]),
  metadata: Json.nullable(),
  createdAt: Time,
  updatedAt: Time,
});
/** Right after a URL is set: with the endpoint secret, shown once. */
export const ServerWithSecret = Server.extend({ endpointSecret: z.string().optional() });
export const ServerList = z.object({ items: z.array(Server) });

export const RagMatches = z.array(
  z.object({
    id: z.string(),
    score: z.number(),
    metadata: z.object({ text: z.string(), source: z.string(), knowledgeId: z.string(), title: z.string(), workspaceId: z.string(), language: z.string().nullable() }),
    values: z.array(z.number()),
  }),
);
export const ToolList = z.object({ items: z.array(z.object({ name: z.string(), description: z.string(), inputSchema: Json })) });
/** A tool that fails answers `{output: null, error}`. */
export const ToolResult = z.object({ output: z.unknown(), sources: z.array(Source).optional(), error: z.string().optional() });
export const TokenOwner = z.object({ id: z.string(), user_metadata: z.object({ roleId: z.string().optional(), customerRoleId: z.string().optional() }) });
export const RbacStatus = z.object({ rbacStatus: z.enum(["ACTIVE", "INACTIVE"]) });
export const KeyToken = z.object({ token: z.string() });
