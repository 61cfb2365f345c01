/**
 * Embedded mode only. PGlite lives inside the hub process and must not be opened by a second
 * one, so while an embedded hub runs, the `agenthub` CLI asks it to do the work instead.
 * The hub writes DATA_DIR/hub.json (mode 0600) with its pid, port and a random secret; the
 * CLI sends that secret to loopback-only routes under /_local. Whoever can read DATA_DIR can
 * already read the database, so the secret grants nothing new.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { Router } from "@koa/router";
import type { Knex } from "knex";
import { mintUserToken } from "./auth/jwt.js";
import type { MasterKeys } from "./domain/keys/service.js";
import { createWorkspace } from "./domain/workspaces/service.js";
import type { HubState } from "./http/context.js";
import { Forbidden, Invalid, NotFound } from "./errors.js";
import { LocalRotateKey, LocalSignIn, LocalToken, LocalWorkspace, parse } from "./schemas.js";

export interface LocalHubFile {
  pid: number;
  port: number;
  secret: string;
}

export function localHubFile(dataDir: string): string {
  return path.join(dataDir, "hub.json");
}

export function writeLocalHubFile(dataDir: string, port: number): LocalHubFile {
  const info = { pid: process.pid, port, secret: randomBytes(32).toString("base64url") };
  fs.writeFileSync(localHubFile(dataDir), JSON.stringify(info), { mode: 0o600 });
  return info;
}

export function removeLocalHubFile(dataDir: string, info: LocalHubFile): void {
  try {
    const current = JSON.parse(fs.readFileSync(localHubFile(dataDir), "utf8")) as LocalHubFile;
    if (current.secret === info.secret) fs.unlinkSync(localHubFile(dataDir));
  } catch {
    // already gone
  }
}

/** The running embedded hub on this DATA_DIR, if there is one. */
export function findLocalHub(dataDir: string): LocalHubFile | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(localHubFile(dataDir), "utf8")) as LocalHubFile;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

export function localControlRoutes(
  getInfo: () => LocalHubFile | undefined,
  db: Knex,
  jwt: { secret: string | undefined; issuer: string | undefined; audience: string | undefined },
  /** The hub's own service, so a rotation's `key.revoked` events close this hub's sockets. */
  masterKeys: MasterKeys,
): Router<HubState> {
  const router = new Router<HubState>({ prefix: "/_local" });
  router.use(async (ctx, next) => {
    const info = getInfo();
    const given = Buffer.from(ctx.get("x-agenthub-local"));
    const expected = Buffer.from(info?.secret ?? "");
    // A request with forwarding headers came through a proxy on this machine, not from the CLI.
    // TRUST_PROXY alone does not turn this off: the CLI connects directly, and the secret decides.
    const loopback = LOOPBACK.includes(ctx.req.socket.remoteAddress ?? "") && !hasForwardingHeaders(ctx.req);
    if (!info || !loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new Forbidden("Local control is only for the agenthub CLI on this machine");
    }
    await next();
  });
  router.post("/workspaces", async (ctx) => {
    const { name } = parse(LocalWorkspace, ctx.request.body);
    const { workspace, masterKey } = await createWorkspace(db, name);
    ctx.status = 201;
    ctx.body = { workspace_id: workspace.id, master_key: masterKey };
  });
  router.post("/rotate-key", async (ctx) => {
    const { workspace_id } = parse(LocalRotateKey, ctx.request.body);
    const { workspaceId, masterKey } = await masterKeys.rotate(workspace_id);
    ctx.status = 201;
    ctx.body = { workspace_id: workspaceId, master_key: masterKey };
  });
  router.post("/token", async (ctx) => {
    if (!jwt.secret) throw new Forbidden("This hub verifies tokens from an identity provider; it mints none");
    const claims = parse(LocalToken, ctx.request.body);
    ctx.status = 201;
    ctx.body = { token: await mintUserToken({ ...claims, secret: jwt.secret, issuer: jwt.issuer, audience: jwt.audience }) };
  });
  return router;
}

/** Loopback hosts a page on this machine names the hub by. */
const LOCAL_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]"];
const LOOPBACK = ["127.0.0.1", "::1", "::ffff:127.0.0.1"];
/** Headers a proxy adds: a request carrying one came through something that may be anyone's. */
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"];

type LocalCheckable = { app: { proxy: boolean }; req: { socket: { remoteAddress?: string | undefined }; headers: Record<string, string | string[] | undefined> } };

