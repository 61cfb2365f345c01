/**
 * Who is asking. REST routes and socket handlers both resolve a credential into one of these,
 * and every domain service takes it as its first argument.
 */
export const AGENT_KEY_SCOPES = [
  "sessions:read",
  "sessions:write",
  "channels:read",
  "channels:publish",
  "knowledge:read",
  "tools:execute",
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
  /** Optional workspace role from the token; `admin` acts like the master key. */
  role: string | undefined;
  /** When the token stops being valid; live sockets are closed then. */
  expiresAt: Date;
}

export interface MasterPrincipal {
  kind: "master";
  workspaceId: string;
  keyId: string;
}

export interface AgentPrincipal {
  kind: "agent";
  workspaceId: string;
  agentId: string;
  keyId: string;
  scopes: Scope[];
}

export type Principal = UserPrincipal | MasterPrincipal | AgentPrincipal;

/** Master keys and users with the `admin` role may do everything in their workspace. */
export function isWorkspaceAdmin(p: Principal): boolean {
  return p.kind === "master" || (p.kind === "user" && p.role === "admin");
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.kind !== "agent" || p.scopes.includes(scope);
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
