/**
 * The client address every per-address limit keys on (src/auth/client-address.ts): the peer
 * unless a proxy is trusted, then the X-Forwarded-For entry TRUSTED_PROXY_HOPS from the right,
 * which no client can write. Koa's ctx.ip (proxy + maxIpsCount) must agree with it.
 */
import Koa from "koa";
import { describe, expect, it } from "vitest";
import { clientAddress } from "../../src/auth/client-address.js";

const off = { trustProxy: false, hops: 1 };
const one = { trustProxy: true, hops: 1 };
const two = { trustProxy: true, hops: 2 };

describe("clientAddress", () => {
  it("is the peer when no proxy is trusted, whatever the request says", () => {
    expect(clientAddress("10.0.0.5", "1.2.3.4", off)).toBe("10.0.0.5");
    expect(clientAddress("10.0.0.5", undefined, off)).toBe("10.0.0.5");
  });

  it("behind trusted proxies, is the entry they wrote, never the client's own leftmost", () => {
    expect(clientAddress("10.0.0.1", "1.2.3.4", one)).toBe("1.2.3.4");
    expect(clientAddress("10.0.0.1", "6.6.6.6, 1.2.3.4", one)).toBe("1.2.3.4");
    expect(clientAddress("10.0.0.1", " 6.6.6.6 ,, 7.7.7.7,1.2.3.4 ", one)).toBe("1.2.3.4");
    expect(clientAddress("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.9", two)).toBe("1.2.3.4");
    // Node joins a repeated header; an array is read the same way.
    expect(clientAddress("10.0.0.1", ["6.6.6.6", "1.2.3.4"], one)).toBe("1.2.3.4");
  });

  it("falls back to the peer without a header, and to the leftmost when there are fewer entries than hops", () => {
    expect(clientAddress("10.0.0.1", undefined, one)).toBe("10.0.0.1");
    expect(clientAddress("10.0.0.1", " , ", one)).toBe("10.0.0.1");
    expect(clientAddress("10.0.0.1", "1.2.3.4", two)).toBe("1.2.3.4");
    expect(clientAddress(undefined, undefined, off)).toBe("");
  });

  it("agrees with Koa's ctx.ip when the app is built with proxy and maxIpsCount", () => {
    for (const [trust, header] of [[one, "6.6.6.6, 1.2.3.4"], [two, "6.6.6.6, 1.2.3.4, 10.0.0.9"], [two, "1.2.3.4"], [off, "1.2.3.4"]] as const) {
      const app = new Koa({ proxy: trust.trustProxy, maxIpsCount: trust.hops });
      const req = { headers: { "x-forwarded-for": header }, socket: { remoteAddress: "10.0.0.1" } };
      const ctx = app.createContext(req as never, {} as never);
      expect(ctx.ip, header).toBe(clientAddress("10.0.0.1", header, trust));
    }
  });
});
