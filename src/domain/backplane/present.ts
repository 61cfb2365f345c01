/**
 * How the hub's data looks through the Agent Backplane (camelCase, the Sharely Agent API's
 * shapes), and back: a session is a thread, an agent an agent server, a session message a
 * thread message (`thinking` ⇄ `thinkingSteps`). What /v1 stores, /api shows, and the other way.
 */
import type { AgentView } from "../agents/service.js";
import type { ContentBlock, MessageInput, MessageRole, MessageView, TokenUsage } from "../sessions/messages.js";
import type { Source } from "../sessions/source.js";
import type { Session } from "../sessions/repository.js";
import { toIso } from "../time.js";
import type { ServerFields, ServerStatus } from "./repository.js";
import type { z } from "zod";
import type { StoreThreadMessage } from "../../http/routes/backplane/schema.js";

export interface ThreadView {
  id: string;
  title: string;
  status: "ACTIVE" | "ARCHIVED";
  /** null for a group's conversation (it has no one agent). */
  agentServerId: string | null;
  userId: string | null;
  roleId: string | null;
  spaceId: string | null;
  temporalUserId: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: null;
}

export interface ThreadMessageView {
  id: string;
  threadId: string;
  role: MessageRole;
  /** null: a draft, stored to be filled in later. */
  content: string | ContentBlock[] | null;
  thinkingSteps?: unknown[];
  toolCalls?: unknown[];
  sources?: Source[];
  /** In a group's conversation: the agent that answered, the person who asked. */
  agentId?: string;
  userId?: number;
  userName?: string;
  tokenUsage?: TokenUsage;
  model?: string;
  finishReason?: string;
  metadata?: Record<string, unknown>;
  createdAt: string;
}

export interface ServerView {
  id: string;
  name: string;
  url: string | null;
  status: ServerStatus;
  metadata: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
}

/** A message as /v1 takes it (routes/backplane/schema.ts `StoreThreadMessage`, nested parts already decoded). */
export type ThreadMessageInput = z.output<typeof StoreThreadMessage>;

export function presentThread(s: Omit<Session, "readers">): ThreadView {
  return {
    id: s.id,
    title: s.title,
    status: s.archived ? "ARCHIVED" : "ACTIVE",
    agentServerId: s.agent_id,
    userId: s.external_user_id,
    roleId: s.role_id,
    spaceId: s.space_id,
    temporalUserId: s.temporal_user_id,
    createdAt: toIso(s.created_at),
    updatedAt: toIso(s.updated_at),
    deletedAt: null,
  };
}

/** A stored message as /v1 shows it: absent parts omitted, as /api does; `content` null for a draft. */
export function presentThreadMessage(threadId: string, m: MessageView): ThreadMessageView {
  const steps = thinkingSteps(m.thinking);
  return {
    id: m.id,
    threadId,
    role: m.role,
    content: m.content ?? null,
    ...(steps ? { thinkingSteps: steps } : {}),
    ...(m.toolCalls ? { toolCalls: m.toolCalls } : {}),
    ...(m.sources ? { sources: m.sources } : {}),
    ...(m.tokenUsage ? { tokenUsage: m.tokenUsage } : {}),
    ...(m.model !== undefined ? { model: m.model } : {}),
    ...(m.finishReason !== undefined ? { finishReason: m.finishReason } : {}),
    ...(m.metadata ? { metadata: m.metadata } : {}),
    // In a group's conversation: who said it (an SDK agent reading the thread sees who asked and who answered).
    ...(m.agentId !== undefined ? { agentId: m.agentId } : {}),
    ...(m.userId !== undefined ? { userId: m.userId } : {}),
    ...(m.userName !== undefined ? { userName: m.userName } : {}),
    createdAt: m.createdAt,
  };
}

/** Whether a stored message is a draft (stored with `content: null`, to be filled in). */
export const isDraft = (m: MessageView): boolean => m.content === undefined || m.content === null;

/**
 * A /v1 message as the sessions family stores it: `thinkingSteps` is `thinking`; empty lists and
 * objects are absent (as in a turn's answer the hub reduces itself); `content: null` is left out,
 * which makes a draft.
 */
export function toMessageInput(input: ThreadMessageInput, id: string | undefined): MessageInput {
  const some = <T>(list: T[] | null | undefined) => (list && list.length ? list : undefined);
  return {
    id,
    role: input.role,
    content: input.content as string | ContentBlock[], // null: a draft (turnOf leaves nulls out)
    thinking: some(input.thinkingSteps),
    toolCalls: some(input.toolCalls),
    sources: some(input.sources),
    tokenUsage: input.tokenUsage,
    model: input.model,
    finishReason: input.finishReason,
    metadata: input.metadata && Object.keys(input.metadata).length ? input.metadata : undefined,
  };
}

export function presentServer(agent: Pick<AgentView, "id" | "name" | "server_url" | "created_at" | "updated_at">, fields: ServerFields | undefined): ServerView {
  return {
    id: agent.id,
    name: agent.name,
    url: agent.server_url,
    status: fields?.status ?? "ACTIVE",
    metadata: fields?.metadata ?? null,
    createdAt: agent.created_at,
    updatedAt: agent.updated_at,
  };
}

/** /api's `thinking` (a string, list or object) as the SDK's ThinkingStep list. */
function thinkingSteps(thinking: unknown): unknown[] | undefined {
  if (thinking === undefined || thinking === null) return undefined;
  if (Array.isArray(thinking)) return thinking;
  if (typeof thinking === "string") return [{ id: "thinking", title: "", content: thinking, status: "completed" }];
  return [thinking];
}
