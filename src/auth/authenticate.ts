/**
 * Turns a bearer credential into a Principal: API keys by their hash, user JWTs through the
 * verifier, with the user provisioned on first sight, and exchanged key tokens (key-token.ts)
 * as the live key they name, with their role. Used by REST and the socket handshake, which
 * both refuse turn tokens (turn-token.ts): only `api-authenticated` takes one, through
 * verifyTurnToken. It also signs the key and turn tokens the hub hands out.
 * What it needs from storage comes in as a `CredentialStore`, so auth knows no tables.
 */
import { keyTokenRole } from "../domain/keys/policy.js";
import { Unauthorized } from "../errors.js";
import { sha256 } from "../ids.js";
import type { JwtVerifier } from "./jwt.js";
import { KEY_TOKEN_TTL_S, looksLikeKeyToken } from "./key-token.js";
import { signTurnToken, turnTokenExpiry, verifyTurnToken, looksLikeTurnToken, type TurnTokenClaims } from "./turn-token.js";
import { credentialOf, keyKindOf, turnAskerOf, type AgentPrincipal, type KeyKind, type KeyRoleBinding, type MasterPrincipal, type Principal, type Scope } from "./principal.js";

export interface StoredKey {
  id: string;
  workspaceId: string;
  kind: KeyKind;
  agentId: string | null;
  scopes: Scope[];
  /**
   * The role the key acts with under RBAC, kept from its creator (domain/keys/policy.ts):
   * unbound, it sees everything (made by a master key or an admin with no role) and may be
   * narrowed when exchanged; bound, it sees what `role` may see (null: what a caller without a
   * role may see), whatever it is exchanged with.
   */
  roleBinding: KeyRoleBinding;
  /** When the key stops working on its own; null: never. */
  expiresAt: Date | null;
}

export interface CredentialStore {
  /** The live (not revoked) key with this SHA-256 hash. */
  findLiveKey(hash: string): Promise<StoredKey | undefined>;
  /** The live key with this id (for exchanged key tokens). */
  findLiveKeyById(id: string): Promise<StoredKey | undefined>;
  /** The user for these claims, created on first sight; undefined when the workspace does not exist. */
  provisionUser(claims: { workspaceId: string; sub: string; email: string; name: string; avatar: string | null; emailVerified: boolean }): Promise<{ id: number } | undefined>;
}

export class Authenticator {
  constructor(
    private readonly store: CredentialStore,
    private readonly jwt: JwtVerifier,
    /** The key turn tokens are signed and checked with (turnTokenKey); none: this hub issues none. */
    private readonly turnKey?: { key: Uint8Array; adminRole: string },
  ) {}

