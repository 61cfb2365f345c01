/**
 * Session messages: whole agent turns, appended with a per-session `seq` that is gap-free
 * under concurrent appends from any number of processes, and idempotent by client-chosen id.
 */
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Conflict, Invalid, isUniqueViolation } from "../../errors.js";
import { sha256 } from "../../ids.js";
import { transact, type TxDeps } from "../events.js";
import { toIso, type Clock } from "../time.js";
import { decodeSeqCursor, encodeSeqCursor } from "../cursors.js";
import { canonicalJson } from "../canonical.js";
import { loadSessionFor, normaliseSession, sessionAudience } from "./policy.js";

export const MESSAGE_ROLES = ["user", "assistant", "system", "tool"] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface ContentBlock {
  type: string;
  [key: string]: unknown;
}

export interface Source {
  id: string;
  type: string;
  title?: string | undefined;
  snippet?: string | undefined;
  [key: string]: unknown;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** The optional parts of a turn; absent (or null) parts are not stored and not presented. */
export interface Turn {
  content: string | ContentBlock[];
  thinking?: unknown;
  toolCalls?: unknown[];
  sources?: Source[];
  model?: string;
  finishReason?: string;
  tokenUsage?: TokenUsage;
}

export interface MessageInput {
  id?: string | undefined;
  role: MessageRole;
  content: string | ContentBlock[];
  thinking?: unknown;
  toolCalls?: unknown[] | null | undefined;
  sources?: Source[] | null | undefined;
  model?: string | null | undefined;
  finishReason?: string | null | undefined;
  tokenUsage?: TokenUsage | null | undefined;
}

/** A message as the API presents it: absent optional parts are omitted, not null. */
export interface MessageView extends Turn {
  id: string;
  role: MessageRole;
  seq: number;
  createdAt: string;
}

interface MessageRow {
  session_id: string;
  seq: number;
  id: string;
  role: MessageRole;
  turn: Turn | string;
  body_hash: string;
  created_at: Date;
}

const TURN_KEYS = ["content", "thinking", "toolCalls", "sources", "model", "finishReason", "tokenUsage"] as const;
const ID_UNIQUE = "session_messages_session_id_id_unique";

export function presentMessage(row: MessageRow): MessageView {
  const turn: Turn = typeof row.turn === "string" ? JSON.parse(row.turn) : row.turn;
  return { id: row.id, role: row.role, ...turn, seq: Number(row.seq), createdAt: toIso(row.created_at) };
}

/**
 * For the realtime hub: messages with seq > afterSeq, oldest first, as REST presents them.
 * The caller has already checked that the reader may read the session.
 */
export async function messagesAfter(
  db: Knex,
  sessionId: string,
  afterSeq: number,
  limit: number,
  /** Only messages created after this millisecond. */
  since?: Date,
): Promise<MessageView[]> {
  const q = db("session_messages").where({ session_id: sessionId }).where("seq", ">", afterSeq);
  if (since) q.andWhere("created_at", ">=", new Date(since.getTime() + 1));
  const rows: MessageRow[] = await q.orderBy("seq").limit(limit);
  return rows.map(presentMessage);
}

function turnOf(input: MessageInput): Turn {
  const turn: Record<string, unknown> = {};
  for (const key of TURN_KEYS) {
    const v = input[key];
    if (v !== undefined && v !== null) turn[key] = v;
  }
  return turn as unknown as Turn;
}

export interface AppendResult {
  message: MessageView;
  /** false when the same id and body were stored before (an idempotent retry). */
  created: boolean;
}

export interface MessagePageInput {
  limit: number;
  cursor?: string | undefined;
  afterSeq?: number | undefined;
  /** Only messages created after this millisecond. */
  since?: Date | undefined;
}

export class SessionMessages {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly maxBytes: number,
  ) {}

  async append(actor: Principal, agentId: string, sessionId: string, input: MessageInput): Promise<AppendResult> {
    const turn = turnOf(input);
    const size = Buffer.byteLength(JSON.stringify({ id: input.id, role: input.role, ...turn }));
    if (size > this.maxBytes) throw Invalid.field("body", `the message is ${size} bytes; at most ${this.maxBytes} are allowed`);
    const id = (input.id ?? randomUUID()).toLowerCase();
    const hash = sha256(canonicalJson({ role: input.role, ...turn }));

    try {
      return await transact(this.deps, async (trx, emit) => {
        const session = await loadSessionFor(trx, actor, agentId, sessionId, "write");
        // Serialises appends to this session across every process: seq = message_count + 1.
        await trx("sessions").where({ id: session.id }).forUpdate().first("id");
        const stored: MessageRow | undefined = await trx("session_messages").where({ session_id: session.id, id }).first();
        if (stored) return replay(stored, hash);

        const now = this.clock.now();
        const [row] = await trx("sessions")
          .where({ id: session.id })
          .update({
            message_count: trx.raw("message_count + 1"),
            last_message_at: trx.raw("greatest(last_message_at, ?::timestamptz)", [now]),
            updated_at: trx.raw("greatest(updated_at, ?::timestamptz)", [now]),
          })
          .returning("*");
        const updated = normaliseSession(row);
        const [inserted] = await trx("session_messages")
          .insert({
            session_id: session.id,
            seq: updated.message_count,
            id,
            role: input.role,
            turn: JSON.stringify(turn),
            body_hash: hash,
            created_at: now,
          })
          .returning("*");
        const message = presentMessage(inserted);
        emit({
          type: "session.message_appended",
          workspaceId: updated.workspace_id,
          agentId: updated.agent_id,
          sessionId: updated.id,
          seq: message.seq,
          message,
          audience: await sessionAudience(trx, updated),
        });
        return { message, created: true };
      });
    } catch (err) {
      // A concurrent request with the same id won the insert: answer as a retry would.
      if (!isUniqueViolation(err, ID_UNIQUE)) throw err;
      const stored: MessageRow | undefined = await this.deps.db("session_messages").where({ session_id: sessionId, id }).first();
      if (!stored) throw err;
      return replay(stored, hash);
    }
  }

  /** History, oldest first, after a cursor or after a seq (`after_seq`, like the socket's `since`). */
  async list(actor: Principal, agentId: string, sessionId: string, page: MessagePageInput): Promise<{ messages: MessageView[]; next_cursor: string | null }> {
    const { db } = this.deps;
    const session = await loadSessionFor(db, actor, agentId, sessionId, "read");
    const after = page.cursor !== undefined ? decodeSeqCursor(page.cursor) : (page.afterSeq ?? 0);
    const rows = await messagesAfter(db, session.id, after, page.limit + 1, page.since);
    const more = rows.length > page.limit;
    const messages = more ? rows.slice(0, page.limit) : rows;
    const last = messages[messages.length - 1];
    return { messages, next_cursor: more && last ? encodeSeqCursor(last.seq) : null };
  }
}

function replay(stored: MessageRow, hash: string): AppendResult {
  if (stored.body_hash !== hash) throw new Conflict(`Message ${stored.id} already exists in this session with another body`);
  return { message: presentMessage(stored), created: false };
}
