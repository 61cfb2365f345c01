/**
 * Who is asking. REST routes and socket handlers both resolve a credential into one of these,
 * and every domain service takes it as its first argument. This file and the domain policy
 * files (`domain/<family>/policy.ts`) are the only places that look at a kind, role or scope.
 */
import type { TurnAsker } from "./turn-token.js";

export const AGENT_KEY_SCOPES = [
  "sessions:read",
  "sessions:write",
  "channels:read",
  "channels:publish",
  "knowledge:read",
  "knowledge:write",
  "tools:execute",
  "turns:serve",
] as const;
export type Scope = (typeof AGENT_KEY_SCOPES)[number];

export interface UserPrincipal {
  kind: "user";
  workspaceId: string;
  userId: number;
  sub: string;
  email: string;
  name: string;
  /** IdP groups from the token, e.g. `google-workspace/sre@example.com`. */
  groups: string[];
  /** Optional workspace role from the token (RBAC). */
  role: string | undefined;
  /** The token names the user a workspace admin (JWT_ADMIN_CLAIM/VALUE): acts like the master key. */
  admin: boolean;
  /** False only when the token says `email_verified: false`; such an email names no group member. */
  emailVerified: boolean;
  /** When the token stops being valid; live sockets are closed then. */
  expiresAt: Date;
}

export interface MasterPrincipal {
  kind: "master";
  workspaceId: string;
  keyId: string;
  /** The role a key was exchanged with (generate-access-key-token), for RBAC. */
  role?: string | undefined;
  /** When the key stops working on its own; absent: never. */
  expiresAt?: Date | undefined;
}

export interface AgentPrincipal {
  kind: "agent";
  workspaceId: string;
  agentId: string;
  keyId: string;
  scopes: Scope[];
  /** The role the key acts with for RBAC: its own when `roleBound`, else the one it was exchanged with (generate-access-key-token). */
  role?: string | undefined;
  /** The key carries its creator's role (`role`, or none when absent), so RBAC filters it even without a role. */
  roleBound?: true | undefined;
  /** When the key stops working on its own; absent: never. */
  expiresAt?: Date | undefined;
}

/**
 * The role an agent key was made with (domain/keys/policy.ts `roleForNewKey`): `bound: false`
 * only for a key a master key or an admin made naming no role.
 */
export type KeyRoleBinding = { bound: false } | { bound: true; role: string | null };

export type Principal = UserPrincipal | MasterPrincipal | AgentPrincipal;
export type KeyKind = "master" | "agent";

/** Master keys and users with the `admin` role may do everything in their workspace. */
export function isWorkspaceAdmin(p: Principal): boolean {
  return p.kind === "master" || (p.kind === "user" && p.admin);
}

/** Users and master keys hold every scope; agent keys only those they were given. */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.kind !== "agent" || p.scopes.includes(scope);
}

/** The user behind a principal, for `created_by` columns; null for keys. */
export function userIdOf(p: Principal): number | null {
  return p.kind === "user" ? p.userId : null;
}

/** Who said something, as a message records it: a user's id and name; nothing for keys. */
export function authorOf(p: Principal): { userId?: number; userName?: string } {
  return p.kind === "user" ? { userId: p.userId, userName: p.name || p.email } : {};
}

/** The API key behind a principal (revocation closes its sockets); undefined for users. */
export function keyIdOf(p: Principal): string | undefined {
  return p.kind === "user" ? undefined : p.keyId;
}

/** The agent an agent key acts as; undefined for users and master keys. */
export function agentIdOf(p: Principal): string | undefined {
  return p.kind === "agent" ? p.agentId : undefined;
}

/** When the credential stops being valid on its own (user tokens, keys made with an expiry); live sockets are closed then. */
export function expiresAtOf(p: Principal): Date | undefined {
  return p.expiresAt;
}

/** The credential behind a principal, for acting on its behalf: a user, or an API key (with the role it was exchanged with). */
export function credentialOf(p: Principal): { user: UserPrincipal } | { key: { keyId: string; workspaceId: string; role: string | undefined } } {
  return p.kind === "user" ? { user: p } : { key: { keyId: p.keyId, workspaceId: p.workspaceId, role: p.role } };
}

/**
 * Who asked for a turn, as its turn token tells the agent server: never more than the asker
 * holds, and never admin or master authority. A user keeps their role, except the admin role
 * (`adminRole`, JWT_ADMIN_VALUE) that makes them an admin; an agent key keeps the role it was
 * exchanged with; a master key carries no role at all (its role would act for the workspace).
 */
export function turnAskerOf(p: Principal, adminRole: string): TurnAsker {
  switch (p.kind) {
    case "user":
      return { kind: "user", userId: p.userId, role: p.admin && p.role === adminRole ? undefined : p.role, emailVerified: p.emailVerified };
    case "master":
    case "agent":
      // A key exchanged for a role (or bound to one) asks as that role; a raw master key as none.
      return { kind: "key", keyId: p.keyId, role: p.role };
  }
}

/** What the credential is called in messages to its holder: a user's token, or a key. */
export function credentialNoun(p: Principal): "token" | "key" {
  return p.kind === "user" ? "token" : "key";
}

/** One key per credential (a user across all their tokens, or one API key), for rate limits. */
export function credentialKey(p: Principal): string {
  return p.kind === "user" ? `u:${p.workspaceId}:${p.userId}` : `k:${p.keyId}`;
}

/** A short, non-secret label for logs. */
export function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case "user":
      return `user:${p.userId}`;
    case "master":
      return `master:${p.keyId}`;
    case "agent":
      return `agent:${p.agentId}/${p.keyId}`;
  }
}

/** What `GET /api/me` answers: who the credential is, without secrets. */
export function presentPrincipal(p: Principal): Record<string, unknown> {
  switch (p.kind) {
    case "user":
      return {
        kind: "user",
        workspace_id: p.workspaceId,
        user_id: p.userId,
        sub: p.sub,
        email: p.email,
        name: p.name,
        groups: p.groups,
        role: p.role ?? null,
        // Whether the user may do what the master key may (the web app offers admins' pages by it).
        admin: p.admin,
        expires_at: p.expiresAt.toISOString(),
      };
    case "master":
      return { kind: "master", workspace_id: p.workspaceId, key_id: p.keyId };
    case "agent":
      return { kind: "agent", workspace_id: p.workspaceId, agent_id: p.agentId, key_id: p.keyId, scopes: p.scopes, role: p.role ?? null, role_bound: !!p.roleBound };
  }
}

// ---- API keys: the secret's shape ------------------------------------------------------------

const KEY_PREFIXES: Record<KeyKind, string> = { master: "g_master_", agent: "g_agent_" };

export function keySecretPrefix(kind: KeyKind): string {
  return KEY_PREFIXES[kind];
}

/** The kind of API key a credential claims to be, by its prefix; undefined when it is none. */
export function keyKindOf(credential: string): KeyKind | undefined {
  return (Object.keys(KEY_PREFIXES) as KeyKind[]).find((k) => credential.startsWith(KEY_PREFIXES[k]));
}

/** The non-secret start of a key, shown in listings so people can tell keys apart. */
export function keyDisplayPrefix(key: string): string {
  return key.slice(0, keyKindOf(key) === "master" ? 17 : 16);
}

/** The scopes a stored key row carries (a JSON column), as known scopes only. */
export function parseScopes(raw: unknown): Scope[] {
  const list: unknown = typeof raw === "string" ? JSON.parse(raw) : raw;
  return Array.isArray(list) ? list.filter((s): s is Scope => (AGENT_KEY_SCOPES as readonly string[]).includes(s)) : [];
}
