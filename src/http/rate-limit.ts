/**
 * Request limits (429 with Retry-After; the request does nothing): per credential on the API,
 * per address on routes that need no credential, and per address on refused credentials, so
 * guessing keys or tokens is slow (that one is kept by authenticate.ts). The counting is
 * src/rate-limit.ts.
 */
import type { Context, Middleware } from "koa";
import { addressKey, requestClientAddress } from "../auth/client-address.js";
import { credentialKey } from "../auth/principal.js";
import { TooManyRequests } from "../errors.js";
import type { RateLimiter } from "../rate-limit.js";
import type { HubState } from "./context.js";

/** The request's client address as every per-address limit keys it (TRUST_PROXY and its hops are the app's). */
export function clientAddressOf(ctx: Pick<Context, "req" | "app">): string {
  return requestClientAddress(ctx.req, { trustProxy: ctx.app.proxy, hops: ctx.app.maxIpsCount });
}

/** Runs after authentication, so the limit follows the credential, not the address. */
export function rateLimit(limiter: RateLimiter | undefined): Middleware<HubState> {
  return async (ctx, next) => {
    if (limiter) {
      const wait = await limiter.hit(credentialKey(ctx.state.principal));
      if (wait > 0) throw new TooManyRequests(wait);
    }
    await next();
  };
}

/** For routes without a credential: the limit follows the client's address. */
export function addressRateLimit(limiter: RateLimiter | undefined): Middleware<HubState> {
  return async (ctx, next) => {
    if (limiter) {
      const wait = await limiter.hit(addressKey(clientAddressOf(ctx)));
      if (wait > 0) throw new TooManyRequests(wait);
    }
    await next();
  };
}
