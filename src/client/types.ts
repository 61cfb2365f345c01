/**
 * The types of agenthub's public surface, for the client: request bodies are the zod schemas'
 * input types (http/routes/<family>/schema.ts, the ones the hub validates
 * with), responses the types the hub presents (src/domain), and the Socket.IO events in both
 * directions. Type-only imports: none
 * of the server's code is loaded by the client.
 */
import type { z } from "zod";
import type * as A from "../http/routes/agents/schema.js";
import type * as C from "../http/routes/channels/schema.js";
import type * as G from "../http/routes/groups/schema.js";
import type * as K from "../http/routes/knowledge/schema.js";
import type * as Se from "../http/routes/sessions/schema.js";
import type * as Ap from "../domain/approvals/schema.js";
import type { ApprovalView } from "../domain/approvals/repository.js";
import type { AgentView, AgentWithSecret } from "../domain/agents/service.js";
import type { EndpointCheck } from "../domain/agents/endpoint-check.js";
import type { AskView } from "../domain/asks/repository.js";
import type { TeamMember } from "../domain/agents/repository.js";
import type { ChannelMessageView, ChannelView } from "../domain/channels/service.js";
import type { GroupView } from "../domain/groups/service.js";
import type { GroupSessionView } from "../domain/groups/repository.js";
import type { ApiKeyView, MasterKeyView } from "../domain/keys/repository.js";
import type { KnowledgeView } from "../domain/knowledge/service.js";
import type { MessageView } from "../domain/sessions/messages.js";
import type { SearchHit, SessionView } from "../domain/sessions/service.js";
import type { ShareLinkView, SharedSessionView } from "../domain/sharing/service.js";
import type { TurnView } from "../domain/turns/repository.js";
import type { AgentEvent, TurnSnapshot } from "../domain/turns/events.js";
import type { WorkspaceMember } from "../domain/workspaces/service.js";

// ---- request bodies: what the hub's schemas accept ----------------------------------------------

export type CreateAgentBody = z.input<typeof A.CreateAgent>;
export type UpdateAgentBody = z.input<typeof A.UpdateAgent>;
export type AddMemberBody = z.input<typeof A.AddMember>;
export type CreateKeyBody = z.input<typeof A.CreateKey>;
export type CreateMasterKeyBody = z.input<typeof A.CreateMasterKey>;
export type CreateSessionBody = z.input<typeof Se.CreateSession>;
/** GET /api/sessions/search */
export type SessionSearchQuery = { q: string; limit?: number; cursor?: string };
export type SessionSearchPage = { results: SearchHit[]; next_cursor: string | null };
export type AppendMessageBody = z.input<typeof Se.AppendMessage>;
export type StartTurnBody = z.input<typeof Se.StartTurn>;
export type CreateShareBody = z.input<typeof Se.CreateShare>;
export type GroupBody = z.input<typeof G.GroupBody>;
export type CreateChannelBody = z.input<typeof C.CreateChannel>;
export type PublishBody = z.input<ReturnType<typeof C.publishSchema>>;
export type CreateKnowledgeBody = z.input<typeof K.CreateKnowledge>;
export type CreateConversationBody = z.input<typeof G.CreateConversation>;
export type AskBody = z.input<typeof G.AskBody>;
export type DecideApprovalBody = z.input<typeof Ap.Decide>;

/** `?limit=&cursor=`, as numbers and strings (the hub reads them from the query string). */
export interface PageQuery {
  limit?: number;
  cursor?: string;
}
/** `since`: ISO 8601, Unix milliseconds, or a Date. */
export type Since = string | number | Date;
export interface SessionListQuery extends PageQuery {
  since?: Since;
}
export interface MessagesQuery extends PageQuery {
  since?: Since;
  /** Only messages after this seq (instead of `cursor`). */
  after_seq?: number;
}
export interface ChannelHistoryQuery extends PageQuery {
  since?: Since;
}
export interface ApprovalsQuery extends PageQuery {
  /** Default `pending`. */
  status?: ApprovalStatus;
}

// ---- responses: what the hub presents -------------------------------------------------------------

export type Agent = AgentView;
export type { AgentWithSecret, EndpointCheck, TeamMember, WorkspaceMember, TurnSnapshot };
export type Session = SessionView;
export type Message = MessageView;
export type Turn = TurnView;
export type Channel = ChannelView;
export type ChannelMessage = ChannelMessageView;
export type Group = GroupView;
export type GroupSession = GroupSessionView;
export type AgentKey = ApiKeyView;
export type MasterKey = MasterKeyView;
export type ShareLink = ShareLinkView;
export type SharedSession = SharedSessionView;
export type Knowledge = KnowledgeView;

export type SessionPage = { sessions: Session[]; next_cursor: string | null };
export type MessagePage = { messages: Message[]; next_cursor: string | null };

/** GET /api/me */
export type Me =
  | { kind: "user"; workspace_id: string; user_id: number; sub: string; email: string; name: string; groups: string[]; role: string | null; admin: boolean; expires_at: string }
  | { kind: "master"; workspace_id: string; key_id: string }
  | { kind: "agent"; workspace_id: string; agent_id: string; key_id: string; scopes: string[] };

