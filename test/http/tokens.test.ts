/**
 * User tokens beyond their signature: which claim makes an admin, `email_verified`, and a
 * maximum token age.
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { api } from "../support/api.js";
import { JWT_SECRET } from "../support/env.js";
import { makeAgent, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { expectProblem } from "../support/problem.js";

const hub = useHub({ redis: false, env: { JWT_ADMIN_CLAIM: "roles", JWT_ADMIN_VALUE: "hub-admin", JWT_MAX_AGE: "60" } });

/** A token with exactly these claims (sub, email and workspace filled in), issued `ageSeconds` ago. */
function token(claims: Record<string, unknown>, ageSeconds = 0): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const sub = uniq("u");
  return new SignJWT({ workspace: hub.ws.id, email: `${sub}@example.com`, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt(now - ageSeconds)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

describe("user tokens", () => {
  it("makes admins by the configured claim and value only", async () => {
    const owner = api(hub.url, await token({}));
    const agentId = await makeAgent(owner, uniq("agent"));
    const ids = async (t: string) => (await api(hub.url, t).get("/api/agents")).body.agents.map((a: { id: string }) => a.id);
    expect(await ids(await token({ roles: ["viewer", "hub-admin"] }))).toContain(agentId);
    expect(await ids(await token({ roles: "hub-admin" }))).toContain(agentId);
    // The default claim is not the configured one: no admin rights from it.
    expect(await ids(await token({ role: "admin" }))).not.toContain(agentId);
    expect(await ids(await token({ roles: ["admin"] }))).not.toContain(agentId);
  });

  it("does not let an unverified email make someone a group member", async () => {
    const creator = api(hub.url, await token({}));
    const agents = [await makeAgent(creator, uniq("a")), await makeAgent(creator, uniq("b"))];
    const email = `${uniq("erin")}@example.com`;
    const group = await creator.post("/api/groups", { name: uniq("g"), agentIds: agents, allowed_users: [email] });
    expect(group.status).toBe(201);
    const as = async (claims: Record<string, unknown>) => api(hub.url, await token({ email, ...claims })).get(`/api/groups/${group.body.id}`);
    expect((await as({})).status).toBe(200);
    expect((await as({ email_verified: true })).status).toBe(200);
    expectProblem(await as({ email_verified: false }), "not-found");
  });

  it("does not let an unverified email claim a pending team invitation; a verified one does", async () => {
    const creator = api(hub.url, await token({}));
    const agentId = await makeAgent(creator, uniq("agent"));
    const email = `${uniq("frank")}@example.com`;
    expect((await creator.post(`/api/agents/${agentId}/team`, { email, access_level: "editor" })).status).toBe(201);
    expectProblem(await api(hub.url, await token({ email, email_verified: false })).get(`/api/agents/${agentId}`), "not-found");
    expect((await creator.get(`/api/agents/${agentId}/team`)).body.members).toContainEqual(expect.objectContaining({ email, pending: true }));
    expect((await api(hub.url, await token({ email })).get(`/api/agents/${agentId}`)).body).toMatchObject({ id: agentId, access_level: "editor" });
  });

  it("refuses a token issued longer ago than JWT_MAX_AGE, whatever its exp", async () => {
    expect((await api(hub.url, await token({}, 30)).get("/api/me")).status).toBe(200);
    expectProblem(await api(hub.url, await token({}, 120)).get("/api/me"), "unauthorized", { detail: /issued more than 60 seconds ago/ });
  });
});
