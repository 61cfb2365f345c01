/**
 * "Test connection" (POST /api/agents/{agentId}/endpoint/test): an A2A card served by
 * `@a2a-js/sdk`'s card handler, a model list from a small OpenAI-compatible `/models` server (with
 * its API key, a wrong one and none), an ADK app list, an AG-UI reachability check, a socket agent
 * nobody serves, a URL the guard refuses on a hub without AGENT_SERVER_ALLOW_PRIVATE, and who may
 * ask (editors; viewers 403; others 404). Every answer says what it found in words.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../support/api.js";
import { serveAgentCard, type CardServer } from "../support/a2a-card.js";
import { addToTeam, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

// A hub that may call test peers on 127.0.0.1, and one that guards as production does.
const hub = useHub({ redis: false, env: { AGENT_SERVER_ALLOW_PRIVATE: "true", AGENT_SERVER_ALLOW_HTTP: "true" } });
const guarded = useHub({ redis: false });
let alice: Api;
let bob: Api;
let card: CardServer;
let peer: http.Server;
let peerUrl: string;

/** An OpenAI-compatible model list behind a Bearer key, an ADK app list, and a few bad answers. */
function peerHandler(req: http.IncomingMessage, res: http.ServerResponse) {
  const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  if (req.url === "/v1/models") {
    if (req.headers.authorization !== "Bearer sk-good") return json(401, { error: { message: "Incorrect API key provided" } });
    return json(200, { object: "list", data: [{ id: "m-1", object: "model" }, { id: "m-2", object: "model" }] });
  }
  if (req.url === "/adk/list-apps") return json(200, ["weather_agent", "notes"]);
  if (req.url === "/html/list-apps") return res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>");
  if (req.url === "/agui" && req.method === "HEAD") return res.writeHead(405).end();
  return json(404, { error: "not found" });
}

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
  card = await serveAgentCard({ name: "Weather scout", description: "Knows the weather", skills: [{ id: "forecast", name: "Forecast", description: "", tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }] });
  peer = http.createServer(peerHandler);
  await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
  peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await card?.close();
  await new Promise((resolve) => peer?.close(resolve));
});

async function agentWith(client: Api, endpoint: Record<string, unknown> | undefined): Promise<string> {
  const id = uniq("check");
  const res = await client.post("/api/agents", { id, name: "Checked", ...(endpoint ? { endpoint } : {}) });
  expect(res.status, res.text).toBe(201);
  return id;
}

