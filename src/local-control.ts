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
import { Forbidden } from "./errors.js";
import { LocalRotateKey, LocalToken, LocalWorkspace, parse } from "./schemas.js";

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
    const loopback = ["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(ctx.req.socket.remoteAddress ?? "");
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
