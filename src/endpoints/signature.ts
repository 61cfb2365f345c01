/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com) on the requests the hub sends to
 * agent servers, so an agent can tell a genuine turn from a forged one. The secret is
 * `whsec_<base64 key>`; the signature is `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
 * verifyWebhook is here for tests and for agent authors; the hub itself only signs.
 *
 * The wire format is the spec's, unchanged; what the hub signs goes further. Its JSON body names
 * the thread (`threadId`) and the full URL it called (`url`), so a captured request cannot be
 * replayed against another thread or another agent URL sharing the secret (verifyWebhook checks
 * both when told what to expect). A replay of the very same request within the tolerance is
 * caught by a WebhookReplayGuard, which remembers each (id, timestamp) it accepted. The hub gives
 * every retry a later timestamp (and so a new signature), so retries are never taken for replays.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const SECRET_PREFIX = "whsec_";

export type WebhookHeaders = Record<string, string | string[] | undefined>;
export type WebhookVerification = { ok: true } | { ok: false; reason: string };

/** What verifyWebhook checks besides the signature; every field is optional. */
export interface WebhookExpectations {
  /** How far the timestamp may be from now (default 300 s). */
  toleranceSeconds?: number;
  nowSeconds?: number;
  /** The URL this request must have been sent to (the body's `url`), compared as parsed URLs. */
  url?: string;
  /** The thread (session) this request must be for (the body's `threadId`). */
  threadId?: string;
  /** Refuses a request already accepted (the same id and timestamp), and remembers this one. */
  replayGuard?: WebhookReplayGuard;
}

const DEFAULT_TOLERANCE_S = 300;

/** A new endpoint secret: 32 random bytes, shown to the agent's editor once. */
export function newEndpointSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

/** The HMAC key: the base64 part of `whsec_…` (a bare base64 secret is accepted too, as the spec's libraries do). */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) throw new Error("an empty webhook secret");
  return key;
}

function hmac(key: Buffer, id: string, timestampSeconds: number, body: string | Buffer): Buffer {
  // The body is signed as the exact bytes sent: re-serialising JSON would change them.
  return createHmac("sha256", key).update(`${id}.${timestampSeconds}.`).update(body).digest();
}

/** The three headers to send with `body` (sign the exact bytes you send). */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Buffer): Record<string, string> {
  const signature = hmac(secretKey(secret), id, timestampSeconds, body).toString("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": `v1,${signature}` };
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a signed request. Several space-separated signatures may be present (secret rotation);
 * one valid `v1` signature suffices. Comparison is constant-time; timestamps further than the
 * tolerance from now are refused, which bounds replays; `url`, `threadId` and `replayGuard`
 * (WebhookExpectations) close what is left. The fourth argument may also be the tolerance alone.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Buffer,
  expectations: number | WebhookExpectations = {},
  nowSeconds?: number,
): WebhookVerification {
  const expect = typeof expectations === "number" ? { toleranceSeconds: expectations } : expectations;
  const toleranceSeconds = expect.toleranceSeconds ?? DEFAULT_TOLERANCE_S;
  const now = nowSeconds ?? expect.nowSeconds ?? Math.floor(Date.now() / 1000);
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) return { ok: false, reason: "missing webhook headers" };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "an invalid webhook-timestamp" };
  const ts = Number(timestamp);
  if (Math.abs(now - ts) > toleranceSeconds) return { ok: false, reason: "a webhook-timestamp outside the tolerance" };
  if (!hasSignature(secretKey(secret), id, ts, body, signatures)) return { ok: false, reason: "no matching signature" };
  // Only a genuine body is read: its fields are the hub's, not an attacker's.
  if (expect.url !== undefined || expect.threadId !== undefined) {
    const signed = signedTarget(body);
    if (expect.threadId !== undefined && signed.threadId !== expect.threadId) return { ok: false, reason: "signed for another thread" };
    if (expect.url !== undefined && !sameUrl(signed.url, expect.url)) return { ok: false, reason: "signed for another URL" };
  }
  if (expect.replayGuard && !expect.replayGuard.accept(id, ts, now, toleranceSeconds)) return { ok: false, reason: "a replayed webhook" };
  return { ok: true };
}

function hasSignature(key: Buffer, id: string, ts: number, body: string | Buffer, signatures: string): boolean {
  const expected = hmac(key, id, ts, body);
  for (const candidate of signatures.split(" ")) {
    const [version, encoded] = candidate.split(",", 2);
    if (version !== "v1" || !encoded) continue;
    const given = Buffer.from(encoded, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}

/** The `threadId` and `url` a signed JSON body names (undefined when it names none). */
function signedTarget(body: string | Buffer): { threadId?: unknown; url?: unknown } {
  try {
    const parsed: unknown = JSON.parse(body.toString());
    return typeof parsed === "object" && parsed !== null ? (parsed as { threadId?: unknown; url?: unknown }) : {};
  } catch {
    return {};
  }
}

function sameUrl(signed: unknown, expected: string): boolean {
  if (typeof signed !== "string") return false;
  try {
    return new URL(signed).href === new URL(expected).href;
  } catch {
    return false;
  }
}

/**
 * Remembers the webhooks accepted within the tolerance window, so that the same request sent
 * again is refused. Bounded: what is older than the window is forgotten (its timestamp would be
 * refused anyway), and when `maxEntries` are still remembered a new webhook is refused rather
 * than one forgotten early, since forgetting would let that one be replayed.
 */
export class WebhookReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 10_000) {}

  /** True, and remembered, when this (id, timestamp) was not accepted before. */
  accept(id: string, timestampSeconds: number, nowSeconds: number, toleranceSeconds: number): boolean {
    const key = `${timestampSeconds}.${id}`;
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.maxEntries) {
      for (const [k, ts] of this.seen) if (Math.abs(nowSeconds - ts) > toleranceSeconds) this.seen.delete(k);
      if (this.seen.size >= this.maxEntries) return false;
    }
    this.seen.set(key, timestampSeconds);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
