/**
 * The web app (`web/`, built into `dist/web` by `npm run build`), served by the hub: hashed files
 * under /assets are immutable; the page itself (at `/`, and at `/shared/{token}` for browsers,
 * whose JSON stays for API clients by `Accept`) is never cached, so a new build shows at once.
 * The app talks to the hub only through the public API and Socket.IO, from the same origin.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Middleware } from "koa";
import type { HubState } from "./context.js";

/** Where `npm run build` puts the app: <package root>/dist/web, from src/ or from dist/src/. */
export function defaultWebDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "dist", "web");
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/**
 * The page may load only what the hub serves, and talk only to the hub: `connect-src` is 'self'
 * (which CSP3 browsers take to cover the same origin's ws:/wss:) plus, for browsers that do not,
 * the ws(s) form of PUBLIC_URL when it is set. Never bare `ws: wss:`, which is any host.
 */
export function pageCsp(publicUrl: string | undefined): string {
  const socketOrigin = publicUrl ? new URL(publicUrl).origin.replace(/^http/, "ws") : undefined;
  const connect = ["'self'", ...(socketOrigin ? [socketOrigin] : [])].join(" ");
  return `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}
const ASSET = /^\/assets\/([A-Za-z0-9._-]+)$/;
const SHARED_PAGE = /^\/shared\/[^/]+$/;

export function webApp(dir: string, publicUrl?: string): Middleware<HubState> {
  const csp = pageCsp(publicUrl);
  return async (ctx, next) => {
    if (ctx.method !== "GET" && ctx.method !== "HEAD") return next();
    const asset = ASSET.exec(ctx.path);
    if (asset) {
      const file = path.join(dir, "assets", asset[1]!);
      if (!fs.existsSync(file)) return next();
      ctx.type = TYPES[path.extname(file)] ?? "application/octet-stream";
      ctx.set("Cache-Control", "public, max-age=31536000, immutable");
      ctx.body = fs.createReadStream(file);
      return;
    }
    const page = ctx.path === "/" || ctx.path === "/index.html" || (SHARED_PAGE.test(ctx.path) && ctx.accepts("json", "html") === "html");
    if (!page) return next();
    const index = path.join(dir, "index.html");
    if (!fs.existsSync(index)) {
      ctx.type = "text/plain";
      ctx.body = "The web app is not built: run `npm run build` (npm install does it).";
      ctx.status = 503;
      return;
    }
    ctx.type = "text/html; charset=utf-8";
    // The shared page keeps the share headers securityHeaders set (no-store, no referrer, noindex).
    if (!SHARED_PAGE.test(ctx.path)) ctx.set("Cache-Control", "no-cache");
    ctx.set("Content-Security-Policy", csp);
    ctx.set("X-Frame-Options", "DENY");
    ctx.body = fs.createReadStream(index);
  };
}
