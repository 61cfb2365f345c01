/**
 * Access held by live sockets has a bounded age: changes made behind the event bus's back (as
 * if the node had missed their events) still take effect at the next re-check. Here the
 * changes are written to Postgres directly, so no event announces them.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { appendMessage, makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { connect } from "../support/sockets.js";

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
    const bob = await connect(hub.url, bobToken);
    const session = await makeSession(alice, agents[0]!);
    expect((await alice.post(`/api/groups/${group.id}/sessions/${session.id}`)).status).toBe(201);
    await bob.until(() => bob.of("group:session").length === 1, "group:session while a member");

    // Bob is dropped from the group behind the bus's back: after a re-check he hears nothing more.
    await hub.db("groups").where({ id: group.id }).update({ allowed_users: JSON.stringify([]) });
    await new Promise((r) => setTimeout(r, 2500));
    await appendMessage(alice, agents[0]!, session.id, { content: "members only" });
    const other = await makeSession(alice, agents[0]!);
    expect((await alice.post(`/api/groups/${group.id}/sessions/${other.id}`)).status).toBe(201);
    await new Promise((r) => setTimeout(r, 500));
    expect(bob.of("group:session")).toHaveLength(1);
    expect(bob.of("session:message")).toEqual([]);

    // An agent subscribed behind the bus's back starts receiving the channel at its head.
    const key = await makeKey(alice, agents[1]!, ["channels:read", "channels:publish"]);
    const agentSocket = await connect(hub.url, key);
    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    await hub.db("team_channel_subscriptions").insert({ channel_id: channelId, workspace_id: hub.ws.id, agent_id: agents[1] });
    await new Promise((r) => setTimeout(r, 2500));
    const sent = await api(hub.url, key).post(`/team-channels/${channelId}/messages`, { id: randomUUID(), agentId: agents[1], message: "now you hear me" });
    expect(sent.status).toBe(201);
    await agentSocket.until(() => agentSocket.of("channel:message").length === 1, "channel message after the re-check");
    for (const c of [bob, agentSocket]) c.close();
  });
});
