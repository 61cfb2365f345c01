/**
 * Routes of the chat family ("The hub in the standard protocols" in the contract): an agent's
 * turns as the chat streams agent clients already read, each resumable on any node.
 * - `POST /api/agents/{agentId}/chat`: starts a turn (as `POST …/sessions/{id}/turns` does) on
 *   the named session, or on a new one, and answers it as an AG-UI event stream, or with
 *   `?format=ui-message` as the AI SDK's UI message stream. The session is in the
 *   `x-agenthub-session-id` header (and in RUN_STARTED's threadId, or the `start` chunk's
 *   messageMetadata).
 * - `GET …/sessions/{sessionId}/stream`: the rest of the session's running (or just ended) turn
 *   after `Last-Event-ID` (`<turnId>:<seq>`), or the running turn from its start without it; 204
 *   when there is nothing to resume (the AI SDK's `useChat({resume: true})` reads 204 so).
 * Who may: append to the session to chat, read it to resume (sessions/policy.ts, through the
 * services); a client that goes away does not stop the turn, a cancel does.
 */
import { isActive } from "../../../domain/turns/repository.js";
import { Forbidden, Invalid, NotFound } from "../../../errors.js";
import type { Services } from "../../../services.js";
import { aguiFormat } from "../../formats/agui.js";
import { sharelyFormat } from "../../formats/sharely.js";
import { uiMessageFormat } from "../../formats/ui-message.js";
import { ANSWERED, ANY_CREDENTIAL as ANY, Reply, route, type Route } from "../../table.js";
import { parseEventId, type StreamFormat, type TurnStreams } from "../../turn-stream.js";
import { readChat } from "./chat.js";
import * as S from "./schema.js";

const FORMATS: Record<"agui" | "ui-message" | "sharely", StreamFormat> = { agui: aguiFormat, "ui-message": uiMessageFormat, sharely: sharelyFormat };

export function chatTable(s: Services, streams: TurnStreams): Route[] {
  return [
    route({
      method: "post", path: "/api/agents/{agentId}/chat", operationId: "chatWithAgent", tag: "Protocols",
      summary: "Chat with the agent: a turn as an AG-UI event stream (or the AI SDK's UI message stream)",
      description:
        "Takes Agentgram's `{messages, session_id?}`, an AG-UI `RunAgentInput` (`threadId` = the session) or the AI SDK's `useChat` body (`id` = the session). The session must be one of this agent the caller may append to (404 otherwise); without one, a new session is made. The last user message is the turn's message. Every SSE event carries `id: <turnId>:<seq>`; resume with `GET …/sessions/{sessionId}/stream` and `Last-Event-ID`. The session id is also in the `x-agenthub-session-id` header.",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(append) (loadAgentForSessions(write) for a new session)", errors: [409],
      query: S.ChatQuery, body: S.ChatRequest,
      bodyExample: { threadId: "ses_01J9Z8Q6N2", runId: "run-1", messages: [{ id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "What can you do?" }], tools: [], state: {}, context: [], forwardedProps: {} },
      answer: { status: 200, description: "The turn as SSE: AG-UI events, or (`format=ui-message`) UI message chunks then `[DONE]`", contentType: "text/event-stream" },
      handle: async ({ principal, params, query, body, ctx }) => {
        const agentId = params.agentId!;
        const chat = readChat(body);
        const sessionId = chat.sessionId ?? (await s.sessions.create(principal, agentId, { title: chat.content.slice(0, 100) })).id;
        // A named session the caller may read but not append to is, for this contract, not one of theirs: 404, not 403.
        const { turn } = await s.turns
          .start(principal, agentId, sessionId, { content: chat.content, ...(chat.messageId ? { id: chat.messageId } : {}) })
          .catch((err: unknown) => {
            throw err instanceof Forbidden && chat.sessionId ? new NotFound("Session") : err;
          });
        ctx.set("x-agenthub-session-id", sessionId);
        await streams.answer(ctx, FORMATS[query.format], turn, -1, () => s.turns.get(principal, agentId, sessionId, turn.id));
        return ANSWERED;
      },
    }),
    route({
      method: "get", path: "/api/agents/{agentId}/sessions/{sessionId}/stream", operationId: "resumeSessionStream", tag: "Protocols",
      summary: "Resume the session's running (or just ended) turn as a stream, after `Last-Event-ID`",
      description:
        "With `Last-Event-ID: <turnId>:<seq>`: that turn's events after `seq` (then it ends); without it, the running turn from its start. 204 when there is nothing to resume. `format`: `agui` (default), `ui-message` or `sharely`. This is where `useChat({resume: true})` reconnects (point `prepareReconnectToStreamRequest` here).",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(read)", query: S.StreamQuery,
      answer: { status: 200, description: "The rest of the turn as SSE, in the format asked", contentType: "text/event-stream", also: [{ status: 204, description: "Nothing to resume" }] },
      handle: async ({ principal, params, query, ctx }) => {
        const agentId = params.agentId!;
        const sessionId = params.sessionId!;
        await s.sessions.get(principal, agentId, sessionId);
        const format = FORMATS[query.format];
        const reload = (turnId: string) => () => s.turns.get(principal, agentId, sessionId, turnId);
        const header = ctx.get("last-event-id");
        if (header) {
          const at = parseEventId(header);
          if (!at) throw Invalid.field("Last-Event-ID", "must be `<turnId>:<seq>` as the stream's `id:` lines carry it");
          const turn = await s.turns.get(principal, agentId, sessionId, at.turnId);
          if (isActive(turn.status) || at.seq < turn.seq) {
            await streams.answer(ctx, format, turn, at.seq, reload(turn.id));
            return ANSWERED;
          }
        }
        const running = (await s.turns.active(sessionId)).filter((t) => t.id !== parseEventId(header)?.turnId).at(-1);
        if (!running) return new Reply(204, undefined);
        await streams.answer(ctx, format, running, -1, reload(running.id));
        return ANSWERED;
      },
    }),
  ];
}
