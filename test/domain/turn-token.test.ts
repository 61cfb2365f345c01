/**
 * Turn tokens (src/auth/turn-token.ts) in isolation: their lifetime, what of the asker they
 * carry (turnAskerOf), and that no other kind of token is taken for one, nor one for another.
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { Authenticator, type CredentialStore } from "../../src/auth/authenticate.js";
import { JwtVerifier, mintUserToken } from "../../src/auth/jwt.js";
import { signKeyToken } from "../../src/auth/key-token.js";
import { turnAskerOf, type Principal } from "../../src/auth/principal.js";
import { TURN_TOKEN_MAX_TTL_S, signTurnToken, turnTokenExpiry, turnTokenKey, verifyTurnToken } from "../../src/auth/turn-token.js";

const SECRET = "unit-secret-unit-secret-unit-secret-0123";
const key = turnTokenKey(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const bound = { workspaceId: "ws_1", agentId: "evil", sessionId: "ses_1", turnId: "trn_1" };
const user: Principal = { kind: "user", workspaceId: "ws_1", userId: 7, sub: "alice", email: "alice@example.com", name: "Alice", groups: [], role: "support", admin: false, emailVerified: true, expiresAt: new Date(Date.now() + 3_600_000) };

describe("turn token lifetime", () => {
  it("ends with the turn, at most 15 minutes from now", () => {
    const t = 1_000_000_000_000;
    expect(turnTokenExpiry(new Date(t), 600_000, t)).toBe((t + 600_000) / 1000);
    expect(turnTokenExpiry(new Date(t), 86_400_000, t)).toBe(t / 1000 + TURN_TOKEN_MAX_TTL_S);
    expect(turnTokenExpiry(new Date(t - 590_000), 600_000, t)).toBe(t / 1000 + 10);
    expect(turnTokenExpiry(null, 60_000, t)).toBe(t / 1000 + 60);
  });
});

describe("what a turn token says of its asker (turnAskerOf)", () => {
  it("keeps a user's role and email_verified, but never the admin role", () => {
    expect(turnAskerOf(user, "admin")).toEqual({ kind: "user", userId: 7, role: "support", emailVerified: true });
    expect(turnAskerOf({ ...user, role: "admin", admin: true }, "admin")).toEqual({ kind: "user", userId: 7, role: undefined, emailVerified: true });
    expect(turnAskerOf({ ...user, emailVerified: false }, "admin")).toMatchObject({ emailVerified: false });
  });

  it("gives a raw master key no role, and a key the role it acts with (exchanged for, or bound to): never wider than the asker", () => {
    expect(turnAskerOf({ kind: "master", workspaceId: "ws_1", keyId: "k0" }, "admin")).toEqual({ kind: "key", keyId: "k0", role: undefined });
    expect(turnAskerOf({ kind: "master", workspaceId: "ws_1", keyId: "k1", role: "finance" }, "admin")).toEqual({ kind: "key", keyId: "k1", role: "finance" });
    expect(turnAskerOf({ kind: "agent", workspaceId: "ws_1", agentId: "a", keyId: "k2", scopes: [], role: "support" }, "admin")).toEqual({ kind: "key", keyId: "k2", role: "support" });
  });
});

describe("verifyTurnToken", () => {
  it("round-trips its claims", async () => {
    const exp = now() + 60;
    const token = await signTurnToken(key, { ...bound, asker: turnAskerOf(user, "admin") }, exp);
    expect(await verifyTurnToken(key, token)).toEqual({ kind: "turn", ...bound, asker: { kind: "user", userId: 7, role: "support", emailVerified: true }, exp });
  });

  it("refuses an expired one, one under another key or the raw secret, a key token and a user token", async () => {
    await expect(verifyTurnToken(key, await signTurnToken(key, { ...bound, asker: turnAskerOf(user, "admin") }, now() - 5))).rejects.toThrow("expired");
    await expect(verifyTurnToken(key, await signTurnToken(turnTokenKey("another secret"), { ...bound, asker: turnAskerOf(user, "admin") }, now() + 60))).rejects.toThrow("not valid");
    await expect(verifyTurnToken(key, await signTurnToken(new TextEncoder().encode(SECRET), { ...bound, asker: turnAskerOf(user, "admin") }, now() + 60))).rejects.toThrow("not valid");
    await expect(verifyTurnToken(key, await signKeyToken(key, { keyId: "k1", workspaceId: "ws_1", role: undefined }))).rejects.toThrow("not valid");
    await expect(verifyTurnToken(key, await mintUserToken({ secret: SECRET, workspace: "ws_1", sub: "alice", email: "a@example.com", ttlSeconds: 60 }))).rejects.toThrow("not valid");
    // The right type and audience, but a user token's claims: no turn binding.
    const dressed = await new SignJWT({ workspace: "ws_1", email: "a@example.com" }).setProtectedHeader({ alg: "HS256", typ: "agenthub-turn+jwt" }).setAudience("agenthub:turn-token").setSubject("user:7").setExpirationTime(now() + 60).sign(key);
    await expect(verifyTurnToken(key, dressed)).rejects.toThrow("not valid");
  });
});

describe("Authenticator", () => {
  const store: CredentialStore = {
    findLiveKey: async () => undefined,
    findLiveKeyById: async (id) => (id === "live" ? { id, workspaceId: "ws_1", kind: "master", agentId: null, scopes: [], roleBinding: { bound: false }, expiresAt: null } : undefined),
    provisionUser: async () => ({ id: 7 }),
  };
  const jwt = new JwtVerifier({ secret: SECRET, jwksUrl: undefined, publicKey: undefined, issuer: undefined, audience: undefined, adminClaim: "role", adminValue: "admin", maxAgeSeconds: 0 });
  const auth = new Authenticator(store, jwt, { key, adminRole: "admin" });
  const turn = { ...bound, startedAt: new Date() };

  it("refuses a turn token as a credential, and takes it only as a token to validate", async () => {
    const token = await auth.issueTurnToken(turn, { ...user, role: "admin", admin: true }, 600_000);
    await expect(auth.authenticate(token)).rejects.toThrow("accepted only by api-authenticated");
    expect(await auth.subjectToValidate(token)).toMatchObject({ kind: "turn", asker: { kind: "user", userId: 7, role: undefined } });
    // A user token is still validated as one.
    expect(await auth.subjectToValidate(await mintUserToken({ secret: SECRET, workspace: "ws_1", sub: "alice", email: "a@example.com", ttlSeconds: 60 }))).toMatchObject({ kind: "user", userId: 7 });
  });

  it("ends a key asker's turn token with the key", async () => {
    const live = await auth.issueTurnToken(turn, { kind: "master", workspaceId: "ws_1", keyId: "live" }, 600_000);
    expect(await auth.verifyTurnToken(live)).toMatchObject({ asker: { kind: "key", keyId: "live", role: undefined } });
    const revoked = await auth.issueTurnToken(turn, { kind: "master", workspaceId: "ws_1", keyId: "gone" }, 600_000);
    await expect(auth.verifyTurnToken(revoked)).rejects.toThrow("revoked or expired");
  });
});
