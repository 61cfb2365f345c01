/**
 * Access held by live sockets has a bounded age: changes made behind the event bus's back (as
 * if the node had missed their events) still take effect at the next re-check. Here the
 * changes are written to Postgres directly, so no event announces them.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { appendMessage, makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { connect, type Client } from "../support/sockets.js";

const hub = useHub({ env: { SOCKET_RECHECK_MS: "1000" } });

describe("re-checking live sockets", () => {
  it("closes the socket of a key revoked without an event", async () => {
    const admin = hub.anon.as(hub.ws.masterKey);
    const agentId = await makeAgent(admin, uniq("agent"));
    const key = await makeKey(admin, agentId, ["channels:read"]);
    const socket = await connect(hub.url, key);
    await hub.db("api_keys").where({ agent_id: agentId }).update({ revoked_at: new Date() });
    await socket.until(() => socket.of("disconnect").length > 0, "disconnect", 5000);
    expect(socket.of("hub:closing")).toEqual([{ reason: "key revoked" }]);
  });

  it("follows group membership and channel subscriptions changed without an event", async () => {
    const alice = hub.anon.as(await hub.ws.token("alice"));
    const agents = [await makeAgent(alice, uniq("a")), await makeAgent(alice, uniq("b"))];
    const bobToken = await hub.ws.token("bob");
    const group = (await alice.post("/api/groups", { name: uniq("g"), agentIds: agents, allowed_users: ["bob@example.com"] })).body;
    // Bob stays in this one: what it tells him later proves that what came before was routed.
    const kept = (await alice.post("/api/groups", { name: uniq("g"), agentIds: agents, allowed_users: ["bob@example.com"] })).body;
    const rechecks = await sentinels(alice, 4);
    const bob = await connect(hub.url, bobToken);
    const session = await makeSession(alice, agents[0]!);
    expect((await alice.post(`/api/groups/${group.id}/sessions/${session.id}`)).status).toBe(201);
    await bob.until(() => bob.of("group:session").length === 1, "group:session while a member");

    // Bob is dropped from the group behind the bus's back: after a re-check he hears nothing more.
    await hub.db("groups").where({ id: group.id }).update({ allowed_users: JSON.stringify([]) });
    await rechecks.passed();
    await appendMessage(alice, agents[0]!, session.id, { content: "members only" });
    const other = await makeSession(alice, agents[0]!);
    expect((await alice.post(`/api/groups/${group.id}/sessions/${other.id}`)).status).toBe(201);
    // Events are routed one after another: once this later one reaches Bob, the two above would have.
    const marker = await makeSession(alice, agents[0]!);
    expect((await alice.post(`/api/groups/${kept.id}/sessions/${marker.id}`)).status).toBe(201);
    await bob.until(() => bob.of("group:session").some((e) => e.sessionId === marker.id), "group:session of the group Bob is still in");
    expect(bob.of("group:session").map((e) => e.sessionId)).toEqual([session.id, marker.id]);
    expect(bob.of("session:message")).toEqual([]);

    // An agent subscribed behind the bus's back starts receiving the channel at its head.
    const key = await makeKey(alice, agents[1]!, ["channels:read", "channels:publish"]);
    const agentSocket = await connect(hub.url, key);
    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    await hub.db("team_channel_subscriptions").insert({ channel_id: channelId, workspace_id: hub.ws.id, agent_id: agents[1] });
    await rechecks.passed();
    const sent = await api(hub.url, key).post(`/team-channels/${channelId}/messages`, { id: randomUUID(), agentId: agents[1], message: "now you hear me" });
    expect(sent.status).toBe(201);
    await agentSocket.until(() => agentSocket.of("channel:message").length === 1, "channel message after the re-check");
    for (const c of [bob, agentSocket]) c.close();
  });
});

/**
 * Proof that a periodic re-check ran after a write, without guessing how long that takes. Each
 * sentinel is a socket whose key the test revokes behind the bus's back, so only a sweep closes
 * it. `passed()` revokes one and awaits its closing: that sweep read Postgres after the write.
 * It then revokes a second: the sweep that closes it began after the first had finished (sweeps
 * never overlap), so the first sweep's whole re-check (groups, subscriptions) is done. The
 * sentinels connect up front, so the check a socket gets when it connects is long over.
 */
async function sentinels(owner: Api, count: number): Promise<{ passed(): Promise<void> }> {
  const agentId = await makeAgent(owner, uniq("sentinel"));
  const left: Array<{ socket: Client; keyId: string }> = [];
  for (let i = 0; i < count; i++) {
    const { key, id } = (await owner.post(`/api/agents/${agentId}/keys`, { scopes: ["channels:read"] })).body;
    left.push({ socket: await connect(hub.url, key), keyId: id });
  }
  const revokeOne = async () => {
    const sentinel = left.shift();
    if (!sentinel) throw new Error("no sentinel left: make more");
    await hub.db("api_keys").where({ id: sentinel.keyId }).update({ revoked_at: new Date() });
    await sentinel.socket.until(() => sentinel.socket.of("hub:closing").length > 0, "a re-check to close a revoked sentinel", 10_000);
  };
  return {
    async passed() {
      await revokeOne();
      await revokeOne();
    },
  };
}