  /** Reads `Bearer <credential>` from an Authorization header value. */
  static bearer(header: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return m?.[1];
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential) throw new Unauthorized("Send Authorization: Bearer <credential>");
    if (keyKindOf(credential)) return this.apiKey(credential);
    // A turn token went to an agent server the asker does not control: it is worth nothing here.
    if (looksLikeTurnToken(credential)) throw new Unauthorized("A turn token is accepted only by api-authenticated");
    if (credential.split(".").length === 3) return looksLikeKeyToken(credential) ? this.keyToken(credential) : this.userToken(credential);
    throw new Unauthorized("The credential is not recognised");
  }

  /**
   * A short-lived token acting as this API key (and, with `role`, as that role), signed with the
   * hub's secret: what `generate-access-key-token` answers. `key` is a principal of a raw key.
   */
  async issueKeyToken(key: Principal, requestedRole: string | undefined): Promise<string> {
    const credential = credentialOf(key);
    if (!("key" in credential)) throw new Unauthorized("Only an API key may be exchanged for a key token");
    const role = keyTokenRole(key, requestedRole);
    const ttl = key.expiresAt ? Math.min(KEY_TOKEN_TTL_S, Math.ceil((key.expiresAt.getTime() - Date.now()) / 1000)) : KEY_TOKEN_TTL_S;
    if (ttl < 1) throw new Unauthorized("The key has expired");
    return this.jwt.signKeyToken({ keyId: credential.key.keyId, workspaceId: credential.key.workspaceId, role }, ttl);
  }

  /**
   * The token an HTTP agent server gets with a turn (turn-token.ts): bound to the turn, acting
   * for `asker` no further than turnAskerOf allows, expiring with the turn.
   */
  async issueTurnToken(turn: { workspaceId: string; agentId: string; sessionId: string; turnId: string; startedAt: Date | null }, asker: Principal, turnTimeoutMs: number): Promise<string> {
    if (!this.turnKey) throw new Error("this hub has no turn token key");
    const { startedAt, ...bound } = turn;
    return signTurnToken(this.turnKey.key, { ...bound, asker: turnAskerOf(asker, this.turnKey.adminRole) }, turnTokenExpiry(startedAt, turnTimeoutMs));
  }

  /** What `api-authenticated` validates: a turn token (its claims), or any other credential (its principal). */
  async subjectToValidate(token: string): Promise<Principal | TurnTokenClaims> {
    return looksLikeTurnToken(token) ? this.verifyTurnToken(token) : this.authenticate(token);
  }

  /**
   * A turn token's claims, for `api-authenticated` only (whether its turn still runs is the
   * Backplane's to check). A key asker's token dies with the key, as key tokens do.
   */
  async verifyTurnToken(token: string): Promise<TurnTokenClaims> {
    if (!this.turnKey) throw new Unauthorized("This hub issues no turn tokens");
    const claims = await verifyTurnToken(this.turnKey.key, token);
    if (claims.asker.kind === "key") {
      const row = await this.store.findLiveKeyById(claims.asker.keyId);
      if (!row || row.workspaceId !== claims.workspaceId) throw new Unauthorized("The key behind this token is revoked or expired");
    }
    return claims;
  }

  private async apiKey(key: string): Promise<Principal> {
    const row = await this.store.findLiveKey(sha256(key));
    if (!row || keyKindOf(key) !== row.kind) throw new Unauthorized("Unknown or revoked API key");
    return keyPrincipal(row, undefined, row.expiresAt ?? undefined);
  }

  /** An exchanged key token: valid while its key is live (not revoked, not expired), whatever the token's own `exp`. */
  private async keyToken(token: string): Promise<Principal> {
    const claims = await this.jwt.verifyKeyToken(token);
    const row = await this.store.findLiveKeyById(claims.keyId);
    if (!row || row.workspaceId !== claims.workspaceId) throw new Unauthorized("The key behind this token is revoked or expired");
    const tokenExpiry = new Date(claims.exp * 1000);
    return keyPrincipal(row, claims.role, row.expiresAt && row.expiresAt < tokenExpiry ? row.expiresAt : tokenExpiry);
  }

  private async userToken(token: string): Promise<Principal> {
    const claims = await this.jwt.verify(token);
    const user = await this.store.provisionUser({
      workspaceId: claims.workspace,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      avatar: claims.avatar,
      emailVerified: claims.emailVerified,
    });
    if (!user) throw new Unauthorized("The token's workspace does not exist");
    return {
      kind: "user",
      workspaceId: claims.workspace,
      userId: user.id,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      groups: claims.groups,
      role: claims.role,
      admin: claims.admin,
      emailVerified: claims.emailVerified,
      expiresAt: new Date(claims.exp * 1000),
    };
  }
}

/**
 * The principal of a live key; `tokenRole` is the role an exchanged token names. A role-bound
 * key acts with its own role whatever a token names (a token is never issued naming another,
 * and one issued before the key was bound does not widen it); an unbound key with the token's.
 */
function keyPrincipal(row: StoredKey, tokenRole: string | undefined, expiresAt: Date | undefined): MasterPrincipal | AgentPrincipal {
  const binding = row.kind === "agent" ? row.roleBinding : { bound: false as const };
  const bound = binding.bound;
  const role = binding.bound ? (binding.role ?? undefined) : tokenRole;
  const extra = { ...(role ? { role } : {}), ...(bound ? { roleBound: true as const } : {}), ...(expiresAt ? { expiresAt } : {}) };
  if (row.kind === "master") return { kind: "master", workspaceId: row.workspaceId, keyId: row.id, ...extra };
  return { kind: "agent", workspaceId: row.workspaceId, agentId: row.agentId!, keyId: row.id, scopes: row.scopes, ...extra };
}
