/**
 * Turns a bearer credential into a Principal: API keys by their hash, user JWTs through the
 * verifier, with the user provisioned on first sight. Used by REST and the socket handshake.
 */
import type { Knex } from "knex";
import { Unauthorized } from "../errors.js";
import { sha256 } from "../ids.js";
import { provisionUser } from "../domain/users/repository.js";
import type { JwtVerifier } from "./jwt.js";
import type { Principal, Scope } from "./principal.js";

export class Authenticator {
  constructor(
    private readonly db: Knex,
    private readonly jwt: JwtVerifier,
  ) {}

  /** Reads `Bearer <credential>` from an Authorization header value. */
  static bearer(header: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return m?.[1];
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential) throw new Unauthorized("Send Authorization: Bearer <credential>");
    if (credential.startsWith("g_master_") || credential.startsWith("g_agent_")) return this.apiKey(credential);
    if (credential.split(".").length === 3) return this.userToken(credential);
    throw new Unauthorized("The credential is not recognised");
  }

  private async apiKey(key: string): Promise<Principal> {
    const row = await this.db("api_keys").where({ hash: sha256(key) }).whereNull("revoked_at").first();
    if (!row || !key.startsWith(`g_${row.kind}_`)) throw new Unauthorized("Unknown or revoked API key");
    if (row.kind === "master") return { kind: "master", workspaceId: row.workspace_id, keyId: row.id };
    const scopes: Scope[] = typeof row.scopes === "string" ? JSON.parse(row.scopes) : row.scopes;
    return { kind: "agent", workspaceId: row.workspace_id, agentId: row.agent_id, keyId: row.id, scopes };
  }

  private async userToken(token: string): Promise<Principal> {
    const claims = await this.jwt.verify(token);
    const workspace = await this.db("workspaces").where({ id: claims.workspace }).first("id");
    if (!workspace) throw new Unauthorized("The token's workspace does not exist");
    const user = await provisionUser(this.db, {
      workspaceId: claims.workspace,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      avatar: claims.avatar,
    });
    return {
      kind: "user",
      workspaceId: claims.workspace,
      userId: user.id,
      sub: claims.sub,
      email: claims.email,
      name: claims.name,
      groups: claims.groups,
      role: claims.role,
      expiresAt: new Date(claims.exp * 1000),
    };
  }
}
