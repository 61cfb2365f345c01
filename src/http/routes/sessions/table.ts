/**
 * Routes of the sessions family ("Sessions", "Agent turns" and "Share links" in the contract):
 * a user's sessions with an agent and their messages, the agent's turns on them, and share
 * links. Who may read, change or share a session: domain/sessions/policy.ts (loadSessionFor).
 * Starting a turn answers 202, or, when the client accepts `text/event-stream`, 200 with the
 * turn's events as SSE until `done`.
 */
import { PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { ex } from "../../examples.js";
import { streamTurn } from "../../sse.js";
import type { TurnStreams } from "../../turn-stream.js";
import { ANSWERED, ANY_CREDENTIAL as ANY, Reply, route, type Route } from "../../table.js";
import * as S from "./schema.js";

const base = "/api/agents/{agentId}/sessions";
const one = `${base}/{sessionId}`;
const READ = "sessions/policy.ts loadSessionFor(read): the owner, the agent's team, or a group it is shared in";
const WRITE = "sessions/policy.ts loadSessionFor(write): the owner (or the master key)";

export function sessionsTable(s: Services, streams: TurnStreams): Route[] {
  return [
    route({
      method: "get", path: "/api/sessions/search", operationId: "searchSessions", tag: "Sessions", summary: "Search the sessions the caller may read, by title and message content",
      description:
        "Sessions and group conversations whose title or any message's content contains `q` (any case, taken literally), newest activity first, with the first matching message. " +
        "Bounded: at most 500 candidate sessions are looked at per request, so a page may hold fewer than `limit` results and still have a `next_cursor`.",
      security: ANY, policy: "sessions/policy.ts canReadSession, for each candidate", query: S.SessionSearchQuery,
      answer: {
        status: 200, description: "`{results: [{session, match}], next_cursor}`", schema: S.SessionSearchPage,
        example: { results: [{ session: ex.session, match: { seq: 1, snippet: "Why is the disk on db-2 at 91%?" } }], next_cursor: null },
      },
      handle: ({ principal, query }) => s.sessions.search(principal, query),
    }),
    route({
      method: "post", path: base, operationId: "createSession", tag: "Sessions", summary: "Start a session with the agent",
      security: ANY, policy: "sessions/policy.ts loadAgentForSessions(write)",
      body: S.CreateSession, bodyExample: { title: "First questions" },
      answer: { status: 201, description: "The session", schema: S.Session, example: { ...ex.session, message_count: 0, last_message_at: null } },
      handle: ({ principal, params, body }) => s.sessions.create(principal, params.agentId!, body),
    }),
    route({
      method: "get", path: base, operationId: "listSessions", tag: "Sessions", summary: "The caller's sessions with the agent (not archived)",
      security: ANY, policy: READ, query: S.SessionListQuery,
      answer: { status: 200, description: "`{sessions, next_cursor}`", schema: S.SessionPage, example: { sessions: [ex.session], next_cursor: null } },
      handle: ({ principal, params, query }) => s.sessions.list(principal, params.agentId!, false, query),
    }),
    route({
      method: "get", path: `${base}/archived`, operationId: "listArchivedSessions", tag: "Sessions", summary: "Archived sessions",
      security: ANY, policy: READ, query: S.SessionListQuery,
      answer: { status: 200, description: "`{sessions, next_cursor}`", schema: S.SessionPage, example: { sessions: [{ ...ex.session, archived: true }], next_cursor: null } },
      handle: ({ principal, params, query }) => s.sessions.list(principal, params.agentId!, true, query),
    }),
    route({
      method: "delete", path: `${base}/archived`, operationId: "deleteArchivedSessions", tag: "Sessions", summary: "Delete every archived session of the caller with this agent",
      security: ANY, policy: WRITE, answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.sessions.removeArchived(principal, params.agentId!),
    }),
    route({
      method: "get", path: one, operationId: "getSession", tag: "Sessions", summary: "Get a session",
      security: ANY, policy: READ,
      answer: { status: 200, description: "The session", schema: S.Session, example: ex.session },
      handle: ({ principal, params }) => s.sessions.get(principal, params.agentId!, params.sessionId!),
    }),
    route({
      method: "patch", path: one, operationId: "renameSession", tag: "Sessions", summary: "Rename a session",
      security: ANY, policy: WRITE, body: S.RenameSession, bodyExample: { title: "Disk alerts" },
      answer: { status: 204, description: "Renamed" },
      handle: ({ principal, params, body }) => s.sessions.rename(principal, params.agentId!, params.sessionId!, body.title),
    }),
    route({
      method: "delete", path: one, operationId: "deleteSession", tag: "Sessions", summary: "Delete a session (its share links die)",
      security: ANY, policy: WRITE, answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.sessions.remove(principal, params.agentId!, params.sessionId!),
    }),
    route({
      method: "post", path: `${one}/archive`, operationId: "archiveSession", tag: "Sessions", summary: "Archive a session",
      security: ANY, policy: WRITE, answer: { status: 204, description: "Archived" },
      handle: ({ principal, params }) => s.sessions.archive(principal, params.agentId!, params.sessionId!),
    }),
    route({
      method: "post", path: `${one}/restore`, operationId: "restoreSession", tag: "Sessions", summary: "Restore an archived session",
      security: ANY, policy: WRITE, answer: { status: 204, description: "Restored" },
      handle: ({ principal, params }) => s.sessions.restore(principal, params.agentId!, params.sessionId!),
    }),
    route({
      method: "get", path: `${one}/messages`, operationId: "listMessages", tag: "Sessions", summary: "The session's messages, oldest first",
      description: "`after_seq` resumes after a seq (instead of `cursor`); `since` only messages created after that time.",
      security: ANY, policy: READ, query: S.MessagesQuery,
      answer: { status: 200, description: "`{messages, next_cursor}`", schema: S.MessagePage, example: { messages: [ex.userMessage, ex.answer], next_cursor: null } },
      handle: ({ principal, params, query }) => s.sessionMessages.list(principal, params.agentId!, params.sessionId!, query),
    }),
    route({
      method: "post", path: `${one}/messages`, operationId: "appendMessage", tag: "Sessions", summary: "Append a message (idempotent by `id`)",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(append)", errors: [409],
      body: S.AppendMessage, bodyExample: { id: "6f1c0a52-8e5b-4c7e-9a43-2b7f0d9c1e11", role: "user", content: "What can you do?" },
      answer: { status: 201, description: "The stored message (200: the same `id` and body again, no duplicate)", schema: S.Message, example: ex.userMessage, also: [{ status: 200, description: "The stored message: the same `id` and body again" }] },
      handle: async ({ principal, params, body }) => {
        const { message, created } = await s.sessionMessages.append(principal, params.agentId!, params.sessionId!, body);
        return new Reply(created ? 201 : 200, message);
      },
    }),
    ...turnRoutes(s, streams),
    ...shareRoutes(s),
  ];
}

function turnRoutes(s: Services, streams: TurnStreams): Route[] {
  const turns = `${one}/turns`;
  return [
    route({
      method: "post", path: turns, operationId: "startTurn", tag: "Turns", summary: "Start a turn: store the user's message and run the agent",
      description:
        "Answers 202 `{turn, message}`. With `Accept: text/event-stream` the answer is 200 and the turn's events as SSE (`event: <type>`, `data: {threadId, messageId, …}`) until `done`. A turn already running on the session: 409.",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(append)", errors: [409],
      body: S.StartTurn, bodyExample: { content: "What can you do?" },
      answer: { status: 202, description: "`{turn, message}` (or, with `Accept: text/event-stream`, 200 and the event stream)", schema: S.StartedTurn, stream: true, example: { turn: { ...ex.turn, status: "queued", started_at: null }, message: ex.userMessage } },
      handle: async ({ principal, params, body, ctx }) => {
        const wantsStream = ctx.accepts("application/json", "text/event-stream") === "text/event-stream";
        const started = await s.turns.start(principal, params.agentId!, params.sessionId!, body);
        if (!wantsStream) return started;
        await streamTurn(ctx, streams, started.turn, () => s.turns.get(principal, params.agentId!, params.sessionId!, started.turn.id));
        return ANSWERED;
      },
    }),
    route({
      method: "get", path: `${turns}/{turnId}`, operationId: "getTurn", tag: "Turns", summary: "A turn, with `seq` and `snapshot` (the answer so far)",
      security: ANY, policy: READ,
      answer: { status: 200, description: "The turn with `seq` and `snapshot`", schema: S.TurnWithSnapshot, example: { ...ex.turn, seq: 12, snapshot: { content: "I read ", thinking: [], toolCalls: [], sources: [], metadata: {} }, approvals: [] } },
      handle: ({ principal, params }) => s.turns.get(principal, params.agentId!, params.sessionId!, params.turnId!),
    }),
    route({
      method: "post", path: `${turns}/{turnId}/cancel`, operationId: "cancelTurn", tag: "Turns", summary: "Cancel a turn: it ends at once, keeping what arrived before the cancel",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(append)",
      answer: { status: 202, description: "The turn, already `cancelled` (or how it ended, if it ended first)", schema: S.Turn, example: { ...ex.turn, status: "cancelled" } },
      handle: ({ principal, params }) => s.turns.cancel(principal, params.agentId!, params.sessionId!, params.turnId!),
    }),
  ];
}

function shareRoutes(s: Services): Route[] {
  return [
    route({
      method: "post", path: `${one}/share`, operationId: "createShareLink", tag: "Sharing", summary: "Create a share link",
      security: ANY, policy: "sessions/policy.ts loadSessionFor(share)",
      body: S.CreateShare, bodyExample: { expires_in_hours: 24 },
      answer: { status: 201, description: "`{token, url, expires_at}`", schema: S.ShareLink, example: { token: "q3…", url: "https://hub.example.com/shared/q3…", expires_at: ex.session.created_at } },
      handle: ({ principal, params, body }) => s.shareLinks.create(principal, params.agentId!, params.sessionId!, body.expires_in_hours),
    }),
    route({
      method: "delete", path: `${one}/share`, operationId: "revokeShareLinks", tag: "Sharing", summary: "Revoke the session's share links (they die at once)",
      security: ANY, policy: "sharing/policy.ts assertCanRevokeLinks", answer: { status: 204, description: "Revoked" },
      handle: ({ principal, params }) => s.shareLinks.revoke(principal, params.agentId!, params.sessionId!),
    }),
    route({
      method: "post", path: "/api/shared/{token}/clone", operationId: "cloneShared", tag: "Sharing", summary: "Clone a shared session into a new one of the caller (a user)",
      security: ["userToken"], policy: "sharing/policy.ts: users only; the link is the credential",
      answer: { status: 201, description: "The new session", schema: S.Session, example: ex.session },
      handle: ({ principal, params }) => s.shareLinks.clone(principal, params.token!),
    }),
  ];
}

/**
 * Public: the read-only view, at /api/shared/{token} and at /shared/{token} (the path of the
 * link's url, so the link works against the hub itself). No credential: the token is one.
 */
export function sharedViewTable(s: Services): Route[] {
  return ["/api/shared/{token}", "/shared/{token}"].map((path, i) =>
    route({
      method: "get", path, operationId: i === 0 ? "sharedView" : "sharedViewAtLink", tag: "Sharing", summary: "The read-only view of a shared session (no credential)",
      description: "An expired, revoked or unknown token answers 404. Answers with `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `X-Robots-Tag: noindex`.",
      security: [], policy: "sharing/service.ts: a live link's token", errors: [404, 429], query: PageQuery,
      answer: { status: 200, description: "`{title, session, agent, messages, next_cursor, expires_at}`", schema: S.SharedSession },
      handle: ({ params, query }) => s.shareLinks.view(params.token!, query),
    }),
  );
}
