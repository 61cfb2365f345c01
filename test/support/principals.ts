/**
 * Principals built by hand, for tests that call domain services directly (no credential, no
 * HTTP): a master key, a user (with an optional role, admin or not), an agent key.
 */
import type { Principal, Scope } from "../../src/auth/principal.js";

export const masterOf = (workspaceId: string): Principal => ({ kind: "master", workspaceId, keyId: "test-master" });

export const userOf = (workspaceId: string, role?: string, admin = false): Principal => ({
  kind: "user",
  workspaceId,
  userId: 1,
  sub: "u",
  email: "u@example.com",
  name: "u",
  groups: [],
  role,
  admin,
  emailVerified: true,
  expiresAt: new Date(Date.now() + 3600_000),
});

export const keyOf = (workspaceId: string, scopes: Scope[], role?: string): Principal => ({ kind: "agent", workspaceId, agentId: "a", keyId: "k", scopes, role });
