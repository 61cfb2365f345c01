/**
 * Resuming after a disconnect: a client hands its positions in the handshake (`auth.since`) and
 * gets what it missed, then live, in order, each once; a watch never re-sends what the socket
 * was already sent live; replays are bounded in bytes as well as in count.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { AgentPrincipal } from "../../src/auth/principal.js";
import { api } from "../support/api.js";
import { makeAgent, makeKey, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { connect, connectError, type Client } from "../support/sockets.js";

const hub = useHub({ env: { MESSAGE_MAX_BYTES: "300kb" } });

async function subscribedAgent() {
  const admin = hub.anon.as(hub.ws.masterKey);
  const agentId = await makeAgent(admin, uniq("agent"));
  const key = await makeKey(admin, agentId, ["channels:read", "channels:publish"]);
  const channelId = (await admin.post("/team-channels", { name: uniq("chan") })).body.id as string;
  expect((await admin.post(`/team-channels/${channelId}/subscribe`, { agentId })).status).toBe(200);
  const me = (await api(hub.url, key).get("/api/me")).body;
  const principal: AgentPrincipal = { kind: "agent", workspaceId: hub.ws.id, agentId, keyId: me.key_id, scopes: ["channels:read", "channels:publish"] };
  /** Publishes in process (fast); the event still goes through Redis like any other. */
  const publish = async (n: number, body = (i: number) => `m${i}`) => {
    const seqs = [];
    for (let i = 0; i < n; i++) seqs.push((await hub.services.channels.publish(principal, channelId, { agentId, message: body(i), id: randomUUID() })).message.seq);
    return seqs;
  };
  return { agentId, key, channelId, publish };
}

const seqsOf = (c: Client, channelId: string) => c.of("channel:message").filter((m) => m.channelId === channelId).map((m) => m.seq as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("resuming with auth.since", () => {
  it("replays what a subscribed agent missed before anything live, across replay pages, each once and in order", async () => {
    const { key, channelId, publish } = await subscribedAgent();
    await publish(5);
    const missed = await publish(700); // more than one replay page
    // Reconnect from seq 5 while more messages are published: live ones must wait for the replay.
    const client = await connect(hub.url, key, { since: { channels: { [channelId]: 5 } } });
    const live = await publish(20);
    const last = live[live.length - 1]!;
    await client.until(() => seqsOf(client, channelId).length >= last - 5, "replay and live", 20_000);
    expect(seqsOf(client, channelId)).toEqual(range(6, last));
    expect(missed[missed.length - 1]).toBeLessThan(live[0]!);
    client.close();
  });

  it("resumes a channel the socket is not subscribed to as a watch would, if it may read it", async () => {
    const { channelId, publish } = await subscribedAgent();
    await publish(3);
    const user = await connect(hub.url, await hub.ws.token(uniq("reader")), { since: { channels: { [channelId]: 1 } } });
    await user.until(() => seqsOf(user, channelId).length === 2, "missed");
    await publish(1);
    await user.until(() => seqsOf(user, channelId).length === 3, "live");
    expect(seqsOf(user, channelId)).toEqual([2, 3, 4]);
    // A stream the socket may not read is left alone: no error, nothing delivered.
    const outsider = await connect(hub.url, await hub.other.token(uniq("outsider")), { since: { channels: { [channelId]: 0 } } });
    await publish(1);
    await user.until(() => seqsOf(user, channelId).length === 4, "live");
    expect(seqsOf(outsider, channelId)).toEqual([]);
    user.close();
    outsider.close();
  });

  it("refuses a malformed auth.since with a reason", async () => {
    const { key, channelId } = await subscribedAgent();
    expect(await connectError(hub.url, key, { since: { channels: { [channelId]: -1 } } })).toMatch(/^invalid auth\.since: /);
    expect(await connectError(hub.url, key, { since: { channels: { [channelId]: 2 ** 31 } } })).toMatch(/^invalid auth\.since: /);
    expect(await connectError(hub.url, key, { since: { rooms: {} } })).toMatch(/^invalid auth\.since: /);
  });
});

describe("watching after live delivery", () => {
  it("never re-sends what the socket was already sent live: the ack leaves it out", async () => {
    const { key, channelId, publish } = await subscribedAgent();
    await publish(300);
    // The client was away for 301..304; it reconnects without auth.since, is joined at head 304,
    // and is sent 305 live before its watch from 300 arrives.
    await publish(4);
    const client = await connect(hub.url, key);
    await publish(1);
    await client.until(() => seqsOf(client, channelId).includes(305), "live 305");
    const ack = await client.emitAck("channel:watch", { channelId, since: 300 });
    expect(ack).toEqual({ ok: true, missed: range(301, 304).map((seq) => expect.objectContaining({ seq })) });
    await publish(1);
    await client.until(() => seqsOf(client, channelId).includes(306), "live 306");
    const all = [...seqsOf(client, channelId), ...ack.missed.map((m: { seq: number }) => m.seq)].sort((a, b) => a - b);
    expect(all).toEqual(range(301, 306));
    client.close();
  });

  it("lets a subscribed agent watch its own channel from any seq, with or without since", async () => {
    const { key, channelId, publish } = await subscribedAgent();
    await publish(3);
    const client = await connect(hub.url, key);
    expect(await client.emitAck("channel:watch", { channelId, since: 0 })).toEqual({ ok: true, missed: range(1, 3).map((seq) => expect.objectContaining({ seq })) });
    expect(await client.emitAck("channel:watch", { channelId })).toEqual({ ok: true, missed: [] });
    await publish(1);
    await client.until(() => seqsOf(client, channelId).includes(4), "live 4");
    expect(seqsOf(client, channelId)).toEqual([4]);
    client.close();
  });

  it("bounds a watch ack in bytes as well as count, with more: true", async () => {
    const { channelId, publish } = await subscribedAgent();
    await publish(5, () => "x".repeat(250 * 1024));
    const user = await connect(hub.url, await hub.ws.token(uniq("pager")));
    const first = await user.emitAck("channel:watch", { channelId, since: 0 });
    expect(first.missed.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(first.more).toBe(true);
    const second = await user.emitAck("channel:watch", { channelId, since: 4 });
    expect(second).toEqual({ ok: true, missed: [expect.objectContaining({ seq: 5 })] });
    user.close();
  });
});
