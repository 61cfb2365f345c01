/**
 * Turns a bearer credential into a Principal: API keys by their hash, user JWTs through the
 * verifier, with the user provisioned on first sight. Used by REST and the socket handshake.
 * What it needs from storage comes in as a `CredentialStore`, so auth knows no tables.
 */
import { Unauthorized } from "../errors.js";
import { sha256 } from "../ids.js";
import type { JwtVerifier } from "./jwt.js";
import { keyKindOf, type KeyKind, type Principal, type Scope } from "./principal.js";

export interface StoredKey {
  id: string;
  workspaceId: string;
  kind: KeyKind;
  agentId: string | null;
  scopes: Scope[];
  /** When the key stops working on its own; null: never. */
  expiresAt: Date | null;
}

export interface CredentialStore {
  /** The live (not revoked) key with this SHA-256 hash. */
  findLiveKey(hash: string): Promise<StoredKey | undefined>;
  /** The user for these claims, created on first sight; undefined when the workspace does not exist. */
  provisionUser(claims: { workspaceId: string; sub: string; email: string; name: string; avatar: string | null }): Promise<{ id: number } | undefined>;
}

export class Authenticator {
  constructor(
    private readonly store: CredentialStore,
    private readonly jwt: JwtVerifier,
  ) {}

  /** Reads `Bearer <credential>` from an Authorization header value. */
  static bearer(header: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return m?.[1];
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential) throw new Unauthorized("Send Authorization: Bearer <credential>");
    if (keyKindOf(credential)) return this.apiKey(credential);
    if (credential.split(".").length === 3) return this.userToken(credential);
    throw new Unauthorized("The credential is not recognised");
  }

  private async apiKey(key: string): Promise<Principal> {
    const row = await this.store.findLiveKey(sha256(key));
    if (!row || keyKindOf(key) !== row.kind) throw new Unauthorized("Unknown or revoked API key");
    const expiry = row.expiresAt ? { expiresAt: row.expiresAt } : {};
    if (row.kind === "master") return { kind: "master", workspaceId: row.workspaceId, keyId: row.id, ...expiry };
    return { kind: "agent", workspaceId: row.workspaceId, agentId: row.agentId!, keyId: row.id, scopes: row.scopes, ...expiry };
  }

  private async userToken(token: string): Promise<Principal> {
    const claims = await this.jwt.verify(token);
    const user = await this.store.provisionUser({
      workspaceId: claims.workspace,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      avatar: claims.avatar,
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
