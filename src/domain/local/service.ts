/**
 * The embedded hub's local use cases: what the `agenthub` CLI asks a running embedded hub to do
 * (make a workspace, rotate its master key, mint a user token), and the web app's local sign-in
 * (list the workspaces' users, sign in as one or as someone new). Who may ask is the routes'
 * business (http/routes/local/: loopback, the hub file's secret); these know nothing of HTTP.
 */
import type { Knex } from "knex";
import { z } from "zod";
import { mintUserToken } from "../../auth/jwt.js";
import { Forbidden, Invalid } from "../../errors.js";
import type { LocalSignIn, LocalToken } from "../../http/routes/local/schema.js";
import type { MasterKeys } from "../keys/service.js";
import { users } from "../users/repository.js";
import { workspaces } from "../workspaces/repository.js";
import { createWorkspace } from "../workspaces/service.js";

/** How the hub signs user tokens; no secret means it only verifies an identity provider's. */
export interface LocalJwt {
  secret: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
}

const MINTS_NONE = "This hub verifies tokens from an identity provider; it mints none";
const SIGNS_IN_NONE = "This hub verifies tokens from an identity provider; sign in with one of its tokens";

/** How long a local sign-in lasts. */
const LOCAL_SIGN_IN_TTL_S = 12 * 3600;

/** What the sign-in page lists: the first workspaces and their users. */
export interface SignInChoices {
  workspaces: Array<{ id: string; name: string; users: Array<{ user_id: number; sub: string; name: string; email: string }> }>;
}

export class LocalHub {
  constructor(
    private readonly db: Knex,
    private readonly jwt: LocalJwt,
    /** The hub's own service, so a rotation's `key.revoked` events close this hub's sockets. */
    private readonly masterKeys: MasterKeys,
  ) {}

  async createWorkspace(name: string): Promise<{ workspace_id: string; master_key: string }> {
    const { workspace, masterKey } = await createWorkspace(this.db, name);
    return { workspace_id: workspace.id, master_key: masterKey };
  }

  async rotateKey(workspaceId: string): Promise<{ workspace_id: string; master_key: string }> {
    const { workspaceId: id, masterKey } = await this.masterKeys.rotate(workspaceId);
    return { workspace_id: id, master_key: masterKey };
  }

  /** Refused before the body is read when the hub mints no tokens. */
  assertMintsTokens(): void {
    this.mintingSecret(MINTS_NONE);
  }

  /** What `agenthub token` asks for: a user token with exactly these claims. */
  async mintToken(claims: z.output<typeof LocalToken>): Promise<{ token: string }> {
    const secret = this.mintingSecret(MINTS_NONE);
    return { token: await mintUserToken({ ...claims, secret, issuer: this.jwt.issuer, audience: this.jwt.audience }) };
  }

  /** Refused before anything else on the sign-in routes when the hub mints no tokens. */
  assertSignsIn(): void {
    this.mintingSecret(SIGNS_IN_NONE);
  }

  async signInChoices(): Promise<SignInChoices> {
    const list = await workspaces.oldest(this.db, 20);
    const people = list.length ? await users.ofWorkspaces(this.db, list.map((w) => w.id), 500) : [];
    return {
      workspaces: list.map((w) => ({
        id: w.id,
        name: w.name,
        users: people.filter((u) => u.workspace_id === w.id).map((u) => ({ user_id: u.id, sub: u.sub, name: u.name, email: u.email })),
      })),
    };
  }

  /** Signs in as a user of a workspace (the first one when none is named; the first sign-in makes "local"). */
  async signIn(input: z.output<typeof LocalSignIn>): Promise<{ token: string; workspace_id: string; expires_at: string }> {
    const secret = this.mintingSecret(SIGNS_IN_NONE);
    let workspaceId = input.workspace_id ?? (await workspaces.oldest(this.db, 1))[0]?.id;
    if (!workspaceId) workspaceId = (await createWorkspace(this.db, "local")).workspace.id;
    if (!(await workspaces.exists(this.db, workspaceId))) throw Invalid.field("workspace_id", "no such workspace on this hub");
    let claims: { sub: string; name: string; email: string };
    if ("sub" in input) {
      const user = await users.bySub(this.db, workspaceId, input.sub);
      if (!user) throw Invalid.field("sub", "no such user in this workspace; send name and email to create one");
      claims = { sub: user.sub, name: user.name, email: user.email };
    } else {
      claims = { sub: `local-${input.email.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, name: input.name, email: input.email.toLowerCase() };
    }
    const token = await mintUserToken({ workspace: workspaceId, ...claims, secret, issuer: this.jwt.issuer, audience: this.jwt.audience, ttlSeconds: LOCAL_SIGN_IN_TTL_S });
    return { token, workspace_id: workspaceId, expires_at: new Date(Date.now() + LOCAL_SIGN_IN_TTL_S * 1000).toISOString() };
  }

  private mintingSecret(refusal: string): string {
    if (!this.jwt.secret) throw new Forbidden(refusal);
    return this.jwt.secret;
  }
}
