/**
 * The client's address: the one notion of "who is at the other end" that every per-address limit
 * uses, REST and socket handshakes alike. Without a trusted proxy it is the peer of the TCP
 * connection, whatever the request says. Behind TRUST_PROXY it is read from X-Forwarded-For
 * counting TRUSTED_PROXY_HOPS entries from the RIGHT: each trusted proxy appends the address it
 * saw, so the rightmost entries are the only ones a client cannot write. The leftmost entry is
 * whatever the client sent, and keying limits on it let anyone dodge them.
 */
import type { IncomingHttpHeaders } from "node:http";

export interface ProxyTrust {
  /** TRUST_PROXY: the hub sits behind proxies that append to X-Forwarded-For. */
  trustProxy: boolean;
  /** TRUSTED_PROXY_HOPS: how many of those proxies there are (Koa's maxIpsCount agrees). */
  hops: number;
}

/** `forwardedFor` is the raw X-Forwarded-For value (Node joins repeated headers with ", "). */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: ProxyTrust): string {
  const own = peer ?? "";
  if (!trust.trustProxy || forwardedFor === undefined) return own;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  // Fewer entries than trusted hops: the first proxy saw the client itself (as Koa's ctx.ip does).
  return hops.slice(-trust.hops)[0] ?? own;
}

/** The same for an HTTP request (a Koa ctx's or a socket handshake's). */
export function requestClientAddress(req: { socket: { remoteAddress?: string | undefined }; headers: IncomingHttpHeaders }, trust: ProxyTrust): string {
  return clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], trust);
}

/** The limiter key for an address. */
export const addressKey = (address: string): string => `ip:${address}`;
