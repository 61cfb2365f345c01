/**
 * A turn's end in Postgres, inside the caller's transaction: the turn's outcome, and what arrived
 * stored as the session's next message (id = the turn's message_id). Only one process can win
 * the end: `turns.end` answers nothing to the others. When to end a turn is the runtime's to
 * decide (src/turns/); what an end stores is decided here.
 */
import type { Knex } from "knex";
import { settleApprovalsOfEnded } from "../approvals/service.js";
import type { Emit } from "../events.js";
import type { SessionMessages } from "../sessions/messages.js";
import { messages, sessions } from "../sessions/repository.js";
import { MAX_TURN_BYTES, type TurnSnapshot } from "./events.js";
import { turns, type Turn } from "./repository.js";
import type { TurnOutcome } from "./runner.js";

/** Records the outcome and stores the answer; undefined when the turn had already ended. */
/** `unlessWaiting`: a turn that waits for people is left as it is (undefined). */
export async function endTurn(trx: Knex.Transaction, emit: Emit, sessionMessages: SessionMessages, turnId: string, outcome: TurnOutcome, answer: TurnSnapshot, unlessWaiting = false): Promise<Turn | undefined> {
  const ended = await turns.end(trx, turnId, outcome.status, outcome.status === "failed" ? storableError(outcome.error) : null, unlessWaiting);
  if (ended) await storeAnswer(trx, emit, sessionMessages, ended, outcome, answer);
  return ended;
}

/** A turn's error as Postgres can store it and people can read it: no NUL or other control characters, bounded. */
export function storableError(error: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = error.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "\ufffd").trim();
  return (clean || "the turn failed").slice(0, 4000);
}

/** Stores what arrived as the assistant message; an answer the agent stored itself under the turn's message id stands. */
async function storeAnswer(trx: Knex.Transaction, emit: Emit, sessionMessages: SessionMessages, turn: Turn, outcome: TurnOutcome, s: TurnSnapshot): Promise<void> {
  const session = await sessions.find(trx, turn.workspace_id, turn.session_id);
  if (!session) return;
  // What people were asked during the turn, and what they decided, stay with its answer.
  const approvals = await settleApprovalsOfEnded(trx, emit, turn, session);
  if (await messages.find(trx, session.id, turn.message_id)) return;
  const finishReason = outcome.status === "completed" ? (s.finishReason ?? "stop") : outcome.status === "failed" ? "error" : "cancelled";
  const prepared = sessionMessages.prepare({
    id: turn.message_id,
    role: "assistant",
    // In a group's conversation, who answered.
    agentId: session.agent_id === null ? turn.agent_id : undefined,
    content: s.content,
    thinking: s.thinking.length ? s.thinking : undefined,
    toolCalls: s.toolCalls.length ? s.toolCalls : undefined,
    sources: s.sources.length ? s.sources : undefined,
    model: s.model,
    finishReason,
    tokenUsage: s.tokenUsage,
    metadata: metadataOf(s, outcome),
    approvals: approvals.length ? approvals : undefined,
  }, 2 * MAX_TURN_BYTES);
  await sessionMessages.appendLocked(trx, emit, session, prepared);
}

/** The answer's metadata; a failed turn's also keeps why (`error`), so the stored message can say it after a reload. */
function metadataOf(s: TurnSnapshot, outcome: TurnOutcome): Record<string, unknown> | undefined {
  const metadata = outcome.status === "failed" ? { ...s.metadata, error: storableError(outcome.error) } : s.metadata;
  return Object.keys(metadata).length ? metadata : undefined;
}