/** A key as created: the secret `key` is shown only in this answer. */
export type CreatedAgentKey = AgentKey & { key: string };
export type CreatedMasterKey = MasterKey & { key: string };

/** POST …/turns without streaming: the stored user message and the started turn. */
export interface StartedTurn {
  turn: Turn;
  message: Message;
}
/** GET …/turns/{turnId}: the turn with the answer so far. */
export type TurnWithSnapshot = Turn & { seq: number; snapshot: TurnSnapshot; approvals: Approval[] };

/**
 * What an agent's turn asked people, with every decision so far (contract: "People in the
 * loop: approvals"). In the public share view `assignees` is null and decisions carry no
 * `user_id` or `name`.
 */
export type Approval = ApprovalView;
export type ApprovalStatus = ApprovalView["status"];
export type ApprovalDecision = ApprovalView["decisions"][number];
/** An approval in the pending list: `group_id` names the group of a group's conversation. */
export type ListedApproval = Approval & { group_id: string | null };
export type ApprovalPage = { approvals: ListedApproval[]; next_cursor: string | null };

/** An ask of a group conversation (contract: "Group conversations"). */
export type Ask = AskView;

// ---- realtime: the Socket.IO events -----------------------------------------------------------------

/** An event of a turn as watchers receive it (validated by the hub, defaults applied). */
export type TurnEvent = AgentEvent;
/** An event as an agent sends it (defaults such as `role` may be left out). */
export type OutgoingAgentEvent = z.input<typeof AgentEvent>;

/** A problem as an ack's `error` carries it (as REST's problem+json). */
export interface AckProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

export type OkAck = { ok: true } | { ok: false; error: AckProblem };

/** A running turn as a `session:watch` ack carries it: render `snapshot`, then the events after `seq`. */
export interface RunningTurn {
  turn: Turn;
  seq: number;
  snapshot: TurnSnapshot;
  /** What the turn asked people (pending while it waits), oldest first. */
  approvals?: Approval[];
}

export type WatchAck<M> = { ok: true; missed: M[]; more?: true; turns?: RunningTurn[] } | { ok: false; error: AckProblem };

/** What a serving agent socket is asked to answer. */
export interface TurnRequest {
  turnId: string;
  sessionId: string;
  /** The id the answer will be stored under. */
  messageId: string;
  /** The user's message that triggered the turn. */
  message: { id: string; role: string; content: unknown };
  /** The session's last 50 messages before the trigger, oldest first. */
  history: Message[];
}

export interface ServerToClientEvents {
  "channel:message": (message: ChannelMessage) => void;
  "session:message": (payload: { sessionId: string; message: Message }) => void;
  "session:updated": (payload: { sessionId: string; change: "renamed" | "archived" | "restored" | "deleted"; session: Session }) => void;
  "group:session": (payload: { groupId: string; action: "added" | "removed"; sessionId: string }) => void;
  /** A group the person belongs to (or belonged to) was made, changed, deleted, or they joined or left it. */
  "group:updated": (payload: { groupId: string; action: "created" | "changed" | "deleted" | "joined" | "left" }) => void;
  /** The workspace's channels changed: one was made or deleted, or an agent (un)subscribed. */
  "channel:updated": (payload: { channelId: string; action: "created" | "deleted" | "subscribed" | "unsubscribed" }) => void;
  "turn:started": (payload: { sessionId: string; turn: Turn }) => void;
  "turn:event": (payload: { sessionId: string; turnId: string; seq: number; event: TurnEvent }) => void;
  "turn:ended": (payload: { sessionId: string; turn: Turn }) => void;
  "ask:updated": (payload: { groupId: string; ask: Ask }) => void;
  /** An approval asked, decided on, or settled (approved, rejected, expired, cancelled). */
  "turn:approval": (payload: { sessionId: string; turnId: string; approval: Approval }) => void;
  "turn:request": (payload: TurnRequest) => void;
  "turn:cancel": (payload: { turnId: string }) => void;
  /** Sent just before the hub closes the socket on purpose (revoked, expired, slow, abusive). */
  "hub:closing": (payload: { reason: string }) => void;
}

export interface ClientToServerEvents {
  "session:watch": (payload: { sessionId: string; since?: number }, ack: (answer: WatchAck<Message>) => void) => void;
  "session:unwatch": (payload: { sessionId: string }, ack: (answer: OkAck) => void) => void;
  "channel:watch": (payload: { channelId: string; since?: number }, ack: (answer: WatchAck<ChannelMessage>) => void) => void;
  "channel:unwatch": (payload: { channelId: string }, ack: (answer: OkAck) => void) => void;
  "agent:serve": (payload: Record<string, never>, ack: (answer: OkAck) => void) => void;
  "agent:event": (payload: { turnId: string; event: OutgoingAgentEvent }) => void;
}

/** `auth.since` of the handshake: the positions to resume from, by stream. */
export interface HandshakeSince {
  channels?: Record<string, number>;
  sessions?: Record<string, number>;
}
