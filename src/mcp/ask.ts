/**
 * ask_agent and ask_group: start a turn (or a group's ask) through the services with the
 * caller's principal, send the answer's text as progress notifications while it streams (only
 * when the client sent a progressToken), and answer the whole answer. A client that cancels the
 * request (`notifications/cancelled`) cancels the turn; a client that disconnects does not.
 */
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth/principal.js";
import type { TurnView } from "../domain/turns/repository.js";
import type { STRATEGIES } from "../domain/asks/routing.js";
import type { Services } from "../services.js";
import { followTurn, type FollowedTurn } from "./follow.js";
import { currentCall, withResumableCall } from "./resume.js";

/** What the SDK hands a tool besides its arguments (the request's signal, auth, progress token). */
export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface AskContext {
  services: Services;
  turnTimeoutMs: number;
  /** Whether the client cancelled this request (as opposed to the connection closing). */
  cancelledByClient(requestId: string | number): boolean;
}

/** Beyond the turn's own timeout: the turn ends by then; this only bounds the wait. */
const WAIT_MARGIN_MS = 30_000;
/** A new session's title: the question, cut. */
const TITLE_MAX = 80;

const titleOf = (content: string) => {
  const line = content.trim().split("\n")[0]!.trim();
  return line.length > TITLE_MAX ? `${line.slice(0, TITLE_MAX - 1).trimEnd()}…` : line || undefined;
};

/**
 * Sends `notifications/progress` with the text since the previous one, when the client asked for
 * progress; a resumable call (resume.ts) learns each one's turn seq first, for its event id.
 */
function progressSender(extra: Extra): (text: string, seq: number) => void {
  const token = extra._meta?.progressToken;
  if (token === undefined) return () => {};
  const call = currentCall();
  let progress = 0;
  return (text, seq) => {
    progress += 1;
    call?.seqOf.set(progress, seq);
    // Called from the turn feed (another async context): the call is handed on for its event id.
    const sent = withResumableCall(call, () => extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, message: text } }));
    sent.catch(() => {});
  };
}

/** Follows a turn until it ends, the request is cancelled or closed, or the wait's bound. */
async function follow(ctx: AskContext, extra: Extra, turnId: string, onText: (text: string, seq: number) => void): Promise<FollowedTurn> {
  const signal = AbortSignal.any([extra.signal, AbortSignal.timeout(ctx.turnTimeoutMs + WAIT_MARGIN_MS)]);
  return followTurn(ctx.services.turns, turnId, onText, signal);
}

/** The turn's outcome in words, for a turn that did not complete. */
const outcome = (turn: Pick<TurnView, "status" | "error">, followed: FollowedTurn) =>
  turn.status === "completed" ? undefined : `The turn ${turn.status}${turn.error || followed.error ? `: ${turn.error ?? followed.error}` : ""}`;

export async function askAgent(ctx: AskContext, p: Principal, a: { agentId: string; content: string; sessionId?: string | undefined }, extra: Extra): Promise<CallToolResult> {
  const s = ctx.services;
  const sessionId = a.sessionId ?? (await s.sessions.create(p, a.agentId, { title: titleOf(a.content) })).id;
  const { turn } = await s.turns.start(p, a.agentId, sessionId, { content: a.content });
  const call = currentCall();
  if (call) call.turnId = turn.id;
  const send = progressSender(extra);
  let followed: FollowedTurn;
  try {
    followed = await follow(ctx, extra, turn.id, send);
  } catch (err) {
    if (ctx.cancelledByClient(extra.requestId)) await s.turns.cancel(p, a.agentId, sessionId, turn.id).catch(() => {});
    throw err;
  }
  return agentAnswer(await s.turns.get(p, a.agentId, sessionId, turn.id), followed);
}

/** ask_agent's result for a turn that ended (here, or on a resume on any node: resume-stream.ts). */
export function agentAnswer(ended: Pick<TurnView, "id" | "session_id" | "status" | "error">, followed: FollowedTurn): CallToolResult {
  const answer = followed.answer;
  const failure = outcome(ended, followed);
  const structuredContent = { sessionId: ended.session_id, turnId: ended.id, answer };
  if (failure) return { isError: true, content: [{ type: "text", text: answer ? `${answer}\n\n(${failure})` : failure }], structuredContent };
  return { content: [{ type: "text", text: answer }], structuredContent };
}

export async function askGroup(
  ctx: AskContext,
  p: Principal,
  a: { groupId: string; content: string; strategy?: (typeof STRATEGIES)[number] | undefined; conversationId?: string | undefined },
  extra: Extra,
): Promise<CallToolResult> {
  const s = ctx.services;
  const sessionId = a.conversationId ?? (await s.conversations.create(p, a.groupId, { title: titleOf(a.content) })).id;
  const { ask } = await s.conversations.ask(p, a.groupId, sessionId, { content: a.content, ...(a.strategy ? { strategy: a.strategy } : {}) });
  const send = progressSender(extra);
  const several = ask.agents.length > 1;
  let answers;
  try {
    answers = await Promise.all(
      ask.agents
        .filter((x): x is typeof x & { turnId: string } => x.turnId !== null)
        .map(async ({ agentId, turnId }) => {
          const followed = await follow(ctx, extra, turnId, (text, seq) => send(several ? `${agentId}: ${text}` : text, seq));
          const ended = await s.conversations.getTurn(p, a.groupId, sessionId, turnId);
          return { agentId, sessionId, turnId, status: ended.status, answer: followed.answer, ...(outcome(ended, followed) ? { error: outcome(ended, followed) } : {}) };
        }),
    );
  } catch (err) {
    if (ctx.cancelledByClient(extra.requestId)) await s.conversations.cancelAsk(p, a.groupId, sessionId, ask.id).catch(() => {});
    throw err;
  }
  const text = answers.map((x) => (several ? `${x.agentId}: ${x.answer || x.error || ""}` : x.answer || x.error || "")).join("\n\n");
  const structuredContent = { sessionId, askId: ask.id, answers };
  return { ...(answers.every((x) => x.status !== "completed") ? { isError: true } : {}), content: [{ type: "text", text }], structuredContent };
}
