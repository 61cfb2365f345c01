/** Standard Webhooks signatures on agent calls (src/endpoints/signature.ts). */
import { describe, expect, it } from "vitest";
import { WebhookReplayGuard, newEndpointSecret, signWebhook, verifyWebhook } from "../../src/endpoints/signature.js";

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

  describe("what the hub signs beyond the spec: the target, and no replays", () => {
    const secret = newEndpointSecret();
    const url = "https://agent.example.com/base/agent/threads/ses_1/chat";
    const body = JSON.stringify({ message: "hi", threadId: "ses_1", url });
    const signed = () => signWebhook(secret, "m_1", now(), body);

    it("accepts the thread and URL it was signed for (URLs compared parsed)", () => {
      expect(verifyWebhook(secret, signed(), body, { url, threadId: "ses_1" })).toEqual({ ok: true });
      expect(verifyWebhook(secret, signed(), body, { url: "HTTPS://agent.example.com:443/base/agent/threads/ses_1/chat" })).toEqual({ ok: true });
    });

    it("refuses a captured request replayed against another thread or another URL", () => {
      expect(verifyWebhook(secret, signed(), body, { threadId: "ses_2" })).toEqual({ ok: false, reason: "signed for another thread" });
      expect(verifyWebhook(secret, signed(), body, { url: "https://agent.example.com/base/agent/threads/ses_2/chat" })).toEqual({ ok: false, reason: "signed for another URL" });
      expect(verifyWebhook(secret, signed(), body, { url: "https://other.example.com/base/agent/threads/ses_1/chat" })).toEqual({ ok: false, reason: "signed for another URL" });
      // A body signed without a target (not the hub's) names none, so it matches no expectation.
      const bare = '{"message":"hi"}';
      expect(verifyWebhook(secret, signWebhook(secret, "m_1", now(), bare), bare, { threadId: "ses_1" })).toEqual({ ok: false, reason: "signed for another thread" });
      // Editing the body to name the new target breaks the signature.
      const edited = body.replace("ses_1", "ses_2");
      expect(verifyWebhook(secret, signed(), edited, { threadId: "ses_2" })).toEqual({ ok: false, reason: "no matching signature" });
    });

    it("refuses the same request twice with a replay guard, and not a new signature of the same id", () => {
      const guard = new WebhookReplayGuard();
      const t = now();
      const first = signWebhook(secret, "m_1", t, body);
      expect(verifyWebhook(secret, first, body, { replayGuard: guard })).toEqual({ ok: true });
      expect(verifyWebhook(secret, first, body, { replayGuard: guard })).toEqual({ ok: false, reason: "a replayed webhook" });
      // The hub's retry: same id, later timestamp, new signature.
      expect(verifyWebhook(secret, signWebhook(secret, "m_1", t + 1, body), body, { replayGuard: guard })).toEqual({ ok: true });
      // A forged signature is never remembered, so it cannot lock the genuine request out.
      const forged = { ...signWebhook(secret, "m_9", t, body), "webhook-signature": "v1,AAAA" };
      expect(verifyWebhook(secret, forged, body, { replayGuard: guard }).ok).toBe(false);
      expect(verifyWebhook(secret, signWebhook(secret, "m_9", t, body), body, { replayGuard: guard })).toEqual({ ok: true });
      expect(guard.size).toBe(3);
    });

    it("keeps the guard bounded: what left the window is forgotten, and a full guard refuses rather than forgets", () => {
      const guard = new WebhookReplayGuard(2);
      const t = 1_000_000;
      const at = (id: string, ts: number) => verifyWebhook(secret, signWebhook(secret, id, ts, body), body, { replayGuard: guard, nowSeconds: ts });
      expect(at("a", t)).toEqual({ ok: true });
      expect(at("b", t)).toEqual({ ok: true });
      expect(at("c", t)).toEqual({ ok: false, reason: "a replayed webhook" });
      expect(guard.size).toBe(2);
      // 301 s later a and b are outside the tolerance (and would be refused for it): room again.
      expect(at("c", t + 301)).toEqual({ ok: true });
      expect(guard.size).toBe(1);
      expect(verifyWebhook(secret, signWebhook(secret, "a", t, body), body, { replayGuard: guard, nowSeconds: t + 301 })).toEqual({
        ok: false,
        reason: "a webhook-timestamp outside the tolerance",
      });
    });
  });
});
