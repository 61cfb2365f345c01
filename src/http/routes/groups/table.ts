/**
 * Routes of the groups family ("Groups" and "Group conversations: ask the group" in the
 * contract). Who belongs to a group: domain/groups/policy.ts; who may use a conversation:
 * domain/asks/policy.ts (over the session rule). Each handler makes one service call: the
 * conversation use cases load and check the conversation themselves (domain/asks/service.ts).
 */
import { PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { T, ex } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";
import * as Sessions from "../sessions/schema.js";
import * as S from "./schema.js";

const MEMBER = "groups/policy.ts loadGroupFor(read): the group's members";
const OWNER = "groups/policy.ts loadGroupFor(write): its creator or the master key";
const conversation = { ...ex.session, agent_id: null, group_id: "grp_1a2b3c" };
const askExample = { id: "ask_1a2b3c", group_id: "grp_1a2b3c", session_id: "ses_4d1b2c", message_id: ex.userMessage.id, strategy: "mentions", status: "running", agents: [{ agentId: "logs-agent", turnId: "turn_9a8b7c", status: "queued" }], ignored_mentions: [], created_at: T, ended_at: null };

export function groupsTable(s: Services): Route[] {
  return [
    route({
      method: "get", path: "/api/groups", operationId: "listGroups", tag: "Groups", summary: "Groups the caller belongs to",
      security: ANY, policy: MEMBER, query: PageQuery,
      answer: { status: 200, description: "`{groups, next_cursor}`", schema: S.GroupPage, example: { groups: [ex.group], next_cursor: null } },
      handle: ({ principal, query }) => s.groups.list(principal, query),
    }),
    route({
      method: "post", path: "/api/groups", operationId: "createGroup", tag: "Groups", summary: "Create a group of agents",
      security: ANY, policy: "groups/policy.ts: creating a group over agents the caller may use",
      body: S.GroupBody, bodyExample: { name: "On-call", agentIds: ["logs-agent", "metrics-agent"], allowed_users: ["bob@example.com"] },
      answer: { status: 201, description: "The group", schema: S.Group, example: ex.group },
      handle: ({ principal, body }) => s.groups.create(principal, body),
    }),
    route({
      method: "get", path: "/api/groups/{groupId}", operationId: "getGroup", tag: "Groups", summary: "Get a group",
      security: ANY, policy: MEMBER, answer: { status: 200, description: "The group", schema: S.Group, example: ex.group },
      handle: ({ principal, params }) => s.groups.get(principal, params.groupId!),
    }),
    route({
      method: "put", path: "/api/groups/{groupId}", operationId: "replaceGroup", tag: "Groups", summary: "Replace a group (creator or master key)",
      security: ANY, policy: OWNER, body: S.GroupBody, bodyExample: { name: "On-call", agentIds: ["logs-agent", "metrics-agent"] },
      answer: { status: 200, description: "The group", schema: S.Group, example: ex.group },
      handle: ({ principal, params, body }) => s.groups.replace(principal, params.groupId!, body),
    }),
    route({
      method: "delete", path: "/api/groups/{groupId}", operationId: "deleteGroup", tag: "Groups", summary: "Delete a group (creator or master key)",
      security: ANY, policy: OWNER, answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.groups.remove(principal, params.groupId!),
    }),
    route({
      method: "get", path: "/api/groups/{groupId}/sessions", operationId: "listGroupSessions", tag: "Groups", summary: "Sessions shared in the group",
      security: ANY, policy: MEMBER, query: PageQuery,
      answer: { status: 200, description: "`{sessions, next_cursor}`", schema: Sessions.SessionPage, example: { sessions: [ex.session], next_cursor: null } },
      handle: ({ principal, params, query }) => s.groups.sessions(principal, params.groupId!, query),
    }),
    route({
      method: "post", path: "/api/groups/{groupId}/sessions/{sessionId}", operationId: "shareSessionInGroup", tag: "Groups", summary: "Share a session in the group",
      security: ANY, policy: "groups/policy.ts: a member, over the session's share rule (sessions/policy.ts)",
      answer: { status: 201, description: "The group session", schema: S.GroupSession, example: { group_id: "grp_1a2b3c", session_id: "ses_4d1b2c", added_by: 1, added_at: T } },
      handle: ({ principal, params }) => s.groups.addSession(principal, params.groupId!, params.sessionId!),
    }),
    route({
      method: "delete", path: "/api/groups/{groupId}/sessions/{sessionId}", operationId: "unshareSessionInGroup", tag: "Groups", summary: "Stop sharing a session in the group",
      security: ANY, policy: "groups/policy.ts: removing a session from a group", answer: { status: 204, description: "Removed" },
      handle: ({ principal, params }) => s.groups.removeSession(principal, params.groupId!, params.sessionId!),
    }),
    ...conversationsTable(s),
  ];
}

function conversationsTable(s: Services): Route[] {
  const base = "/api/groups/{groupId}/conversations";
  const one = `${base}/{sessionId}`;
  const tag = "Group conversations";
  const READ = "asks/policy.ts loadConversationFor(read): the group's members, over the session rule";
  const APPEND = "asks/policy.ts loadConversationFor(append)";
  return [
    route({
      method: "post", path: base, operationId: "createConversation", tag, summary: "Start a conversation of the group (any member)",
      security: ANY, policy: MEMBER, body: S.CreateConversation, bodyExample: { title: "Why is db-2 slow?" },
      answer: { status: 201, description: "The conversation: a session with `agent_id: null` and `group_id`", schema: Sessions.Session, example: { ...conversation, message_count: 0, last_message_at: null } },
      handle: ({ principal, params, body }) => s.conversations.create(principal, params.groupId!, body),
    }),
    route({
      method: "get", path: base, operationId: "listConversations", tag, summary: "The group's conversations",
      security: ANY, policy: MEMBER, query: PageQuery,
      answer: { status: 200, description: "`{sessions, next_cursor}`", schema: Sessions.SessionPage, example: { sessions: [conversation], next_cursor: null } },
      handle: ({ principal, params, query }) => s.conversations.list(principal, params.groupId!, query),
    }),
    route({
      method: "get", path: one, operationId: "getConversation", tag, summary: "Get a conversation",
      security: ANY, policy: READ, answer: { status: 200, description: "The conversation", schema: Sessions.Session, example: conversation },
      handle: ({ principal, params }) => s.conversations.get(principal, params.groupId!, params.sessionId!),
    }),
    route({
      method: "patch", path: one, operationId: "renameConversation", tag, summary: "Rename a conversation",
      security: ANY, policy: "asks/policy.ts loadConversationFor(write)", body: Sessions.RenameSession, bodyExample: { title: "db-2 latency" },
      answer: { status: 204, description: "Renamed" },
      handle: ({ principal, params, body }) => s.conversations.rename(principal, params.groupId!, params.sessionId!, body.title),
    }),
    route({
      method: "delete", path: one, operationId: "deleteConversation", tag, summary: "Delete a conversation",
      security: ANY, policy: "asks/policy.ts loadConversationFor(write)", answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.conversations.remove(principal, params.groupId!, params.sessionId!),
    }),
    route({
      method: "get", path: `${one}/messages`, operationId: "listConversationMessages", tag, summary: "The conversation's messages, oldest first (answers carry `agentId`)",
      security: ANY, policy: READ, query: Sessions.MessagesQuery,
      answer: { status: 200, description: "`{messages, next_cursor}`", schema: Sessions.MessagePage, example: { messages: [ex.userMessage, { ...ex.answer, agentId: "logs-agent" }], next_cursor: null } },
      handle: ({ principal, params, query }) => s.conversations.messages(principal, params.groupId!, params.sessionId!, query),
    }),
    route({
      method: "post", path: `${one}/ask`, operationId: "ask", tag, summary: "Ask the group: the chosen agents answer, each in a turn",
      description: "`strategy`: `mentions` (agents named `@agent-id`; the default when any is named), `all` (the default otherwise), `match`, `first`, `round_robin`; `agentIds` narrows the roster. One ask at a time per conversation (409).",
      security: ANY, policy: APPEND, errors: [409], body: S.AskBody, bodyExample: { content: "@logs-agent why is db-2 slow?", strategy: "mentions" },
      answer: { status: 202, description: "`{ask, message}`", schema: S.StartedAsk, example: { ask: askExample, message: ex.userMessage } },
      handle: ({ principal, params, body }) => s.conversations.ask(principal, params.groupId!, params.sessionId!, body),
    }),
    route({
      method: "get", path: `${one}/asks/{askId}`, operationId: "getAsk", tag, summary: "Get an ask",
      security: ANY, policy: READ, answer: { status: 200, description: "The ask", schema: S.Ask, example: askExample },
      handle: ({ principal, params }) => s.conversations.getAsk(principal, params.groupId!, params.sessionId!, params.askId!),
    }),
    route({
      method: "post", path: `${one}/asks/{askId}/cancel`, operationId: "cancelAsk", tag, summary: "Cancel an ask (its running turns)",
      security: ANY, policy: APPEND, answer: { status: 202, description: "The ask", schema: S.Ask },
      handle: ({ principal, params }) => s.conversations.cancelAsk(principal, params.groupId!, params.sessionId!, params.askId!),
    }),
    route({
      method: "get", path: `${one}/turns/{turnId}`, operationId: "getConversationTurn", tag, summary: "A turn of the conversation, with `seq` and `snapshot`",
      security: ANY, policy: READ, answer: { status: 200, description: "The turn with `seq` and `snapshot`", schema: Sessions.TurnWithSnapshot },
      handle: ({ principal, params }) => s.conversations.getTurn(principal, params.groupId!, params.sessionId!, params.turnId!),
    }),
    route({
      method: "post", path: `${one}/share`, operationId: "shareConversation", tag, summary: "Create a share link for the conversation",
      security: ANY, policy: "asks/policy.ts loadConversationFor(share)", body: Sessions.CreateShare, bodyExample: { expires_in_hours: 24 },
      answer: { status: 201, description: "`{token, url, expires_at}`", schema: Sessions.ShareLink },
      handle: ({ principal, params, body }) => s.conversations.share(principal, params.groupId!, params.sessionId!, body.expires_in_hours),
    }),
    route({
      method: "delete", path: `${one}/share`, operationId: "revokeConversationShare", tag, summary: "Revoke the conversation's share links",
      security: ANY, policy: READ, answer: { status: 204, description: "Revoked" },
      handle: ({ principal, params }) => s.conversations.revokeShare(principal, params.groupId!, params.sessionId!),
    }),
  ];
}