/**
 * Whether the request may have come through a proxy: the hub trusts one (TRUST_PROXY), or a
 * forwarding header is present. A proxy on this machine connects from loopback for every
 * client, so behind one "loopback" says nothing about who is asking.
 */
export function isForwarded(ctx: LocalCheckable): boolean {
  return ctx.app.proxy || hasForwardingHeaders(ctx.req);
}

function hasForwardingHeaders(req: LocalCheckable["req"]): boolean {
  return FORWARDING_HEADERS.some((name) => req.headers[name] !== undefined);
}

/** The raw Host header's name, port dropped (`[::1]:3000` -> `[::1]`); never X-Forwarded-Host. */
function rawHostName(host: string | string[] | undefined): string {
  const value = (Array.isArray(host) ? host[0] : host)?.trim().toLowerCase() ?? "";
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  return value.replace(/:\d*$/, "");
}

/**
 * A request from this machine to the hub by a loopback name: not forwarded (see isForwarded),
 * the socket's address is loopback, and so is the raw Host it was sent to, so a page of another
 * site whose name resolves to 127.0.0.1 (DNS rebinding) is not taken for a local one.
 */
export function isLocalRequest(ctx: LocalCheckable): boolean {
  return !isForwarded(ctx) && LOOPBACK.includes(ctx.req.socket.remoteAddress ?? "") && LOCAL_HOSTS.includes(rawHostName(ctx.req.headers.host));
}

/** How long a local sign-in lasts. */
const LOCAL_SIGN_IN_TTL_S = 12 * 3600;

/**
 * The web app's sign-in on the embedded default: pick a user of a local workspace (or create
 * one; the first sign-in creates the workspace "local"), answered with a user token. Only over
 * loopback (the socket's address, never a forwarded one), and only on the embedded hub, which
 * runs on one machine for the people at it; a hub on Postgres takes pasted tokens instead.
 * Behind a proxy (TRUST_PROXY, or any forwarding header) it does not exist (404): whoever
 * reaches the proxy would otherwise list the users and sign in as any of them.
 */
export function localSignInRoutes(db: Knex, jwt: { secret: string | undefined; issuer: string | undefined; audience: string | undefined }): Router<HubState> {
  const router = new Router<HubState>({ prefix: "/api/local/sign-in" });
  router.use(async (ctx, next) => {
    if (isForwarded(ctx)) throw new NotFound("Resource");
    if (!isLocalRequest(ctx)) throw new Forbidden("Local sign-in is only for browsers on this machine");
    if (!jwt.secret) throw new Forbidden("This hub verifies tokens from an identity provider; sign in with one of its tokens");
    await next();
  });
  router.get("/", async (ctx) => {
    const workspaces = await db("workspaces").orderBy("created_at").limit(20).select("id", "name");
    const users = workspaces.length
      ? await db("users").whereIn("workspace_id", workspaces.map((w) => w.id)).orderBy("id").limit(500).select("id", "workspace_id", "sub", "name", "email")
      : [];
    ctx.body = {
      workspaces: workspaces.map((w) => ({
        id: w.id,
        name: w.name,
        users: users.filter((u) => u.workspace_id === w.id).map((u) => ({ user_id: Number(u.id), sub: u.sub, name: u.name, email: u.email })),
      })),
    };
  });
  router.post("/", async (ctx) => {
    const input = parse(LocalSignIn, ctx.request.body);
    let workspaceId = input.workspace_id ?? (await db("workspaces").orderBy("created_at").first("id"))?.id;
    if (!workspaceId) workspaceId = (await createWorkspace(db, "local")).workspace.id;
    if (!(await db("workspaces").where({ id: workspaceId }).first("id"))) throw Invalid.field("workspace_id", "no such workspace on this hub");
    let claims: { sub: string; name: string; email: string };
    if ("sub" in input) {
      const user = await db("users").where({ workspace_id: workspaceId, sub: input.sub }).first("sub", "name", "email");
      if (!user) throw Invalid.field("sub", "no such user in this workspace; send name and email to create one");
      claims = user;
    } else {
      claims = { sub: `local-${input.email.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, name: input.name, email: input.email.toLowerCase() };
    }
    const token = await mintUserToken({ workspace: workspaceId, ...claims, secret: jwt.secret!, issuer: jwt.issuer, audience: jwt.audience, ttlSeconds: LOCAL_SIGN_IN_TTL_S });
    ctx.status = 201;
    ctx.body = { token, workspace_id: workspaceId, expires_at: new Date(Date.now() + LOCAL_SIGN_IN_TTL_S * 1000).toISOString() };
  });
  return router;
}
