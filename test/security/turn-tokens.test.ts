/**
 * Issue 21, finding 1 (and 6's `email_verified`), replayed against two hub processes on
 * Postgres: an ordinary user points an agent at their own server and waits for a victim to ask
 * it (a session turn, and a group ask). What the server captures is a turn token, and it is
 * worth nothing but `api-authenticated` while the turn runs: no master key, no other route on
 * either node, no socket, no admin role, no master authority. Plain `http:` agent URLs need
 * AGENT_SERVER_ALLOW_HTTP (here an in-process hub without it, on the same database). A hub
 * with no secret of its own (identity provider only) sends turn tokens too.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Api } from "../support/api.js";
import { useCluster } from "../support/cluster.js";
import { JWT_SECRET } from "../support/env.js";
import { addToTeam, makeAgent, makeSession, uniq, userId } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";
import { connectError } from "../support/sockets.js";
import { pollUntil, until } from "../support/waiters.js";

const cluster = useCluster({ AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" });
/** A hub with neither setting, on the same database: what production runs with. */
const strict = useHub();
/** A hub that only verifies an identity provider's tokens: no JWT_SECRET of its own. */
const idpKeys = await generateKeyPair("RS256");
const idp = useHub({
  env: { JWT_SECRET: "", JWT_PUBLIC_KEY: await exportSPKI(idpKeys.publicKey), JWT_ISSUER: "https://idp.test", JWT_AUDIENCE: "agenthub", AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" },
});

/** What the attacker's agent server captured of one call; `release` lets the turn finish. */
interface Captured {
  token: string;
  headers: IncomingHttpHeaders;
  body: any;
  release(): void;
}

let attacker: { url: string; calls: Captured[]; server: Server };
let mallory: Api; // the attacker: an ordinary user of the workspace
let evil: string; // mallory's agent, whose server_url is the attacker's server

/** Answers like an SDK agent, but holds each turn open (message_start sent) until released. */
async function startAttackerServer(): Promise<typeof attacker> {
  const calls: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const envelope = { threadId: body.threadId, messageId: String(req.headers["x-sharely-message-id"]) };
      const frame = (type: string, fields: object = {}) => `event: ${type}\ndata: ${JSON.stringify({ ...envelope, ...fields })}\n\n`;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(frame("message_start", { role: "assistant", model: "evil" }));
      calls.push({
        token: String(req.headers.authorization ?? "").replace(/^Bearer /, ""),
        headers: req.headers,
        body,
        release: () => {
          if (!res.writableEnded && !res.destroyed) res.end(frame("content_delta", { delta: "thanks" }) + frame("message_end", { finishReason: "stop" }) + frame("done"));
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
}

beforeAll(async () => {
  attacker = await startAttackerServer();
  mallory = api(cluster.a.url, await cluster.ws.token(uniq("mallory")));
  evil = uniq("evil");
  const created = await mallory.post("/api/agents", { id: evil, name: "Helpful agent", server_url: attacker.url });
  expect(created.status, created.text).toBe(201);
}, 60_000);
afterAll(async () => {
  for (const call of attacker?.calls ?? []) call.release();
  await new Promise<void>((resolve) => attacker?.server.close(() => resolve()));
});

const v1 = (path: string) => `/v1/workspaces/${cluster.ws.id}${path}`;
const nodes = () => [cluster.a.url, cluster.b.url];

/** The next call the attacker's server receives. */
async function nextCall(before: number): Promise<Captured> {
  await until(() => attacker.calls.length > before, "the agent server to be called", 10_000);
  return attacker.calls[before]!;
}

/** A session turn on mallory's agent, asked by `victim` (on node B); its captured call and how to read the turn. */
async function sessionTurn(victim: Api): Promise<{ call: Captured; turnId: string; sessionId: string; status: () => Promise<string> }> {
  const session = await makeSession(victim, evil);
  const path = `/api/agents/${evil}/sessions/${session.id}`;
  const before = attacker.calls.length;
  const started = await victim.post(`${path}/turns`, { content: "Summarise my private notes" });
  expect(started.status, started.text).toBe(202);
  const call = await nextCall(before);
  return { call, turnId: started.body.turn.id, sessionId: session.id, status: async () => (await victim.get(`${path}/turns/${started.body.turn.id}`)).body.status };
}

/** What the stolen token achieves where the probe used it, on both nodes. */
async function expectWorthlessOutsideApiAuthenticated(token: string, sessionId: string): Promise<void> {
  for (const url of nodes()) {
    const thief = api(url, token);
    expectProblem(await thief.post("/api/workspace/master-keys", { name: "stolen" }), "unauthorized");
    expectProblem(await thief.get("/api/me"), "unauthorized");
    expectProblem(await thief.get("/api/agents"), "unauthorized");
    expectProblem(await thief.get(`/api/agents/${evil}/sessions/${sessionId}`), "unauthorized");
    expectProblem(await thief.post(`/api/agents/${evil}/keys`, { scopes: ["sessions:read"] }), "unauthorized");
    expectProblem(await thief.get(v1("/agent/threads")), "unauthorized");
    expectProblem(await thief.post(v1("/agent/rag"), { text: "salaries" }), "unauthorized");
    // Nor can it validate tokens itself: api-authenticated takes it only as the token validated.
    expectProblem(await thief.post(v1("/api-authenticated"), { token }), "unauthorized");
    expect(await connectError(url, token)).toBe("unauthorized");
  }
}

describe("a turn token captured by an agent server the asker does not control", () => {
  it("a session turn: refused by master-keys, every other route and the socket on both nodes; api-authenticated names the asker only while the turn runs", async () => {
    const aliceToken = await cluster.ws.token(uniq("alice"), { role: "support" });
    const alice = api(cluster.b.url, aliceToken);
    await addToTeam(mallory, evil, alice);
    const aliceId = await userId(alice);
    const { call, turnId, sessionId, status } = await sessionTurn(alice);

    // It is a turn token, not the victim's user token: bound to the turn, with no email, short-lived.
    expect(call.token).not.toBe(aliceToken);
    expect(decodeProtectedHeader(call.token)).toEqual({ alg: "HS256", typ: "agenthub-turn+jwt" });
    const claims = decodeJwt(call.token);
    expect(claims).toMatchObject({ sub: `user:${aliceId}`, workspace: cluster.ws.id, agent: evil, session: sessionId, turn: turnId, role: "support", email_verified: true, aud: "agenthub:turn-token" });
    expect(claims.email).toBeUndefined();
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(900);

    await expectWorthlessOutsideApiAuthenticated(call.token, sessionId);

    // What the SDK server needs, on either node: who asked, with their role (both names).
    for (const url of nodes()) {
      const res = await api(url, await cluster.ws.token(uniq("validator"))).post(v1("/api-authenticated"), { token: call.token });
      expect(res.body).toEqual({ id: String(aliceId), user_metadata: { roleId: "support", customerRoleId: "support" } });
    }

    call.release();
    await pollUntil(status, (s) => s === "completed", "the turn to complete");
    for (const url of nodes()) {
      expectProblem(await api(url, await cluster.ws.token(uniq("validator"))).post(v1("/api-authenticated"), { token: call.token }), "unauthorized");
    }
  });

  it("a group ask: the victim asks a group holding the attacker's agent; the token is as worthless", async () => {
    const victimSub = uniq("victim");
    const victim = api(cluster.b.url, await cluster.ws.token(victimSub));
    const victimId = await userId(victim);
    // A group needs two agents: the second has no endpoint at all (its turn fails at once).
    const idle = await makeAgent(mallory, uniq("idle"));
    const group = await mallory.post("/api/groups", { name: uniq("team"), agentIds: [evil, idle], allowed_users: [`${victimSub}@example.com`] });
    expect(group.status, group.text).toBe(201);
    const path = `/api/groups/${group.body.id}/conversations`;
    const conversation = await victim.post(path, { title: "Payroll questions" });
    expect(conversation.status, conversation.text).toBe(201);

    const before = attacker.calls.length;
    const asked = await victim.post(`${path}/${conversation.body.id}/ask`, { content: "What is my salary?" });
    expect(asked.status, asked.text).toBe(202);
    const call = await nextCall(before);
    const turnId = asked.body.ask.agents.find((a: any) => a.agentId === evil).turnId;
    expect(decodeJwt(call.token)).toMatchObject({ sub: `user:${victimId}`, agent: evil, session: conversation.body.id, turn: turnId });

    await expectWorthlessOutsideApiAuthenticated(call.token, conversation.body.id);
    expect((await mallory.post(v1("/api-authenticated"), { token: call.token })).body).toEqual({ id: String(victimId), user_metadata: {} });

    call.release();
    const turnPath = `${path}/${conversation.body.id}/turns/${turnId}`;
    await pollUntil(async () => (await victim.get(turnPath)).body.status, (s) => s === "completed", "the group turn to complete");
    expectProblem(await mallory.post(v1("/api-authenticated"), { token: call.token }), "unauthorized");
  });

  it("carries no admin role when an admin asked, and says email_verified as the asker's token did", async () => {
    const admin = api(cluster.a.url, await cluster.ws.token(uniq("admin"), { role: "admin" }));
    const adminId = await userId(admin);
    await addToTeam(mallory, evil, admin);
    const asked = await sessionTurn(admin);
    const claims = decodeJwt(asked.call.token);
    expect(claims.role).toBeUndefined();
    expect((await mallory.post(v1("/api-authenticated"), { token: asked.call.token })).body).toEqual({ id: String(adminId), user_metadata: {} });
    await expectWorthlessOutsideApiAuthenticated(asked.call.token, asked.sessionId);
    asked.call.release();

    // A user whose identity provider says the email is not verified: the turn token says so too.
    const unverifiedSub = uniq("unverified");
    const unverifiedToken = await new SignJWT({ workspace: cluster.ws.id, email: `${unverifiedSub}@example.com`, email_verified: false })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(unverifiedSub)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(JWT_SECRET));
    const unverified = api(cluster.b.url, unverifiedToken);
    await addToTeam(mallory, evil, unverified);
    const second = await sessionTurn(unverified);
    expect(decodeJwt(second.call.token).email_verified).toBe(false);
    second.call.release();
    await pollUntil(second.status, (s) => s === "completed", "the unverified user's turn to complete");
  });

  it("a master key's turn token carries no master authority and no role", async () => {
    const master = api(cluster.b.url, cluster.ws.masterKey);
    const asked = await sessionTurn(master);
    const claims = decodeJwt(asked.call.token);
    expect(claims.sub).toMatch(/^key:/);
    expect(claims.role).toBeUndefined();
    await expectWorthlessOutsideApiAuthenticated(asked.call.token, asked.sessionId);
    expect((await mallory.post(v1("/api-authenticated"), { token: asked.call.token })).body).toEqual({ id: claims.sub, user_metadata: {} });
    asked.call.release();
    await pollUntil(asked.status, (s) => s === "completed", "the master key's turn to complete");
    expectProblem(await mallory.post(v1("/api-authenticated"), { token: asked.call.token }), "unauthorized");
  });

  it("a forged turn token is refused: signed with the hub's JWT secret itself, or a user token dressed with the turn type", async () => {
    const { call, turnId, sessionId } = await sessionTurn(api(cluster.b.url, cluster.ws.masterKey));
    const raw = new TextEncoder().encode(JWT_SECRET);
    const forged = await new SignJWT(decodeJwt(call.token)).setProtectedHeader({ alg: "HS256", typ: "agenthub-turn+jwt" }).sign(raw);
    expectProblem(await mallory.post(v1("/api-authenticated"), { token: forged }), "unauthorized");
    const dressed = await new SignJWT({ workspace: cluster.ws.id, email: "mallory@example.com", role: "admin" })
      .setProtectedHeader({ alg: "HS256", typ: "agenthub-turn+jwt" })
      .setSubject("mallory")
      .setExpirationTime("1h")
      .sign(raw);
    expectProblem(await api(cluster.a.url, dressed).get("/api/me"), "unauthorized");
    expectProblem(await mallory.post(v1("/api-authenticated"), { token: dressed }), "unauthorized");
    // The genuine one still works, for its own turn only.
    expect((await mallory.post(v1("/api-authenticated"), { token: call.token })).status).toBe(200);
    expect(decodeJwt(call.token)).toMatchObject({ turn: turnId, session: sessionId });
    call.release();
  });
});

describe("plain http: agent URLs", () => {
  it("are refused without AGENT_SERVER_ALLOW_HTTP, on /api and /v1, naming the field; https: is accepted", async () => {
    const owner = strict.anon.as(await strict.ws.token(uniq("owner")));
    const url = "http://agents.example.com/evil";
    expectProblem(await owner.post("/api/agents", { id: uniq("plain"), name: "Plain", server_url: url }), "validation", { fields: ["server_url"] });
    const id = uniq("tls");
    expect((await owner.post("/api/agents", { id, name: "TLS", server_url: "https://agents.example.com/good" })).status).toBe(201);
    expectProblem(await owner.patch(`/api/agents/${id}`, { server_url: url }), "validation", { fields: ["server_url"] });
    expect((await owner.get(`/api/agents/${id}`)).body.server_url).toBe("https://agents.example.com/good");
    const servers = `/v1/workspaces/${strict.ws.id}/agent/servers`;
    expectProblem(await owner.post(servers, { name: "plain", url }), "validation", { fields: ["url"] });
    const server = await owner.post(servers, { name: "tls", url: "https://agents.example.com/v1" });
    expect(server.status).toBe(201);
    expectProblem(await owner.patch(`${servers}/${server.body.id}`, { url }), "validation", { fields: ["url"] });
    const problem = (await owner.post("/api/agents", { id: uniq("plain"), name: "Plain", server_url: url })).body;
    expect(JSON.stringify(problem)).toContain("AGENT_SERVER_ALLOW_HTTP");
  });
});

describe("a hub without a secret of its own (identity provider only)", () => {
  it("still sends turn tokens, signed with a secret kept in its database, and validates them", async () => {
    const sub = uniq("idp-user");
    const token = await new SignJWT({ workspace: idp.ws.id, email: `${sub}@example.com`, role: "support" })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject(sub)
      .setIssuer("https://idp.test")
      .setAudience("agenthub")
      .setExpirationTime("1h")
      .sign(idpKeys.privateKey);
    const user = idp.anon.as(token);
    const agentId = uniq("idp-agent");
    expect((await user.post("/api/agents", { id: agentId, name: "IdP agent", server_url: attacker.url })).status).toBe(201);
    const session = await makeSession(user, agentId);
    const before = attacker.calls.length;
    const started = await user.post(`/api/agents/${agentId}/sessions/${session.id}/turns`, { content: "hello" });
    expect(started.status, started.text).toBe(202);
    const call = await nextCall(before);
    expect(decodeProtectedHeader(call.token).typ).toBe("agenthub-turn+jwt");
    expectProblem(await idp.anon.as(call.token).get("/api/me"), "unauthorized");
    const res = await user.post(`/v1/workspaces/${idp.ws.id}/api-authenticated`, { token: call.token });
    expect(res.body).toEqual({ id: String(await userId(user)), user_metadata: { roleId: "support", customerRoleId: "support" } });
    call.release();
  });
});
