/**
 * Who may reach the embedded-only routes. Local control (/_local) takes the CLI on this machine
 * with the hub file's secret; local sign-in and the built-in demo take browsers on this machine
 * and do not exist (404) behind a proxy, where whoever reaches the proxy would otherwise list the
 * users and sign in as any of them. Every check reads the raw socket and Host, never a forwarded one.
 */
import { timingSafeEqual } from "node:crypto";
import type { Middleware } from "koa";
import { Forbidden, NotFound } from "../../../errors.js";
import type { HubState } from "../../context.js";
import type { LocalHubFile } from "./hub-file.js";

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

/** A browser on this machine only (`refusal` is the 403's detail); behind a proxy the route does not exist (404). */
export function browserOnThisMachine(refusal: string): Middleware<HubState> {
  return async (ctx, next) => {
    if (isForwarded(ctx)) throw new NotFound("Resource");
    if (!isLocalRequest(ctx)) throw new Forbidden(refusal);
    await next();
  };
}

/**
 * The `agenthub` CLI on this machine: loopback, no forwarding header, and the hub file's secret
 * in `x-agenthub-local`. TRUST_PROXY alone does not turn this off: the CLI connects directly,
 * and the secret decides.
 */
export function cliOnThisMachine(getInfo: () => LocalHubFile | undefined): Middleware<HubState> {
  return async (ctx, next) => {
    const info = getInfo();
    const given = Buffer.from(ctx.get("x-agenthub-local"));
    const expected = Buffer.from(info?.secret ?? "");
    // A request with forwarding headers came through a proxy on this machine, not from the CLI.
    const loopback = LOOPBACK.includes(ctx.req.socket.remoteAddress ?? "") && !hasForwardingHeaders(ctx.req);
    if (!info || !loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new Forbidden("Local control is only for the agenthub CLI on this machine");
    }
    await next();
  };
}