async function check(client: Api, agentId: string) {
  const res = await client.post(`/api/agents/${agentId}/endpoint/test`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

describe("test connection", () => {
  it("reads an A2A agent card and names what it found", async () => {
    const result = await check(alice, await agentWith(alice, { protocol: "a2a", url: card.url }));
    expect(result).toMatchObject({ ok: true, protocol: "a2a", agent_card: { name: "Weather scout", description: "Knows the weather", skills: ["Forecast"], streaming: true } });
    expect(result.detail).toContain('Found the agent card of "Weather scout"');
  });

  it("says 404 when there is no card at the URL", async () => {
    const result = await check(alice, await agentWith(alice, { protocol: "a2a", url: `${peerUrl}/nothing` }));
    expect(result).toMatchObject({ ok: false, protocol: "a2a" });
    expect(result.detail).toContain("answered 404");
  });

  it("lists a model server's models with its API key, and says whether the configured model is among them", async () => {
    const good = await check(alice, await agentWith(alice, { protocol: "model", url: `${peerUrl}/v1`, model: "m-2", apiKey: "sk-good" }));
    expect(good).toMatchObject({ ok: true, protocol: "model", models: ["m-1", "m-2"] });
    expect(good.detail).toContain('"m-2" among them');
    const missing = await check(alice, await agentWith(alice, { protocol: "model", url: `${peerUrl}/v1`, model: "m-9", apiKey: "sk-good" }));
    expect(missing).toMatchObject({ ok: false, models: ["m-1", "m-2"] });
    expect(missing.detail).toContain('"m-9" is not among');
  });

  it("says the model server refused the API key (401), or wants one", async () => {
    const wrong = await check(alice, await agentWith(alice, { protocol: "model", url: `${peerUrl}/v1`, model: "m-1", apiKey: "sk-bad" }));
    expect(wrong).toEqual({ ok: false, protocol: "model", detail: "The model server refused the API key (401)." });
    const none = await check(alice, await agentWith(alice, { protocol: "model", url: `${peerUrl}/v1`, model: "m-1" }));
    expect(none.detail).toBe("The model server wants an API key (401); set one.");
    expect(JSON.stringify([wrong, none])).not.toContain("sk-");
  });

  it("checks an ADK server lists the app, and says when an answer is not JSON", async () => {
    expect(await check(alice, await agentWith(alice, { protocol: "adk", url: `${peerUrl}/adk`, app: "notes" }))).toMatchObject({ ok: true, detail: 'The ADK server lists the app "notes".' });
    const other = await check(alice, await agentWith(alice, { protocol: "adk", url: `${peerUrl}/adk`, app: "mail" }));
    expect(other.ok).toBe(false);
    expect(other.detail).toContain('no app "mail" (it has weather_agent, notes)');
    const html = await check(alice, await agentWith(alice, { protocol: "adk", url: `${peerUrl}/html`, app: "notes" }));
    expect(html.detail).toContain("did not answer JSON");
  });

  it("checks an AG-UI server is reachable, and a closed port is not", async () => {
    const agui = await check(alice, await agentWith(alice, { protocol: "agui", url: `${peerUrl}/agui` }));
    expect(agui).toMatchObject({ ok: true, protocol: "agui" });
    expect(agui.detail).toContain("answered 405: the server is reachable");
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await check(alice, await agentWith(alice, { protocol: "agui", url: `http://127.0.0.1:${port}/run` }));
    expect(refused).toMatchObject({ ok: false });
    expect(refused.detail).toContain("refused the connection");
  });

  it("says when the server does not answer in time", async () => {
    const silent = http.createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const result = await check(alice, await agentWith(alice, { protocol: "a2a", url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` }));
      expect(result).toMatchObject({ ok: false, protocol: "a2a" });
      expect(result.detail).toBe("No answer within 5 s.");
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 15_000);

  it("says no socket serves a socket agent", async () => {
    const result = await check(alice, await agentWith(alice, undefined));
    expect(result).toMatchObject({ ok: false, protocol: "socket" });
    expect(result.detail).toContain("No socket serves this agent now");
  });

  it("names AGENT_SERVER_ALLOW_PRIVATE for a private URL on a hub that refuses them", async () => {
    const carol = guarded.anon.as(await guarded.ws.token("carol"));
    const id = await agentWith(carol, { protocol: "a2a", url: "https://a2a.example.com" });
    // Stored before the setting changed (the guard refuses it at PATCH time too).
    await guarded.db("agents").where({ workspace_id: guarded.ws.id, id }).update({ endpoint: JSON.stringify({ protocol: "a2a", url: card.url.replace("http:", "https:") }) });
    const result = await check(carol, id);
    expect(result).toMatchObject({ ok: false, protocol: "a2a" });
    expect(result.detail).toMatch(/^The URL points at a private address, which the hub does not call unless AGENT_SERVER_ALLOW_PRIVATE=true/);
  });

  it("is for editors: a viewer gets 403, someone off the team 404", async () => {
    const id = await agentWith(alice, { protocol: "a2a", url: card.url });
    await addToTeam(alice, id, bob, "viewer");
    expectProblem(await bob.post(`/api/agents/${id}/endpoint/test`), "forbidden");
    const dave = hub.anon.as(await hub.ws.token("dave"));
    expectProblem(await dave.post(`/api/agents/${id}/endpoint/test`), "not-found");
    expectProblem(await hub.anon.as(await hub.other.token("alice")).post(`/api/agents/${id}/endpoint/test`), "not-found");
  });

  it("adds a teammate by the email they signed in with", async () => {
    const id = await agentWith(alice, undefined);
    await bob.get("/api/me");
    const res = await alice.post(`/api/agents/${id}/team`, { email: "BOB@example.com", access_level: "editor" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.members.map((m: { email: string; access_level: string }) => [m.email, m.access_level])).toContainEqual(["bob@example.com", "editor"]);
    expectProblem(await alice.post(`/api/agents/${id}/team`, { access_level: "viewer" }), "validation", { fields: ["user_id"] });
  });

  it("keeps someone who has not signed in yet as a pending member, who gets the access on first sign-in", async () => {
    const id = await agentWith(alice, undefined);
    const res = await alice.post(`/api/agents/${id}/team`, { email: "Newcomer@Example.com", access_level: "viewer" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.members).toContainEqual({ user_id: null, name: null, email: "newcomer@example.com", avatar: null, access_level: "viewer", assigned_at: expect.any(String), pending: true });
    // Another workspace's newcomer with the same email gets nothing of this one.
    expectProblem(await hub.anon.as(await hub.other.token("newcomer", { email: "newcomer@example.com" })).get(`/api/agents/${id}`), "not-found");

    const newcomer = hub.anon.as(await hub.ws.token("newcomer", { email: "newcomer@example.com", name: "Newcomer" }));
    expect((await newcomer.get(`/api/agents/${id}`)).body).toMatchObject({ id, access_level: "viewer" });
    const team = (await alice.get(`/api/agents/${id}/team`)).body.members;
    expect(team.find((m: { email: string }) => m.email === "newcomer@example.com")).toMatchObject({ user_id: expect.any(Number), name: "Newcomer", access_level: "viewer" });
    expect(team.some((m: { pending?: boolean }) => m.pending)).toBe(false);

    // A pending member is removed by the email they were added with.
    await alice.post(`/api/agents/${id}/team`, { email: "later@example.com", access_level: "editor" });
    const removed = await alice.delete(`/api/agents/${id}/team/later@example.com`);
    expect(removed.status).toBe(200);
    expect(removed.body.members.some((m: { email: string }) => m.email === "later@example.com")).toBe(false);
    expectProblem(await alice.delete(`/api/agents/${id}/team/later@example.com`), "not-found");
    expect((await hub.anon.as(await hub.ws.token("later", { email: "later@example.com" })).get(`/api/agents/${id}`)).status).toBe(404);
  });
});
