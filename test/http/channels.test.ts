import { beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../support/api.js";
import { makeAgent, makeKey, uniq, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const hub = useHub({ redis: false });
let alice: Api;
let bob: Api;
let master: Api;
let agentId: string;
let agentKey: Api;

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
  master = hub.anon.as(hub.ws.masterKey);
  agentId = await makeAgent(alice, uniq("ops"));
  agentKey = hub.anon.as(await makeKey(alice, agentId, ["channels:read", "channels:publish"]));
});

const channel = async (client: Api = alice, name = uniq("chan")) => {
  const res = await client.post("/team-channels", { name, description: "coordination" });
  expect(res.status).toBe(201);
  return res.body.id as string;
};

describe("team channels", () => {
  it("creates a channel in the documented shape, and refuses a duplicate name", async () => {
    const name = uniq("incident");
    const res = await alice.post("/team-channels", { name, description: "Real-time incident coordination" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ch_/),
      workspaceId: hub.ws.id,
      name,
      description: "Real-time incident coordination",
      subscribers: [],
      messageCount: 0,
      createdAt: expect.stringMatching(/Z$/),
    });
    expectProblem(await bob.post("/team-channels", { name }), "conflict");
    expect((await hub.anon.as(hub.other.masterKey).post("/team-channels", { name })).status).toBe(201);
  });

  it("serves the same API under /api/team-channels", async () => {
    const id = await channel();
    expect((await alice.get(`/api/team-channels/${id}`)).body.id).toBe(id);
  });

  it("validates bodies", async () => {
    expectProblem(await alice.post("/team-channels", { name: "" }), "validation", { fields: ["name"] });
  });

  it("pages the channel list by name", async () => {
    for (let i = 0; i < 3; i++) await channel();
    const all = (await alice.get("/team-channels?limit=200")).body;
    expect(all.nextCursor).toBeNull();
    const paged: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { channels: Array<{ id: string }>; nextCursor: string | null } = (await alice.get(`/team-channels?limit=2&cursor=${cursor}`)).body;
      expect(page.channels.length).toBeLessThanOrEqual(2);
      paged.push(...page.channels.map((c) => c.id));
      cursor = page.nextCursor;
    }
    expect(paged).toEqual(all.channels.map((c: { id: string }) => c.id));
    expectProblem(await alice.get("/team-channels?cursor=nonsense"), "validation", { fields: ["cursor"] });
  });

  it("lists, gets and deletes, hiding other workspaces", async () => {
    const id = await channel();
    expect((await bob.get("/team-channels")).body.channels.map((c: { id: string }) => c.id)).toContain(id);
    expectProblem(await hub.anon.as(hub.other.masterKey).get(`/team-channels/${id}`), "not-found");
    expect((await hub.anon.as(hub.other.masterKey).get("/team-channels")).body.channels.map((c: { id: string }) => c.id)).not.toContain(id);
    expectProblem(await bob.delete(`/team-channels/${id}`), "forbidden");
    expectProblem(await agentKey.delete(`/team-channels/${id}`), "forbidden");
    expect((await alice.delete(`/team-channels/${id}`)).status).toBe(204);
    expectProblem(await alice.get(`/team-channels/${id}`), "not-found");
    const again = await channel();
    expect((await master.delete(`/team-channels/${again}`)).status).toBe(204);
  });

  it("subscribes and unsubscribes agents, idempotently", async () => {
    const id = await channel();
    const sub = await alice.post(`/team-channels/${id}/subscribe`, { agentId });
    expect(sub.status).toBe(200);
    expect(sub.body.subscribers).toEqual([agentId]);
    expect((await alice.post(`/team-channels/${id}/subscribe`, { agentId })).body.subscribers).toEqual([agentId]);
    const unsub = await agentKey.post(`/team-channels/${id}/unsubscribe`, { agentId });
    expect(unsub.status).toBe(200);
    expect(unsub.body.subscribers).toEqual([]);
  });

  it("refuses to subscribe agents the caller does not act for", async () => {
    const id = await channel();
    const others = await makeAgent(alice, uniq("other"));
    expectProblem(await agentKey.post(`/team-channels/${id}/subscribe`, { agentId: others }), "forbidden");
    expectProblem(await bob.post(`/team-channels/${id}/subscribe`, { agentId }), "forbidden");
    expectProblem(await alice.post(`/team-channels/${id}/subscribe`, { agentId: uniq("ghost") }), "validation", { fields: ["agentId"] });
    expectProblem(await alice.post(`/team-channels/${id}/subscribe`, {}), "validation", { fields: ["agentId"] });
  });

  it("broadcasts with metadata and gap-free seqs, and keeps messageCount true", async () => {
    const id = await channel();
    const first = await agentKey.post(`/team-channels/${id}/messages`, {
      agentId,
      message: "CPU usage exceeded 90% on prod-3",
      metadata: { severity: "high", host: "prod-3" },
    });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      channelId: id,
      agentId,
      message: "CPU usage exceeded 90% on prod-3",
      metadata: { severity: "high", host: "prod-3" },
      seq: 1,
      createdAt: expect.stringMatching(/Z$/),
    });
    const second = await alice.post(`/team-channels/${id}/messages`, { agentId, message: "ack" });
    expect(second.body).toMatchObject({ seq: 2, metadata: null });
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(2);
  });

  it("gives gap-free seqs under concurrent publishes", async () => {
    const id = await channel();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => agentKey.post(`/team-channels/${id}/messages`, { agentId, message: `m${i}` })),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(results.map((r) => r.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(30);
  });

  it("is idempotent on a client-chosen id, and answers 409 for another body", async () => {
    const id = await channel();
    const msgId = "4b7f7e0c-2f3a-4d8e-9a51-0c8d2b1e6f10";
    const first = await agentKey.post(`/team-channels/${id}/messages`, { id: msgId, agentId, message: "once" });
    expect(first.status).toBe(201);
    const again = await agentKey.post(`/team-channels/${id}/messages`, { id: msgId, agentId, message: "once" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expectProblem(await agentKey.post(`/team-channels/${id}/messages`, { id: msgId, agentId, message: "twice" }), "conflict");
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(1);
  });

  it("accepts any 8-4-4-4-12 hex id, answered in lower case", async () => {
    const id = await channel();
    const res = await agentKey.post(`/team-channels/${id}/messages`, { id: "11111111-1111-1111-1111-11111111ABCD", agentId, message: "x" });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe("11111111-1111-1111-1111-11111111abcd");
  });

  it("resolves concurrent retries of one client id to one message", async () => {
    const id = await channel();
    const msgId = "0d1f3c2e-5b6a-4c7d-8e9f-a0b1c2d3e4f5";
    const results = await Promise.all(
      Array.from({ length: 10 }, () => agentKey.post(`/team-channels/${id}/messages`, { id: msgId, agentId, message: "same" })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.seq))).toEqual(new Set([1]));
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(1);
  });

  it("lets an agent key speak only as its own agent, and only with channels:publish", async () => {
    const id = await channel();
    const others = await makeAgent(alice, uniq("other"));
    expectProblem(await agentKey.post(`/team-channels/${id}/messages`, { agentId: others, message: "spoof" }), "forbidden");
    const readOnly = hub.anon.as(await makeKey(alice, agentId, ["channels:read"]));
    expectProblem(await readOnly.post(`/team-channels/${id}/messages`, { agentId, message: "no scope" }), "forbidden");
    const noChannels = hub.anon.as(await makeKey(alice, agentId, ["sessions:read"]));
    expectProblem(await noChannels.get(`/team-channels/${id}/messages`), "forbidden");
    expectProblem(await bob.post(`/team-channels/${id}/messages`, { agentId, message: "not my agent" }), "forbidden");
    expectProblem(await hub.anon.as(hub.other.masterKey).post(`/team-channels/${id}/messages`, { agentId, message: "x" }), "not-found");
    const foreignAgent = await makeAgent(hub.anon.as(hub.other.masterKey), uniq("foreign"));
    const foreignKey = hub.anon.as(await makeKey(hub.anon.as(hub.other.masterKey), foreignAgent, ["channels:publish"]));
    expectProblem(await foreignKey.post(`/team-channels/${id}/messages`, { agentId: foreignAgent, message: "x" }), "not-found");
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(0);
  });

  it("validates broadcasts and stores nothing", async () => {
    const id = await channel();
    expectProblem(await alice.post(`/team-channels/${id}/messages`, { agentId, message: "" }), "validation", { fields: ["message"] });
    expectProblem(await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x", metadata: [1] }), "validation", { fields: ["metadata"] });
    expectProblem(await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x", id: "not-a-uuid" }), "validation", { fields: ["id"] });
    expectProblem(await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x".repeat(300 * 1024) }), "validation", { fields: ["message"] });
    // Each part under the bound, together over it: bounded once, as a whole.
    const halves = { agentId, message: "x".repeat(200 * 1024), metadata: { note: "y".repeat(100 * 1024) } };
    expectProblem(await alice.post(`/team-channels/${id}/messages`, halves), "validation", { fields: ["message"], detail: /together are \d+ bytes; at most 262144/ });
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(0);
  });

  it("serves history with since (ISO or ms) and limit (default 50, capped at 200)", async () => {
    const id = await channel();
    for (let i = 1; i <= 60; i++) await agentKey.post(`/team-channels/${id}/messages`, { agentId, message: `m${i}` });
    const recent = await agentKey.get(`/team-channels/${id}/messages`);
    expect(recent.status).toBe(200);
    expect(recent.body.messages).toHaveLength(50);
    expect(recent.body.messages[0].seq).toBe(11);
    expect(recent.body.messages[49].seq).toBe(60);

    const capped = await alice.get(`/team-channels/${id}/messages?limit=500&since=0`);
    expect(capped.body.messages).toHaveLength(60);
    expect((await alice.get(`/team-channels/${id}/messages?limit=5&since=0`)).body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5]);

    const tenth = recent.body.messages.find((m: { seq: number }) => m.seq === 40);
    const sinceIso = await alice.get(`/team-channels/${id}/messages?since=${encodeURIComponent(tenth.createdAt)}&limit=200`);
    expect(sinceIso.body.messages.every((m: { createdAt: string }) => m.createdAt > tenth.createdAt)).toBe(true);
    const sinceMs = await alice.get(`/team-channels/${id}/messages?since=${Date.parse(tenth.createdAt)}&limit=200`);
    expect(sinceMs.body.messages.map((m: { seq: number }) => m.seq)).toEqual(sinceIso.body.messages.map((m: { seq: number }) => m.seq));

    const paged = await alice.get(`/team-channels/${id}/messages?since=0&limit=25`);
    expect(paged.body.nextCursor).toEqual(expect.any(String));
    const next = await alice.get(`/team-channels/${id}/messages?cursor=${paged.body.nextCursor}&limit=200`);
    expect(next.body.messages[0].seq).toBe(26);
    expect(next.body.nextCursor).toBeNull();

    expectProblem(await alice.get(`/team-channels/${id}/messages?since=yesterday`), "validation", { fields: ["since"] });
    expectProblem(await alice.get(`/team-channels/${id}/messages?limit=0`), "validation", { fields: ["limit"] });
  });

  it("answers 401 without a credential", async () => {
    expectProblem(await hub.anon.get("/team-channels"), "unauthorized");
    expectProblem(await hub.anon.post("/team-channels", { name: "x" }), "unauthorized");
  });

  it("drops subscriptions when the agent is deleted", async () => {
    const id = await channel();
    const temp = await makeAgent(alice, uniq("temp"));
    await alice.post(`/team-channels/${id}/subscribe`, { agentId: temp });
    await alice.delete(`/api/agents/${temp}`);
    expect((await alice.get(`/team-channels/${id}`)).body.subscribers).toEqual([]);
    void userId;
  });
});
