/**
 * Domain events: facts that happened, published after their transaction commits. The realtime
 * hub routes them to sockets; domain code never knows who listens.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";

export type SessionChange = "renamed" | "archived" | "restored" | "deleted";

export type DomainEvent =
  | { type: "agent.updated"; workspaceId: string; agentId: string }
  | { type: "agent.deleted"; workspaceId: string; agentId: string }
  | { type: "agent.member_removed"; workspaceId: string; agentId: string; userId: number }
  | { type: "key.revoked"; workspaceId: string; keyId: string }
  | {
      type: "session.message_appended";
      workspaceId: string;
      /** null for a group's conversation. */
      agentId: string | null;
      sessionId: string;
      seq: number;
      /** The message as the REST API presents it. */
      message: unknown;
      audience: SessionAudience;
    }
  | {
      type: "session.updated";
      workspaceId: string;
      agentId: string | null;
      sessionId: string;
      change: SessionChange;
      /** The session as the REST API presents it (as it was just before deletion, for "deleted"). */
      session: unknown;
      audience: SessionAudience;
    }
  | {
      type: "group.created" | "group.updated" | "group.deleted";
      workspaceId: string;
      groupId: string;
      /** Membership rules as committed (empty lists for "deleted"), for re-evaluating live sockets. */
      createdBy: number | null;
      allowedUsers: string[];
      allowedGroups: string[];
    }
  | {
      type: "group.session_added" | "group.session_removed";
      workspaceId: string;
      groupId: string;
      sessionId: string;
      /** The role the session is bound to while RBAC is on (as in SessionAudience): only members it admits are told. */
      roleId?: string | null;
    }
  | { type: "channel.created" | "channel.deleted"; workspaceId: string; channelId: string }
  | {
      type: "channel.subscribed";
      workspaceId: string;
      channelId: string;
      agentId: string;
      /** The channel's last seq when the subscription committed: later messages are delivered live. */
      head: number;
    }
  | { type: "channel.unsubscribed"; workspaceId: string; channelId: string; agentId: string }
  | { type: "channel.message"; workspaceId: string; channelId: string; seq: number; message: unknown }
  | { type: "turn.started" | "turn.ended"; workspaceId: string; agentId: string; sessionId: string; turn: unknown; audience: SessionAudience }
  | {
      type: "turn.event";
      workspaceId: string;
      agentId: string;
      sessionId: string;
      turnId: string;
      /** From 1 per turn, no gap: the turn log's position. */
      seq: number;
      event: unknown;
      audience: SessionAudience;
    }
  /**
   * An approval of a turn was asked, decided on by someone, or settled (CONTRACT.md, "People in
   * the loop"); `approval` as the REST API presents it. Once it is no longer pending, whoever
   * runs the turn carries on with the outcome.
   */
  | { type: "turn.approval"; workspaceId: string; agentId: string; sessionId: string; turnId: string; approval: unknown; audience: SessionAudience }
  /** An ask (group conversations) was made or one of its turns ended; `ask` as the REST API presents it. */
  | { type: "ask.updated"; workspaceId: string; groupId: string; sessionId: string; ask: unknown; audience: SessionAudience }
  /** Whoever runs the turn (an HTTP call, a serving socket) is to stop it. */
  | { type: "turn.cancel"; workspaceId: string; agentId: string; turnId: string };

/**
 * Who is pushed a session's events besides its watchers and its agent's reading keys, as
 * sessions/policy.ts decides it from the session's readers inside the mutating transaction:
 * the owner (only while on the agent's team) and the groups sharing it.
 */
export interface SessionAudience {
  /** The agent whose keys with `sessions:read` are pushed it; null for a group's conversation. */
  agentId: string | null;
  ownerUserId: number | null;
  groupIds: string[];
  /**
   * The role the session is bound to while the workspace's RBAC is on (sessions/policy.ts
   * sessionPushedTo): only sockets that role binding admits are pushed it. Absent or null: none.
   */
  roleId?: string | null;
}

export type Emit = (event: DomainEvent) => void;
export type EventHandler = (event: DomainEvent) => void;

/** In-process fan-out of committed events to their listeners (the realtime hub, tests). */
export class EventBus {
  private readonly handlers = new Set<EventHandler>();

  constructor(private readonly log?: Logger) {}

  subscribe(handler: EventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  publish(event: DomainEvent): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.log?.error({ err, event: event.type }, "event handler failed");
      }
    }
  }
}

export interface TxDeps {
  db: Knex;
  bus: EventBus;
}

/**
 * Runs `fn` in one transaction and publishes the events it emitted only after the commit.
 * A failure rolls everything back and publishes nothing. Nested work receives `trx` and
 * `emit` as arguments, so only the outermost caller publishes.
 */
export async function transact<T>(
  deps: TxDeps,
  fn: (trx: Knex.Transaction, emit: Emit) => Promise<T>,
): Promise<T> {
  const pending: DomainEvent[] = [];
  const result = await deps.db.transaction((trx) => fn(trx, (e) => pending.push(e)));
  for (const event of pending) deps.bus.publish(event);
  return result;
}
