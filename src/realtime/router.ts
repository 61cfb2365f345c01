/**
 * Committed domain events -> this node's sockets. Every node receives every event (transport.ts)
 * and routes it to its own sockets. Events are routed strictly one after another, so an access
 * change (a removal whose re-check reads Postgres) takes effect before any message published
 * after it. Who receives what is decided by the domain policies; this only follows them.
 */
import type { Logger } from "pino";
import type { DomainEvent, SessionAudience } from "../domain/events.js";
import { belongsToGroup, groupUpdateFor } from "../domain/groups/policy.js";
import { receivesChannelUpdates, subscriptionsReceivedBy } from "../domain/channels/policy.js";
import { sessionPushedTo } from "../domain/sessions/policy.js";
import type { TurnView } from "../domain/turns/repository.js";
import { approvalForAgent, type ApprovalView } from "../domain/approvals/repository.js";
import type { TurnRuntime } from "../turns/runtime.js";
import { turnStream, type Delivery } from "./delivery.js";
import type { HubSocket, ServerToClientEvents } from "./protocol.js";
import { Reorderer } from "./reorder.js";
import { rooms, sessionRooms } from "./rooms.js";
import type { LocalSockets } from "./sockets.js";

export interface RouterDeps {
  sockets: LocalSockets;
  delivery: Pick<Delivery, "offer" | "joinChannels" | "leave" | "leaveSubscribed" | "recheckSessions">;
  /** This process's turn runtime: its feed's listeners (an SSE answer), and cancels (an HTTP call to abort). */
  turns: Pick<TurnRuntime, "received" | "cancelRequested" | "approvalChanged">;
  log: Logger;
}

export class EventRouter {
  private readonly queue: DomainEvent[] = [];
  private draining = false;
  private readonly reorder = new Reorderer();

  constructor(private readonly deps: RouterDeps) {}

  /** Routes the event after every event received before it. */
  enqueue(event: DomainEvent): void {
    this.queue.push(event);
    if (!this.draining) void this.drain();
  }

  /** Resolves once every event received so far has been routed. */
  async idle(): Promise<void> {
    while (this.draining) await new Promise((resolve) => setImmediate(resolve));
  }

