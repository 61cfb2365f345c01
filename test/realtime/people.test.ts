/**
 * Issue 27 live, across two hub processes: a person's channel post reaches teammates on the
 * other node; `group:updated` and `channel:updated` reach whom they concern and no one else;
 * an automatic title arrives as `session:updated renamed`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { appendMessage, makeAgent, makeKey, makeSession, makeWorkspace, uniq, userId } from "../support/factories.js";
import { useCluster } from "../support/cluster.js";

const cluster = useCluster();
const { open } = cluster;
let alice: Api;

beforeAll(async () => {
  alice = api(cluster.a.url, await cluster.ws.token("alice", { name: "Alice Liddell" }));
});

describe("people and live directories across nodes", () => {
  it("delivers a person's channel post, with who wrote it, to a teammate and a subscribed agent on the other node", async () => {
    const agentId = await makeAgent(alice, uniq("ops"));
    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    expect((await alice.post(`/team-channels/${channelId}/subscribe`, { agentId })).status).toBe(200);
    const bob = await open(cluster.b.url, await cluster.ws.token("bob"));
    expect(await bob.emitAck("channel:watch", { channelId, since: 0 })).toMatchObject({ ok: true });
    const agent = await open(cluster.b.url, await makeKey(alice, agentId, ["channels:read"]));

    const posted = await alice.post(`/team-channels/${channelId}/messages`, { message: "Deploy is paused" });
    expect(posted.status).toBe(201);
    for (const c of [bob, agent]) await c.until(() => c.of("channel:message").length === 1, "the person's post");
    expect(bob.of("channel:message")[0]).toEqual(posted.body);
    expect(agent.of("channel:message")[0]).toMatchObject({ agentId: null, userId: await userId(alice), userName: "Alice Liddell", message: "Deploy is paused" });
  });

  it("tells members on the other node of a group's creation, changes, joins, leaves and deletion, and no one else", async () => {
    const agents = [await makeAgent(alice, uniq("a")), await makeAgent(alice, uniq("b"))];
    const bob = await open(cluster.b.url, await cluster.ws.token("bob"));
    const carol = await open(cluster.b.url, await cluster.ws.token("carol"));
    const dan = await open(cluster.b.url, await cluster.ws.token("dan"));
    const creator = await open(cluster.b.url, await cluster.ws.token("alice", { name: "Alice Liddell" }));
    const updates = (c: typeof bob, groupId: string) => c.of("group:updated").filter((e) => e.groupId === groupId).map((e) => e.action);

    const made = await alice.post("/api/groups", { name: uniq("g"), agentIds: agents, allowed_users: ["bob@example.com"] });
    expect(made.status).toBe(201);
    const groupId = made.body.id as string;
    const put = (allowed: string[]) => alice.put(`/api/groups/${groupId}`, { name: uniq("g"), agentIds: agents, allowed_users: allowed }).then((r) => expect(r.status).toBe(200));

    await put(["bob@example.com"]);
    await put(["bob@example.com", "carol@example.com"]);
    await put(["carol@example.com"]);
    expect((await alice.delete(`/api/groups/${groupId}`)).status).toBe(204);

    await carol.until(() => updates(carol, groupId).includes("deleted"), "carol told of the deletion");
    await creator.until(() => updates(creator, groupId).includes("deleted"), "the creator told of the deletion");
    await bob.until(() => updates(bob, groupId).length === 4, "bob's four updates");
    expect(updates(bob, groupId)).toEqual(["created", "changed", "changed", "left"]);
    expect(updates(carol, groupId)).toEqual(["joined", "changed", "deleted"]);
    expect(updates(creator, groupId)).toEqual(["created", "changed", "changed", "changed", "deleted"]);
    expect(updates(dan, groupId)).toEqual([]);
  });

  it("tells the workspace's people on the other node that channels changed; not another workspace, not agent sockets", async () => {
    const agentId = await makeAgent(alice, uniq("ops"));
    const bob = await open(cluster.b.url, await cluster.ws.token("bob"));
    const agent = await open(cluster.b.url, await makeKey(alice, agentId, ["channels:read"]));
    const other = await makeWorkspace(cluster.db);
    const stranger = await open(cluster.b.url, await other.token("mallory"));

    const channelId = (await alice.post("/team-channels", { name: uniq("chan") })).body.id as string;
    await alice.post(`/team-channels/${channelId}/subscribe`, { agentId });
    await alice.post(`/team-channels/${channelId}/unsubscribe`, { agentId });
    expect((await alice.delete(`/team-channels/${channelId}`)).status).toBe(204);
    // A sentinel for the stranger: a channel of their own workspace, made after all that.
    const theirs = (await api(cluster.a.url, other.masterKey).post("/team-channels", { name: uniq("theirs") })).body.id as string;

    await bob.until(() => bob.of("channel:updated").some((e) => e.action === "deleted"), "bob told of the deletion");
    expect(bob.of("channel:updated")).toEqual(["created", "subscribed", "unsubscribed", "deleted"].map((action) => ({ channelId, action })));
    await stranger.until(() => stranger.of("channel:updated").length > 0, "the stranger's own channel");
    expect(stranger.of("channel:updated")).toEqual([{ channelId: theirs, action: "created" }]);
    expect(agent.of("channel:updated")).toEqual([]);
  });

  it("sends the automatic title as session:updated renamed to the owner on the other node", async () => {
    const agentId = await makeAgent(alice, uniq("ops"));
    const watcher = await open(cluster.b.url, await cluster.ws.token("alice", { name: "Alice Liddell" }));
    const session = await makeSession(alice, agentId);
    await appendMessage(alice, agentId, session.id, { role: "user", content: "Where are the runbooks?\nThanks" });
    await watcher.until(() => watcher.of("session:updated").some((e) => e.sessionId === session.id), "renamed");
    expect(watcher.of("session:updated").find((e) => e.sessionId === session.id)).toMatchObject({
      change: "renamed",
      session: { id: session.id, title: "Where are the runbooks?" },
    });
  });
});
