/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com) on the requests the hub sends to
 * agent servers, so an agent can tell a genuine turn from a forged one. The secret is
 * `whsec_<base64 key>`; the signature is `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
 * verifyWebhook is here for tests and for agent authors; the hub itself only signs.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const SECRET_PREFIX = "whsec_";

export type WebhookHeaders = Record<string, string | string[] | undefined>;
export type WebhookVerification = { ok: true } | { ok: false; reason: string };

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
 * one valid `v1` signature suffices. Comparison is constant-time; timestamps further than
 * `toleranceSeconds` from now are refused, which bounds replays.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Buffer,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): WebhookVerification {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) return { ok: false, reason: "missing webhook headers" };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "an invalid webhook-timestamp" };
  const ts = Number(timestamp);
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return { ok: false, reason: "a webhook-timestamp outside the tolerance" };
  const expected = hmac(secretKey(secret), id, ts, body);
  for (const candidate of signatures.split(" ")) {
    const [version, encoded] = candidate.split(",", 2);
    if (version !== "v1" || !encoded) continue;
    const given = Buffer.from(encoded, "base64");
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: "no matching signature" };
}
