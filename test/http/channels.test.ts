import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hub } from "../../src/server.js";
import { api, type Api } from "../support/api.js";
import { makeAgent, makeKey, makeWorkspace, uniq, userId, type TestWorkspace } from "../support/factories.js";
import { startTestHub } from "../support/hub.js";

let hub: Hub;
let ws: TestWorkspace;
let other: TestWorkspace;
let alice: Api;
let bob: Api;
let master: Api;
let anon: Api;
let agentId: string;
let agentKey: Api;

beforeAll(async () => {
  hub = await startTestHub({ redis: false });
  ws = await makeWorkspace(hub.db);
  other = await makeWorkspace(hub.db);
  anon = api(hub.url);
  alice = anon.as(await ws.token("alice"));
  bob = anon.as(await ws.token("bob"));
  master = anon.as(ws.masterKey);
  agentId = await makeAgent(alice, uniq("ops"));
  agentKey = anon.as(await makeKey(alice, agentId, ["channels:read", "channels:publish"]));
});
afterAll(() => hub?.close());

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
      workspaceId: ws.id,
      name,
      description: "Real-time incident coordination",
      subscribers: [],
      messageCount: 0,
      createdAt: expect.stringMatching(/Z$/),
    });
    expect((await bob.post("/team-channels", { name })).status).toBe(409);
    expect((await anon.as(other.masterKey).post("/team-channels", { name })).status).toBe(201);
  });

  it("serves the same API under /api/team-channels", async () => {
    const id = await channel();
    expect((await alice.get(`/api/team-channels/${id}`)).body.id).toBe(id);
  });

  it("validates bodies", async () => {
    const res = await alice.post("/team-channels", { name: "" });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].field).toBe("name");
  });

  it("lists, gets and deletes, hiding other workspaces", async () => {
    const id = await channel();
    expect((await bob.get("/team-channels")).body.channels.map((c: { id: string }) => c.id)).toContain(id);
    expect((await anon.as(other.masterKey).get(`/team-channels/${id}`)).status).toBe(404);
    expect((await anon.as(other.masterKey).get("/team-channels")).body.channels.map((c: { id: string }) => c.id)).not.toContain(id);
    expect((await bob.delete(`/team-channels/${id}`)).status).toBe(403);
    expect((await agentKey.delete(`/team-channels/${id}`)).status).toBe(403);
    expect((await alice.delete(`/team-channels/${id}`)).status).toBe(204);
    expect((await alice.get(`/team-channels/${id}`)).status).toBe(404);
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
    expect((await agentKey.post(`/team-channels/${id}/subscribe`, { agentId: others })).status).toBe(403);
    expect((await bob.post(`/team-channels/${id}/subscribe`, { agentId })).status).toBe(403);
    expect((await alice.post(`/team-channels/${id}/subscribe`, { agentId: uniq("ghost") })).status).toBe(422);
    expect((await alice.post(`/team-channels/${id}/subscribe`, {})).status).toBe(422);
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
    expect((await agentKey.post(`/team-channels/${id}/messages`, { id: msgId, agentId, message: "twice" })).status).toBe(409);
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
    expect((await agentKey.post(`/team-channels/${id}/messages`, { agentId: others, message: "spoof" })).status).toBe(403);
    const readOnly = anon.as(await makeKey(alice, agentId, ["channels:read"]));
    expect((await readOnly.post(`/team-channels/${id}/messages`, { agentId, message: "no scope" })).status).toBe(403);
    const noChannels = anon.as(await makeKey(alice, agentId, ["sessions:read"]));
    expect((await noChannels.get(`/team-channels/${id}/messages`)).status).toBe(403);
    expect((await bob.post(`/team-channels/${id}/messages`, { agentId, message: "not my agent" })).status).toBe(403);
    expect((await anon.as(other.masterKey).post(`/team-channels/${id}/messages`, { agentId, message: "x" })).status).toBe(404);
    const foreignAgent = await makeAgent(anon.as(other.masterKey), uniq("foreign"));
    const foreignKey = anon.as(await makeKey(anon.as(other.masterKey), foreignAgent, ["channels:publish"]));
    expect((await foreignKey.post(`/team-channels/${id}/messages`, { agentId: foreignAgent, message: "x" })).status).toBe(404);
    expect((await alice.get(`/team-channels/${id}`)).body.messageCount).toBe(0);
  });

  it("validates broadcasts and stores nothing", async () => {
    const id = await channel();
    expect((await alice.post(`/team-channels/${id}/messages`, { agentId, message: "" })).status).toBe(422);
    expect((await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x", metadata: [1] })).status).toBe(422);
    expect((await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x", id: "not-a-uuid" })).status).toBe(422);
    expect((await alice.post(`/team-channels/${id}/messages`, { agentId, message: "x".repeat(300 * 1024) })).status).toBe(422);
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

    expect((await alice.get(`/team-channels/${id}/messages?since=yesterday`)).status).toBe(422);
    expect((await alice.get(`/team-channels/${id}/messages?limit=0`)).status).toBe(422);
  });

  it("answers 401 without a credential", async () => {
    expect((await anon.get("/team-channels")).status).toBe(401);
    expect((await anon.post("/team-channels", { name: "x" })).status).toBe(401);
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
