/**
 * The event router (src/realtime/router.ts) without processes: committed events in, what this
 * node's sockets get out. Sockets and stream delivery are small fakes that record what they are
 * asked to do; who receives what comes from the real domain policies.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { AgentPrincipal, Principal, UserPrincipal } from "../../src/auth/principal.js";
import type { DomainEvent } from "../../src/domain/events.js";
import type { HubSocket } from "../../src/realtime/protocol.js";
import { rooms } from "../../src/realtime/rooms.js";
import { EventRouter, type RouterDeps } from "../../src/realtime/router.js";
import { groupUpdateFor } from "../../src/domain/groups/policy.js";

const WS = "ws_1";
const user = (userId: number, extra: Partial<UserPrincipal> = {}): UserPrincipal => ({
  kind: "user",
  workspaceId: WS,
  userId,
  sub: `u${userId}`,
  email: `u${userId}@example.com`,
  name: `u${userId}`,
  groups: [],
  role: undefined,
  admin: false,
  emailVerified: true,
  expiresAt: new Date(Date.now() + 3_600_000),
  ...extra,
});
const agentKey = (agentId: string, scopes: AgentPrincipal["scopes"], keyId = `key-${agentId}`): AgentPrincipal => ({
  kind: "agent",
  workspaceId: WS,
  agentId,
  keyId,
  scopes,
});

function setup() {
  const all: HubSocket[] = [];
  const calls: string[] = [];
  const socket = (id: string, principal: Principal, inRooms: string[]) => {
    const s = {
      id,
      data: { principal, streams: new Map() },
      rooms: new Set(inRooms),
      join: (r: string) => void s.rooms.add(r),
      leave: (r: string) => void s.rooms.delete(r),
    } as unknown as HubSocket;
    all.push(s);
    return s;
  };
  let recheck: () => Promise<void> = async () => {};
  const deps: RouterDeps = {
    sockets: {
      in: (...names) => all.filter((s) => names.some((n) => s.rooms.has(n))),
      emit: (names, event, payload) => calls.push(`emit ${event} -> ${names.join(",")} ${JSON.stringify(payload)}`),
      emitTo: (targets, event) => calls.push(`emitTo ${event} -> ${targets.map((t) => t.id).join(",")}`),
      close: (s, reason) => calls.push(`close ${s.id}: ${reason}`),
    },
    delivery: {
      offer: (kind, id, seq, _m, names, admits) => {
        const only = admits ? ` only ${all.filter((s) => names.some((n) => s.rooms.has(n)) && admits(s)).map((s) => s.id).join(",")}` : "";
        calls.push(`offer ${kind}:${id}#${seq} -> ${names.join(",")}${only}`);
      },
      joinChannels: (s, heads) => calls.push(`join ${s.id} ${heads.map((h) => `${h.id}@${h.head}`).join(",")}`),
      leave: (s, kind, id) => calls.push(`leave ${s.id} ${kind}:${id}`),
      leaveSubscribed: (s, id) => calls.push(`leaveSubscribed ${s.id} ${id}`),
      recheckSessions: async (sockets, agentId) => {
        await recheck();
        calls.push(`recheck ${sockets.map((s) => s.id).join(",")}${agentId ? ` of ${agentId}` : ""}`);
      },
    },
    turns: {
      received: (turnId, item) => calls.push(`received ${turnId} ${item.kind}`),
      cancelRequested: (turnId) => calls.push(`cancel requested ${turnId}`),
      approvalChanged: (turnId, a) => calls.push(`approval ${turnId} ${a.status}`),
    },
    log: pino({ level: "silent" }),
  };
  const router = new EventRouter(deps);
  const route = async (...events: DomainEvent[]) => {
    for (const e of events) router.enqueue(e);
    await router.idle();
  };
  return { socket, calls, route, setRecheck: (fn: () => Promise<void>) => (recheck = fn), router };
}

const channelMessage = (seq: number): DomainEvent => ({ type: "channel.message", workspaceId: WS, channelId: "ch_1", seq, message: { seq } });

describe("event router", () => {
  it("offers channel messages to the channel's room, back in seq order", async () => {
    const { calls, route, router } = setup();
    await route(channelMessage(1), channelMessage(3), channelMessage(2));
    expect(calls).toEqual(["offer channel:ch_1#1 -> c:ch_1", "offer channel:ch_1#2 -> c:ch_1", "offer channel:ch_1#3 -> c:ch_1"]);
    router.close();
  });

  it("offers a session message to its watchers, its agent's reading keys, the owner and the sharing groups", async () => {
    const { calls, route, router } = setup();
    await route({
      type: "session.message_appended",
      workspaceId: WS,
      agentId: "helper",
      sessionId: "ses_1",
      seq: 1,
      message: {},
      audience: { agentId: "helper", ownerUserId: 7, groupIds: ["grp_1", "grp_2"] },
    });
    const expected = [rooms.session("ses_1"), rooms.agentSessions(WS, "helper"), rooms.user(WS, 7), rooms.group("grp_1"), rooms.group("grp_2")];
    expect(calls).toEqual([`offer session:ses_1#1 -> ${expected.join(",")}`]);
    router.close();
  });

  it("leaves the owner out once they are off the agent's team (audience without owner)", async () => {
    const { calls, route, router } = setup();
    await route({
      type: "session.updated",
      workspaceId: WS,
      agentId: "helper",
      sessionId: "ses_1",
      change: "renamed",
      session: { id: "ses_1" },
      audience: { agentId: "helper", ownerUserId: null, groupIds: [] },
    });
    expect(calls).toEqual([`emit session:updated -> s:ses_1,as:${WS}:helper {"sessionId":"ses_1","change":"renamed","session":{"id":"ses_1"}}`]);
    router.close();
  });

  it("makes watchers leave a deleted session", async () => {
    const { socket, calls, route, router } = setup();
    socket("w1", user(1), [rooms.session("ses_1")]);
    await route({ type: "session.updated", workspaceId: WS, agentId: "a", sessionId: "ses_1", change: "deleted", session: {}, audience: { agentId: "a", ownerUserId: null, groupIds: [] } });
    expect(calls.slice(1)).toEqual(["leave w1 session:ses_1"]);
    router.close();
  });

  it("joins a new subscription only on the agent's sockets whose key may read channels", async () => {
    const { socket, calls, route, router } = setup();
    socket("reader", agentKey("bot", ["channels:read"]), [rooms.agent(WS, "bot")]);
    socket("publisher-only", agentKey("bot", ["channels:publish"], "key-2"), [rooms.agent(WS, "bot")]);
    socket("other-agent", agentKey("other", ["channels:read"]), [rooms.agent(WS, "other")]);
    await route({ type: "channel.subscribed", workspaceId: WS, channelId: "ch_9", agentId: "bot", head: 4 });
    expect(calls).toEqual(["join reader ch_9@4"]);
    await route({ type: "channel.unsubscribed", workspaceId: WS, channelId: "ch_9", agentId: "bot" });
    expect(calls.slice(1)).toEqual(["leaveSubscribed reader ch_9", "leaveSubscribed publisher-only ch_9"]);
    router.close();
  });

  it("follows group membership from the committed rules: members join, leavers leave and are re-checked", async () => {
    const { socket, calls, route, router } = setup();
    const room = rooms.group("grp_1");
    const erin = socket("erin", user(1, { email: "Erin@Example.com" }), [rooms.workspaceUsers(WS)]);
    const sre = socket("sre", user(2, { groups: ["sre"] }), [rooms.workspaceUsers(WS), room]);
    const carol = socket("carol", user(3), [rooms.workspaceUsers(WS), room]);
    await route({ type: "group.updated", workspaceId: WS, groupId: "grp_1", createdBy: 9, allowedUsers: ["erin@example.com"], allowedGroups: ["sre"] });
    expect([erin, sre, carol].map((s) => s.rooms.has(room))).toEqual([true, true, false]);
    // Each is told (group:updated): erin joined, sre's group changed, carol left (groups/policy.ts groupUpdateFor).
    expect(calls).toEqual(["emitTo group:updated -> erin", "emitTo group:updated -> sre", "emitTo group:updated -> carol", "recheck carol"]);
    await route({ type: "group.deleted", workspaceId: WS, groupId: "grp_1", createdBy: null, allowedUsers: [], allowedGroups: [] });
    expect([erin, sre].map((s) => s.rooms.has(room))).toEqual([false, false]);
    expect(calls.slice(4)).toEqual(["emitTo group:updated -> erin", "emitTo group:updated -> sre", "recheck erin,sre"]);
    router.close();
  });

  it("pushes a role-bound session (RBAC) only to the sockets the read rule admits, whatever the room", async () => {
    const { socket, calls, route, router } = setup();
    const audience = { agentId: "helper", ownerUserId: 7, groupIds: ["grp_1"], roleId: "support" };
    socket("owner", user(7, { role: "support" }), [rooms.user(WS, 7)]);
    socket("same-role", user(8, { role: "support" }), [rooms.group("grp_1")]);
    socket("other-role", user(9, { role: "finance" }), [rooms.group("grp_1")]);
    socket("no-role", user(10), [rooms.group("grp_1")]);
    socket("admin", user(11, { role: "finance", admin: true }), [rooms.session("ses_1")]);
    socket("key-other-role", { ...agentKey("helper", ["sessions:read"], "k1"), role: "finance" }, [rooms.agentSessions(WS, "helper")]);
    socket("key-no-role", agentKey("helper", ["sessions:read"], "k2"), [rooms.agentSessions(WS, "helper")]);
    const admitted = "owner,same-role,admin,key-no-role";
    await route({ type: "turn.started", workspaceId: WS, agentId: "helper", sessionId: "ses_1", turn: { id: "t1" }, audience });
    await route({ type: "turn.event", workspaceId: WS, agentId: "helper", sessionId: "ses_1", turnId: "t1", seq: 1, event: {}, audience });
    await route({ type: "session.message_appended", workspaceId: WS, agentId: "helper", sessionId: "ses_1", seq: 1, message: {}, audience });
    await route({ type: "session.updated", workspaceId: WS, agentId: "helper", sessionId: "ses_1", change: "renamed", session: {}, audience });
    // A group's conversation bound to a role: its asks reach the group's members of that role only.
    await route({ type: "ask.updated", workspaceId: WS, groupId: "grp_1", sessionId: "ses_2", ask: {}, audience: { agentId: null, ownerUserId: null, groupIds: ["grp_1"], roleId: "support" } });
    // Sharing and unsharing it: only the group's members of its role hear of it.
    await route({ type: "group.session_added", workspaceId: WS, groupId: "grp_1", sessionId: "ses_1", roleId: "support" });
    await route({ type: "group.session_removed", workspaceId: WS, groupId: "grp_1", sessionId: "ses_1", roleId: "support" });
    const targets = [rooms.session("ses_1"), rooms.agentSessions(WS, "helper"), rooms.user(WS, 7), rooms.group("grp_1")].join(",");
    expect(calls.filter((c) => !c.startsWith("received"))).toEqual([
      `emitTo turn:started -> ${admitted}`,
      `offer turn:ses_1/t1#1 -> ${targets} only ${admitted}`,
      `offer session:ses_1#1 -> ${targets} only ${admitted}`,
      `emitTo session:updated -> ${admitted}`,
      "emitTo ask:updated -> same-role",
      "emitTo group:session -> same-role",
      "emitTo group:session -> same-role",
      "recheck admin",
    ]);
    router.close();
  });

  it("closes the sockets of a revoked key and of a deleted agent, with the reason", async () => {
    const { socket, calls, route, router } = setup();
    socket("k1", agentKey("bot", ["sessions:read"], "key-1"), [rooms.key("key-1"), rooms.agent(WS, "bot")]);
    socket("k2", agentKey("bot", ["sessions:read"], "key-2"), [rooms.key("key-2"), rooms.agent(WS, "bot")]);
    await route({ type: "key.revoked", workspaceId: WS, keyId: "key-1" });
    expect(calls).toEqual(["close k1: key revoked"]);
    await route({ type: "agent.deleted", workspaceId: WS, agentId: "bot" });
    expect(calls.slice(1)).toEqual(["close k1: agent deleted", "close k2: agent deleted"]);
    router.close();
  });

  it("routes strictly in order: an access re-check finishes before a later message is offered", async () => {
    const { socket, calls, route, setRecheck, router } = setup();
    socket("bob", user(5), [rooms.user(WS, 5)]);
    let release!: () => void;
    setRecheck(() => new Promise<void>((resolve) => (release = resolve)));
    const done = route({ type: "agent.member_removed", workspaceId: WS, agentId: "helper", userId: 5 }, channelMessage(1));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([]);
    release();
    await done;
    expect(calls).toEqual(["recheck bob of helper", "offer channel:ch_1#1 -> c:ch_1"]);
    router.close();
  });

  it("keeps routing after a handler fails", async () => {
    const { calls, route, setRecheck, router } = setup();
    setRecheck(() => Promise.reject(new Error("postgres is down")));
    await route({ type: "agent.member_removed", workspaceId: WS, agentId: "helper", userId: 5 }, channelMessage(1));
    expect(calls).toEqual(["offer channel:ch_1#1 -> c:ch_1"]);
    router.close();
  });
});

describe("groupUpdateFor (who is told what of a group's change)", () => {
  it("tells members after the change of creation, change and joining, and members before it of leaving and deletion", () => {
    const table = (["created", "updated", "deleted"] as const).flatMap((change) =>
      [false, true].flatMap((was) => [false, true].map((is) => `${change} ${was ? "was" : "-"} ${is ? "is" : "-"}: ${groupUpdateFor(change, was, is) ?? "nothing"}`)),
    );
    expect(table).toEqual([
      "created - -: nothing",
      "created - is: created",
      "created was -: nothing",
      "created was is: created",
      "updated - -: nothing",
      "updated - is: joined",
      "updated was -: left",
      "updated was is: changed",
      "deleted - -: nothing",
      "deleted - is: nothing",
      "deleted was -: deleted",
      "deleted was is: deleted",
    ]);
  });
});
