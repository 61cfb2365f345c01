/**
 * The one authentication middleware: every authenticated route (the API, /v1 and the key
 * exchange) goes through it, so each takes its credential under the same refused-credential
 * limit per address and ends with the same `ctx.state.principal`. Routes differ only in where
 * the credential is read (Bearer by default; `x-api-key` for the key exchange).
 */
import type { Context, Middleware } from "koa";
import { Authenticator } from "../auth/authenticate.js";
import { addressKey } from "../auth/client-address.js";
import { TooManyRequests, Unauthorized } from "../errors.js";
import type { LocalRateLimiter } from "../rate-limit.js";
import type { HubState } from "./context.js";
import { clientAddressOf } from "./rate-limit.js";

/** Reads the credential from the request; an Unauthorized thrown here counts as a refused credential. */
export type CredentialReader = (ctx: Context) => string | undefined;

/** `Authorization: Bearer <token or key>`. */
export const bearerCredential: CredentialReader = (ctx) => Authenticator.bearer(ctx.get("authorization"));

/** Authenticates the request; an address past its refused-credential limit is answered 429 before any check. */
export function authenticate(auth: Authenticator, failures: LocalRateLimiter, read: CredentialReader = bearerCredential): Middleware<HubState> {
  return async (ctx, next) => {
    const address = addressKey(clientAddressOf(ctx));
    const wait = failures.over(address);
    if (wait > 0) throw new TooManyRequests(wait);
    try {
      ctx.state.principal = await auth.authenticate(read(ctx));
    } catch (err) {
      if (err instanceof Unauthorized) await failures.hit(address);
      throw err;
    }
    await next();
  };
}
