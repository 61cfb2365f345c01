/**
 * Session messages: whole agent turns, appended with a per-session `seq` that is gap-free
 * under concurrent appends from any number of processes, and idempotent by client-chosen id.
 */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Conflict, Invalid, isUniqueViolation } from "../../errors.js";
import { canonicalHash } from "../canonical.js";
import { transact, type Emit, type TxDeps } from "../events.js";
import { PAGE_MAX_BYTES, decodeSeqCursor, encodeSeqCursor, takePage } from "../pagination.js";
import type { Clock } from "../time.js";
import { loadSessionFor, sessionAudience } from "./policy.js";
import { messages, sessions, type Session, type StoredMessage } from "./repository.js";
import type { Source } from "./source.js";
import { emitUpdated } from "./service.js";
import { titleFromMessage } from "./titles.js";
import type { z } from "zod";
import type { AppendMessage } from "../../http/routes/sessions/schema.js";
import type { MessagesQuery } from "../../schemas.js";

export const MESSAGE_ROLES = ["user", "assistant", "system", "tool"] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface ContentBlock {
  type: string;
  [key: string]: unknown;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** A message's parts (the whole turn it holds); absent (or null) parts are not stored and not presented. */
export interface MessageParts {
  content: string | ContentBlock[];
  thinking?: unknown;
  toolCalls?: unknown[];
  sources?: Source[];
  model?: string;
  finishReason?: string;
  tokenUsage?: TokenUsage;
  metadata?: Record<string, unknown>;
  /** In a group's conversation: the agent that answered (assistant messages). */
  agentId?: string;
  /** In a group's conversation: the person who asked (user messages). */
  userId?: number;
  userName?: string;
  /** An answer's approvals: what people were asked during its turn, and their decisions (domain/approvals). */
  approvals?: unknown[];
}

/**
 * A message as POST …/messages takes it (its schema's output), and what only the hub sets (never
 * taken from clients): `metadata` (the Backplane's, a turn's), and who said it in a group's conversation.
 */
export type MessageInput = z.output<typeof AppendMessage> & {
  metadata?: Record<string, unknown> | null | undefined;
  approvals?: unknown[] | undefined;
  agentId?: string | undefined;
  userId?: number | undefined;
  userName?: string | undefined;
};

/** A message as the API presents it: absent optional parts are omitted, not null. */
export interface MessageView extends MessageParts {
  id: string;
  role: MessageRole;
  seq: number;
  createdAt: string;
}

const TURN_KEYS = ["content", "thinking", "toolCalls", "sources", "model", "finishReason", "tokenUsage", "metadata", "agentId", "userId", "userName", "approvals"] as const;
const ID_UNIQUE = "session_messages_session_id_id_unique";

function turnOf(input: MessageInput): MessageParts {
  const turn: Record<string, unknown> = {};
  for (const key of TURN_KEYS) {
    const v = input[key];
    if (v !== undefined && v !== null) turn[key] = v;
  }
  return turn as unknown as MessageParts;
}

export interface PreparedMessage {
  id: string;
  role: MessageRole;
  turn: MessageParts;
  hash: string;
}

export interface AppendResult {
  message: MessageView;
  /** false when the same id and body were stored before (an idempotent retry). */
  created: boolean;
}

/** A history page (`?limit=&cursor=` or `after_seq`, and `since`: only messages created after that millisecond). */
export type MessagePageInput = z.output<typeof MessagesQuery>;

export class SessionMessages {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly maxBytes: number,
  ) {}

  async append(actor: Principal, agentId: string, sessionId: string, input: MessageInput): Promise<AppendResult> {
    const prepared = this.prepare(input);
    try {
      return await transact(this.deps, async (trx, emit) => {
        const session = await loadSessionFor(trx, actor, sessionId, "append", agentId);
        return this.appendLocked(trx, emit, session, prepared);
      });
    } catch (err) {
      return this.afterRace(err, sessionId, prepared);
    }
  }

  /**
   * Checks a message's size (at most `maxBytes`: MESSAGE_MAX_BYTES for what clients send; a
   * turn's answer has the turn's own bound) and works out its id and body hash.
   */
  prepare(input: MessageInput, maxBytes = this.maxBytes): PreparedMessage {
    const turn = turnOf(input);
    const size = Buffer.byteLength(JSON.stringify({ id: input.id, role: input.role, ...turn }));
    if (size > maxBytes) throw Invalid.field("body", `the message is ${size} bytes; at most ${maxBytes} are allowed`);
    return { id: (input.id ?? randomUUID()).toLowerCase(), role: input.role, turn, hash: canonicalHash({ role: input.role, ...turn }) };
  }

  /**
   * Appends inside the caller's transaction (the caller checked access): locks the session so the
   * seq is message_count + 1 across every process; the same id again answers the stored message.
   */
  async appendLocked(trx: Knex.Transaction, emit: Emit, session: Session, m: PreparedMessage): Promise<AppendResult> {
    await sessions.lock(trx, session.id);
    const stored = await messages.find(trx, session.id, m.id);
    if (stored) return replay(stored, m.hash);
    const now = this.clock.now();
    const seq = await sessions.countMessage(trx, session.id, now);
    const message = await messages.insert(trx, { sessionId: session.id, seq, id: m.id, role: m.role, turn: m.turn, hash: m.hash, at: now });
    emit({
      type: "session.message_appended",
      workspaceId: session.workspace_id,
      agentId: session.agent_id,
      sessionId: session.id,
      seq,
      message,
      audience: sessionAudience(session.readers),
    });
    if (session.title_is_default && m.role === "user") {
      const title = titleFromMessage(m.turn.content);
      const named = title === undefined ? undefined : await sessions.nameAutomatically(trx, session, title, now);
      if (named) emitUpdated(emit, named, "renamed");
    }
    return { message, created: true };
  }

  /** A concurrent request with the same id won the insert: answer as a retry would. */
  async afterRace(err: unknown, sessionId: string, m: PreparedMessage): Promise<AppendResult> {
    if (!isUniqueViolation(err, ID_UNIQUE)) throw err;
    const stored = await messages.find(this.deps.db, sessionId, m.id);
    if (!stored) throw err;
    return replay(stored, m.hash);
  }

  /** History, oldest first, after a cursor or after a seq (`after_seq`, like the socket's `since`). */
  /** `agentId` undefined: a session by id alone (group conversations; their route checked the group). */
  async list(actor: Principal, agentId: string | undefined, sessionId: string, page: MessagePageInput): Promise<{ messages: MessageView[]; next_cursor: string | null }> {
    return this.pageOf(await loadSessionFor(this.deps.db, actor, sessionId, "read", agentId), page);
  }

  /** A page of a session the caller already loaded with the right to read it. */
  async pageOf(session: Session, page: MessagePageInput): Promise<{ messages: MessageView[]; next_cursor: string | null }> {
    const after = page.cursor !== undefined ? decodeSeqCursor(page.cursor) : (page.after_seq ?? 0);
    const rows = await messages.after(this.deps.db, session.id, after, page.limit + 1, page.since);
    const { items, next } = takePage(rows, page.limit, (last) => encodeSeqCursor(last.seq), PAGE_MAX_BYTES);
    return { messages: items, next_cursor: next };
  }

  /**
   * For watchers and gap repair: up to `limit` messages with seq > afterSeq, oldest first. The
   * caller has already checked that the reader may read the session.
   */
  after(sessionId: string, afterSeq: number, limit: number): Promise<MessageView[]> {
    return messages.after(this.deps.db, sessionId, afterSeq, limit);
  }
}

function replay(stored: StoredMessage, hash: string): AppendResult {
  if (stored.body_hash !== hash) throw new Conflict(`Message ${stored.id} already exists in this session with another body`);
  return { message: stored.view, created: false };
}
