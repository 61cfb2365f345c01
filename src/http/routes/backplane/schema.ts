/**
 * Schemas of the Agent Backplane (the Sharely Agent API under /v1/workspaces/{workspaceId}, and
 * the key exchange): what its routes take and what they answer, in the SDK's camelCase shapes.
 */
import { z } from "zod";
import { MESSAGE_ROLES } from "../../../domain/sessions/messages.js";
import { Time } from "../agents/schema.js";

export { CreateServer, CreateThread, KeyExchange, RagQuery, RbacSwitch, StoreThreadMessage, ThreadChat, ThreadListQuery, TokenToValidate, ToolExecute, UpdateServer } from "../../../schemas.js";

const Json = z.record(z.string(), z.unknown());
const Source = z.looseObject({ id: z.string(), type: z.string(), title: z.string().optional(), snippet: z.string().optional() });

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