  close(): void {
    this.reorder.close();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length) {
      const event = this.queue.shift()!;
      try {
        const pending = this.route(event);
        if (pending) await pending;
      } catch (err) {
        this.deps.log.error({ err, event: event.type }, "could not route event");
      }
    }
    this.draining = false;
  }

  /**
   * Sends an event about a session (not a seq-numbered stream) to the rooms' sockets on this
   * node that sessions/policy.ts pushes the session to: one room broadcast when it admits all.
   */
  private emitAdmitted<E extends keyof ServerToClientEvents>(roomNames: string[], audience: SessionAudience, event: E, payload: Parameters<ServerToClientEvents[E]>[0]): void {
    const { sockets } = this.deps;
    const admits = this.admitted(audience);
    if (!admits) sockets.emit(roomNames, event, payload);
    else sockets.emitTo(sockets.in(...roomNames).filter(admits), event, payload);
  }

  /** The socket filter for a session's stream messages, when not every socket of its rooms is pushed them. */
  private admitted(audience: SessionAudience): ((s: HubSocket) => boolean) | undefined {
    const admits = sessionPushedTo(audience);
    return admits ? (s) => admits(s.data.principal) : undefined;
  }

  /** `channel:updated` to this node's sockets of the workspace's people. */
  private channelUpdated(workspaceId: string, channelId: string, action: "created" | "deleted" | "subscribed" | "unsubscribed"): void {
    const { sockets } = this.deps;
    const targets = sockets.in(rooms.workspaceUsers(workspaceId)).filter((s) => receivesChannelUpdates(s.data.principal));
    if (targets.length) sockets.emitTo(targets, "channel:updated", { channelId, action });
  }

  /** Delivers one event to this node's sockets; awaits only when it must read Postgres. */
  private route(event: DomainEvent): Promise<void> | void {
    const { sockets, delivery } = this.deps;
    switch (event.type) {
      case "channel.message":
        // Back in seq order once per node, so sockets in order take one encoded broadcast.
        this.reorder.push(`channel:${event.channelId}`, event.seq, () =>
          delivery.offer("channel", event.channelId, event.seq, event.message, [rooms.channel(event.channelId)]),
        );
        return;
      case "channel.subscribed":
        for (const s of sockets.in(rooms.agent(event.workspaceId, event.agentId))) {
          if (subscriptionsReceivedBy(s.data.principal) === event.agentId) {
            delivery.joinChannels(s, [{ id: event.channelId, head: event.head }]);
          }
        }
        this.channelUpdated(event.workspaceId, event.channelId, "subscribed");
        return;
      case "channel.unsubscribed":
        for (const s of sockets.in(rooms.agent(event.workspaceId, event.agentId))) delivery.leaveSubscribed(s, event.channelId);
        this.channelUpdated(event.workspaceId, event.channelId, "unsubscribed");
        return;
      case "channel.created":
        this.channelUpdated(event.workspaceId, event.channelId, "created");
        return;
      case "channel.deleted":
        for (const s of sockets.in(rooms.channel(event.channelId))) delivery.leave(s, "channel", event.channelId);
        this.channelUpdated(event.workspaceId, event.channelId, "deleted");
        return;
      case "session.message_appended":
        this.reorder.push(`session:${event.sessionId}`, event.seq, () =>
          delivery.offer("session", event.sessionId, event.seq, event.message, sessionRooms(event), this.admitted(event.audience)),
        );
        return;
      case "session.updated":
        this.emitAdmitted(sessionRooms(event), event.audience, "session:updated", { sessionId: event.sessionId, change: event.change, session: event.session });
        if (event.change === "deleted") {
          for (const s of sockets.in(rooms.session(event.sessionId))) delivery.leave(s, "session", event.sessionId);
        }
        return;
      case "group.session_added":
      case "group.session_removed":
        // Only the members that role binding lets read the session hear of it.
        this.emitAdmitted([rooms.group(event.groupId)], { agentId: null, ownerUserId: null, groupIds: [event.groupId], roleId: event.roleId ?? null }, "group:session", {
          groupId: event.groupId,
          action: event.type === "group.session_added" ? "added" : "removed",
          sessionId: event.sessionId,
        });
        if (event.type === "group.session_removed") return delivery.recheckSessions(sockets.in(rooms.session(event.sessionId)));
        return;
      case "group.created":
      case "group.updated":
      case "group.deleted": {
        const room = rooms.group(event.groupId);
        const rules = { created_by: event.createdBy, allowed_users: event.allowedUsers, allowed_groups: event.allowedGroups };
        const change = event.type === "group.created" ? "created" : event.type === "group.updated" ? "updated" : "deleted";
        const left = [];
        for (const s of sockets.in(rooms.workspaceUsers(event.workspaceId))) {
          const wasMember = s.rooms.has(room);
          const isMember = event.type !== "group.deleted" && belongsToGroup(s.data.principal, rules);
          if (isMember) s.join(room);
          else if (wasMember) {
            s.leave(room);
            left.push(s);
          }
          const action = groupUpdateFor(change, wasMember, isMember);
          if (action) sockets.emitTo([s], "group:updated", { groupId: event.groupId, action });
        }
        return delivery.recheckSessions(left);
      }
      case "agent.member_removed":
        return delivery.recheckSessions(sockets.in(rooms.user(event.workspaceId, event.userId)), event.agentId);
      case "key.revoked":
        for (const s of sockets.in(rooms.key(event.keyId))) sockets.close(s, "key revoked");
        return;
      case "agent.deleted":
        for (const s of sockets.in(rooms.agent(event.workspaceId, event.agentId))) sockets.close(s, "agent deleted");
        return;
      case "agent.updated":
        return;
      case "turn.started":
        this.emitAdmitted(sessionRooms(event), event.audience, "turn:started", { sessionId: event.sessionId, turn: event.turn });
        return;
      case "turn.event": {
        const payload = { sessionId: event.sessionId, turnId: event.turnId, seq: event.seq, event: event.event };
        this.reorder.push(`turn:${event.turnId}`, event.seq, () => {
          this.deps.turns.received(event.turnId, { kind: "event", seq: event.seq, event: event.event });
          delivery.offer("turn", turnStream(event.sessionId, event.turnId), event.seq, payload, sessionRooms(event), this.admitted(event.audience));
        });
        return;
      }
      case "turn.ended": {
        const turn = event.turn as TurnView;
        const targets = sessionRooms(event);
        this.emitAdmitted(targets, event.audience, "turn:ended", { sessionId: event.sessionId, turn });
        this.deps.turns.received(turn.id, { kind: "ended", turn });
        for (const s of sockets.in(...targets)) delivery.leave(s, "turn", turnStream(event.sessionId, turn.id));
        return;
      }
      case "turn.approval": {
        // Everyone who receives the session's events, at every change; once settled, the agent's
        // serving sockets too (the one answering the turn carries on), and whoever waits here.
        const approval = event.approval as ApprovalView;
        const payload = { sessionId: event.sessionId, turnId: event.turnId, approval };
        if (approval.status === "pending") this.emitAdmitted(sessionRooms(event), event.audience, "turn:approval", payload);
        else {
          // Serving sockets once each, through Socket.IO's own path (serving.ts notes the turn as theirs).
          const serving = rooms.serving(event.workspaceId, event.agentId);
          const admits = this.admitted(event.audience);
          sockets.emitTo(sockets.in(...sessionRooms(event)).filter((s) => !s.rooms.has(serving) && (!admits || admits(s))), "turn:approval", payload);
          sockets.emit([serving], "turn:approval", { ...payload, approval: approvalForAgent(approval) });
        }
        this.deps.turns.approvalChanged(event.turnId, approval);
        return;
      }
      case "ask.updated":
        this.emitAdmitted([rooms.group(event.groupId), rooms.session(event.sessionId)], event.audience, "ask:updated", { groupId: event.groupId, ask: event.ask });
        return;
      case "turn.cancel":
        this.deps.turns.cancelRequested(event.turnId);
        sockets.emit([rooms.serving(event.workspaceId, event.agentId)], "turn:cancel", { turnId: event.turnId });
        return;
    }
  }
}
