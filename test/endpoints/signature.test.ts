/** Standard Webhooks signatures on agent calls (src/endpoints/signature.ts). */
import { describe, expect, it } from "vitest";
import { newEndpointSecret, signWebhook, verifyWebhook } from "../../src/endpoints/signature.js";

// The "sign function works" vector of the spec's reference library
// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts).
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

const now = () => Math.floor(Date.now() / 1000);

describe("webhook signatures", () => {
  it("match the Standard Webhooks test vector", () => {
    const headers = signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body);
    expect(headers).toEqual({ "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.timestamp), "webhook-signature": VECTOR.signature });
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, 300, VECTOR.timestamp + 10)).toEqual({ ok: true });
  });

  it("makes whsec_ secrets of 32 random bytes", () => {
    const a = newEndpointSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(newEndpointSecret()).not.toBe(a);
  });

  it("round-trips, with Buffer bodies and header names in any case", () => {
    const secret = newEndpointSecret();
    const body = JSON.stringify({ message: "héllo" });
    const headers = signWebhook(secret, "m_1", now(), body);
    expect(verifyWebhook(secret, headers, body)).toEqual({ ok: true });
    expect(verifyWebhook(secret, headers, Buffer.from(body))).toEqual({ ok: true });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook(secret, upper, body)).toEqual({ ok: true });
  });

  it("refuses a tampered body, another secret, another id and a missing header", () => {
    const secret = newEndpointSecret();
    const body = '{"message":"hi"}';
    const headers = signWebhook(secret, "m_1", now(), body);
    expect(verifyWebhook(secret, headers, '{"message":"hI"}')).toEqual({ ok: false, reason: "no matching signature" });
    expect(verifyWebhook(newEndpointSecret(), headers, body).ok).toBe(false);
    expect(verifyWebhook(secret, { ...headers, "webhook-id": "m_2" }, body).ok).toBe(false);
    expect(verifyWebhook(secret, { ...headers, "webhook-signature": undefined }, body)).toEqual({ ok: false, reason: "missing webhook headers" });
    expect(verifyWebhook(secret, { ...headers, "webhook-signature": "v1," }, body).ok).toBe(false);
    expect(verifyWebhook(secret, { ...headers, "webhook-timestamp": "soon" }, body).ok).toBe(false);
  });

  it("refuses timestamps outside the tolerance, either side", () => {
    const secret = newEndpointSecret();
    const old = signWebhook(secret, "m_1", now() - 301, "{}");
    const future = signWebhook(secret, "m_1", now() + 301, "{}");
    expect(verifyWebhook(secret, old, "{}")).toEqual({ ok: false, reason: "a webhook-timestamp outside the tolerance" });
    expect(verifyWebhook(secret, future, "{}").ok).toBe(false);
    expect(verifyWebhook(secret, old, "{}", 600)).toEqual({ ok: true });
  });

  it("accepts one valid signature among several (rotation), ignoring other versions", () => {
    const secret = newEndpointSecret();
    const headers = signWebhook(secret, "m_1", now(), "{}");
    const valid = headers["webhook-signature"]!;
    const other = signWebhook(newEndpointSecret(), "m_1", now(), "{}")["webhook-signature"]!;
    const several = [other, `v2,${valid.slice(3)}`, valid, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="].join(" ");
    expect(verifyWebhook(secret, { ...headers, "webhook-signature": several }, "{}")).toEqual({ ok: true });
    expect(verifyWebhook(secret, { ...headers, "webhook-signature": `${other} v2,${valid.slice(3)}` }, "{}").ok).toBe(false);
  });
});
