/**
 * Groups live, across two hub processes: members receive group:session and the shared
 * sessions' messages; membership follows group changes and the token's claims.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { appendMessage, makeAgent, makeKey, makeSession, uniq } from "../support/factories.js";
import { useCluster } from "../support/cluster.js";
import { ackProblem } from "../support/problem.js";
import type { Client } from "../support/sockets.js";

const SRE = "google-workspace/sre@example.com";
const cluster = useCluster();
const { open } = cluster;
let alice: Api;

beforeAll(async () => {
  alice = api(cluster.a.url, await cluster.ws.token("alice"));
});

async function groupWithSession(body: Record<string, unknown>) {
  const [a1, a2] = [await makeAgent(alice, uniq("a")), await makeAgent(alice, uniq("b"))];
  const group = await alice.post("/api/groups", { name: uniq("group"), agentIds: [a1, a2], ...body });
  expect(group.status).toBe(201);
  const session = await makeSession(alice, a1);
  const key = api(cluster.a.url, await makeKey(alice, a1, ["sessions:write"]));
  return { groupId: group.body.id as string, a1, a2, sessionId: session.id as string, key };
}

const seqs = (c: Client, sessionId: string) =>
  c.of("session:message").filter((m) => m.sessionId === sessionId).map((m) => m.message.seq);

describe("groups live", () => {
  it("tells members on another node when a session is added or removed, and streams its messages to them", async () => {
    const { groupId, a1, sessionId, key } = await groupWithSession({ allowed_users: ["Bob@Example.com"], allowed_groups: [SRE] });
    const bob = await open(cluster.b.url, await cluster.ws.token("bob"));
    const sam = await open(cluster.b.url, await cluster.ws.token("sam", { groups: [SRE] }));
    const carol = await open(cluster.b.url, await cluster.ws.token("carol"));

    expect((await alice.post(`/api/groups/${groupId}/sessions/${sessionId}`)).status).toBe(201);
    for (const c of [bob, sam]) {
      await c.until(() => c.of("group:session").length === 1, "group:session added");
      expect(c.of("group:session")[0]).toEqual({ groupId, action: "added", sessionId });
    }
    await appendMessage(key, a1, sessionId, { content: "for the group" });
    for (const c of [bob, sam]) await c.until(() => seqs(c, sessionId).length === 1, "shared session message");

    expect((await alice.delete(`/api/groups/${groupId}/sessions/${sessionId}`)).status).toBe(204);
    for (const c of [bob, sam]) await c.until(() => c.of("group:session").length === 2, "group:session removed");
    expect(bob.of("group:session")[1]).toEqual({ groupId, action: "removed", sessionId });
    expect(carol.of("group:session")).toEqual([]);
    expect(carol.of("session:message")).toEqual([]);
  });

  it("lets a member watch a shared session with since, and stops it when they leave the group", async () => {
    const { groupId, a1, a2, sessionId, key } = await groupWithSession({ allowed_users: ["dave@example.com"] });
    await alice.post(`/api/groups/${groupId}/sessions/${sessionId}`);
    await appendMessage(key, a1, sessionId, { content: "one" });
    const dave = await open(cluster.b.url, await cluster.ws.token("dave"));
    const ack = await dave.emitAck("session:watch", { sessionId, since: 0 });
    expect(ack).toMatchObject({ ok: true });
    expect(ack.missed.map((m: { seq: number }) => m.seq)).toEqual([1]);

    // A second group keeps Dave, as a sentinel: same publisher, same ordered path to node B.
    const keep = await groupWithSession({ allowed_users: ["dave@example.com"] });
    await alice.post(`/api/groups/${keep.groupId}/sessions/${keep.sessionId}`);

    // Dave is dropped from the first group: his watch of its session ends at once.
    const put = await alice.put(`/api/groups/${groupId}`, { name: "renamed", agentIds: [a1, a2], allowed_users: [] });
    expect(put.status).toBe(200);
    await appendMessage(key, a1, sessionId, { content: "two" });
    await appendMessage(keep.key, keep.a1, keep.sessionId, { content: "sentinel" });
    await dave.until(() => seqs(dave, keep.sessionId).length === 1, "sentinel");
    expect(seqs(dave, sessionId)).toEqual([]);
    expect(await dave.emitAck("session:watch", { sessionId })).toEqual(ackProblem("not-found"));
  });

  it("tells members each shared session left when the group is deleted", async () => {
    const { groupId, sessionId } = await groupWithSession({ allowed_users: ["gina@example.com"] });
    await alice.post(`/api/groups/${groupId}/sessions/${sessionId}`);
    const gina = await open(cluster.b.url, await cluster.ws.token("gina"));
    expect((await alice.delete(`/api/groups/${groupId}`)).status).toBe(204);
    // (The "added" notice may still reach her socket if it was in flight when she connected.)
    await gina.until(() => gina.of("group:session").some((e) => e.action === "removed"), "removed notice");
    expect(gina.of("group:session").filter((e) => e.action === "removed")).toEqual([{ groupId, action: "removed", sessionId }]);
  });

  it("joins a user who becomes a member to the group's room live", async () => {
    const { groupId, a1, a2, sessionId } = await groupWithSession({ allowed_users: [] });
    const erin = await open(cluster.b.url, await cluster.ws.token("erin"));
    await alice.put(`/api/groups/${groupId}`, { name: "with erin", agentIds: [a1, a2], allowed_users: ["erin@example.com"] });
    await alice.post(`/api/groups/${groupId}/sessions/${sessionId}`);
    await erin.until(() => erin.of("group:session").length === 1, "group:session after joining");
  });
});
