/**
 * The embedded-only routes, together: local control for the CLI (control.ts), the web app's
 * local sign-in (sign-in.ts) and its built-in demo agent (demo.ts). server.ts mounts them only
 * on the embedded default (app.ts `extraRouters`); they are not in the OpenAPI document, which
 * describes the API every hub serves.
 */
import type { Router } from "@koa/router";
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Authenticator } from "../../../auth/authenticate.js";
import { LocalHub, type LocalJwt } from "../../../domain/local/service.js";
import type { LocalRateLimiter } from "../../../rate-limit.js";
import type { Services } from "../../../services.js";
import { authenticate } from "../../authenticate.js";
import type { HubState } from "../../context.js";
import { localControlRoutes } from "./control.js";
import { localDemoRoutes } from "./demo.js";
import type { LocalHubFile } from "./hub-file.js";
import { localSignInRoutes } from "./sign-in.js";

export interface LocalRoutesDeps {
  db: Knex;
  jwt: LocalJwt;
  services: Services;
  auth: Authenticator;
  /** Refused credentials per address: the demo's credential counts against the same limit as every route's. */
  failedAuth: LocalRateLimiter;
  /** The hub file once written (the hub writes it after it listens). */
  hubFile: () => LocalHubFile | undefined;
  hubUrl: () => string;
  log: Logger;
}

export function localRoutes(deps: LocalRoutesDeps): { routers: Router<HubState>[]; close(): Promise<void> } {
  const local = new LocalHub(deps.db, deps.jwt, deps.services.masterKeys);
  const demo = localDemoRoutes({ authenticate: authenticate(deps.auth, deps.failedAuth), services: deps.services, hubUrl: deps.hubUrl, log: deps.log });
  return { routers: [localControlRoutes(deps.hubFile, local), localSignInRoutes(local), demo.router], close: demo.close };
}
