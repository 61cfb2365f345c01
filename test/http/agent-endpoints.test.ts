/**
 * An agent's `endpoint` (CONTRACT.md, "Every kind of agent: endpoint protocols"): set on POST and
 * PATCH by editors, `server_url` still its Sharely shorthand, URLs through the SSRF guard, and a
 * model agent's `apiKey` write-only: sealed at rest, never answered, and never carried to another
 * origin.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../support/api.js";
import { addToTeam, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

// A Postgres hub: agent URLs go through the guard as in production (AGENT_SERVER_ALLOW_* unset).
const hub = useHub({ redis: false });
let alice: Api;
let bob: Api;

beforeAll(async () => {
  alice = hub.anon.as(await hub.ws.token("alice"));
  bob = hub.anon.as(await hub.ws.token("bob"));
});

const model = (extra: Record<string, unknown> = {}) => ({ protocol: "model", url: "https://models.example.com/v1", model: "gpt-x", ...extra });

async function create(body: Record<string, unknown>) {
  const res = await alice.post("/api/agents", { id: uniq("ep"), name: "Endpoint agent", ...body });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe("agent endpoints", () => {
  it("defaults to socket, and answers server_url as the sharely shorthand", async () => {
    expect((await create({})).endpoint).toEqual({ protocol: "socket" });
    const sharely = await create({ server_url: "https://agents.example.com/x" });
    expect(sharely.endpoint).toEqual({ protocol: "sharely", url: "https://agents.example.com/x" });
    expect(sharely.server_url).toBe("https://agents.example.com/x");
    expect(sharely.endpoint_secret).toMatch(/^whsec_/);
  });

  it("takes every protocol, and a URL endpoint gets an endpoint secret once", async () => {
    for (const endpoint of [
      { protocol: "a2a", url: "https://a2a.example.com" },
      { protocol: "agui", url: "https://agui.example.com/run" },
      { protocol: "adk", url: "https://adk.example.com", app: "weather_agent" },
    ]) {
      const agent = await create({ endpoint });
      expect(agent.endpoint).toEqual(endpoint);
      expect(agent.server_url).toBeNull();
      expect(agent.endpoint_secret).toMatch(/^whsec_/);
      expect((await alice.get(`/api/agents/${agent.id}`)).body).not.toHaveProperty("endpoint_secret");
    }
  });

  it("keeps a model's apiKey write-only and sealed at rest", async () => {
    const agent = await create({ endpoint: model({ apiKey: "sk-very-secret-1", tools: true, maxSteps: 4 }) });
    expect(agent.endpoint).toEqual({ ...model({ tools: true, maxSteps: 4 }), apiKeySet: true });
    const row = await hub.db("agents").where({ id: agent.id }).first();
    expect(row.endpoint_api_key).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain("sk-very-secret-1");
    for (const res of [await alice.get(`/api/agents/${agent.id}`), await alice.get("/api/agents?limit=100")]) expect(res.text).not.toContain("sk-very-secret-1");

    // Another model on the same origin keeps the key; another origin drops it; null clears it.
    let res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: model({ model: "gpt-y" }) });
    expect(res.body.endpoint).toMatchObject({ model: "gpt-y", apiKeySet: true });
    res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: model({ url: "https://elsewhere.example.com/v1" }) });
    expect(res.body.endpoint.apiKeySet).toBe(false);
    res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: model({ url: "https://elsewhere.example.com/v1", apiKey: "sk-2" }) });
    expect(res.body.endpoint.apiKeySet).toBe(true);
    res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: model({ url: "https://elsewhere.example.com/v1", apiKey: null }) });
    expect(res.body.endpoint.apiKeySet).toBe(false);
  });

  it("switches protocols, and back to socket with null", async () => {
    const agent = await create({ server_url: "https://agents.example.com/x" });
    let res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: { protocol: "a2a", url: "https://a2a.example.com" } });
    expect(res.body).toMatchObject({ server_url: null, endpoint: { protocol: "a2a" } });
    res = await alice.patch(`/api/agents/${agent.id}`, { server_url: "https://agents.example.com/y" });
    expect(res.body.endpoint).toEqual({ protocol: "sharely", url: "https://agents.example.com/y" });
    res = await alice.patch(`/api/agents/${agent.id}`, { endpoint: null });
    expect(res.body).toMatchObject({ server_url: null, endpoint: { protocol: "socket" } });
  });

  it("refuses bad endpoints with 422, changing nothing", async () => {
    const agent = await create({ endpoint: { protocol: "a2a", url: "https://a2a.example.com" } });
    const cases: Array<[unknown, string]> = [
      [{ protocol: "carrier-pigeon", url: "https://x.example.com" }, "endpoint.protocol"],
      [{ protocol: "a2a" }, "endpoint.url"],
      [{ protocol: "a2a", url: "ftp://x.example.com" }, "endpoint.url"],
      [{ protocol: "adk", url: "https://adk.example.com", app: "../etc" }, "endpoint.app"],
      [{ protocol: "model", url: "https://m.example.com" }, "endpoint.model"],
      [model({ maxSteps: 99 }), "endpoint.maxSteps"],
      [{ protocol: "a2a", url: "https://a2a.example.com", extra: 1 }, "endpoint"],
      [{ protocol: "a2a", url: "https://169.254.169.254/latest" }, "endpoint.url"],
      [{ protocol: "a2a", url: "https://127.0.0.1:9/" }, "endpoint.url"],
      [{ protocol: "a2a", url: "http://a2a.example.com" }, "endpoint.url"],
    ];
    for (const [endpoint, field] of cases) {
      const res = await alice.patch(`/api/agents/${agent.id}`, { endpoint });
      expectProblem(res, "validation");
      expect(res.body.errors.map((e: { field: string }) => e.field), JSON.stringify(endpoint)).toContain(field);
    }
    expectProblem(await alice.patch(`/api/agents/${agent.id}`, { endpoint: null, server_url: "https://a.example.com" }), "validation", { fields: ["endpoint"] });
    expect((await alice.get(`/api/agents/${agent.id}`)).body.endpoint).toEqual({ protocol: "a2a", url: "https://a2a.example.com" });
  });

  it("shows a viewer the endpoint without secrets, and lets only editors change it", async () => {
    const agent = await create({ endpoint: model({ apiKey: "sk-viewer-check" }) });
    await addToTeam(alice, agent.id, bob, "viewer");
    const seen = await bob.get(`/api/agents/${agent.id}`);
    expect(seen.body.endpoint).toMatchObject({ protocol: "model", apiKeySet: true });
    expect(seen.text).not.toContain("sk-viewer-check");
    expectProblem(await bob.patch(`/api/agents/${agent.id}`, { endpoint: { protocol: "socket" } }), "forbidden");
  });
});
