/** The fetch protocol libraries get (endpoints/guarded-fetch.ts): the SSRF guard, no redirects, timeouts and a byte cap. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboundError, guardedFetch, type OutboundOptions } from "../../src/endpoints/guarded-fetch.js";

let server: http.Server;
let base: string;
const LIMITS = { connectMs: 2000, firstByteMs: 1000, idleMs: 1000, maxBytes: 1000 };
const open: OutboundOptions = { ...LIMITS, allowPrivate: true, allowHttp: true };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/redirect") return void res.writeHead(302, { location: "http://169.254.169.254/latest" }).end();
    if (req.url === "/big") return void res.end("x".repeat(5000));
    if (req.url === "/big-chunked") {
      res.writeHead(200);
      for (let i = 0; i < 10; i++) res.write("y".repeat(200));
      return void res.end();
    }
    if (req.url === "/slow") return; // never answers
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, method: req.method }));
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe("guardedFetch", () => {
  it("fetches an allowed URL", async () => {
    const res = await guardedFetch(open)(`${base}/x`, { method: "POST", body: "{}" });
    expect(await res.json()).toEqual({ ok: true, method: "POST" });
  });

  it("refuses private, metadata and http: addresses unless allowed, before connecting", async () => {
    await expect(guardedFetch({ ...LIMITS, allowPrivate: false, allowHttp: true })(`${base}/x`)).rejects.toThrow(/refused 127\.0\.0\.1.*loopback/);
    await expect(guardedFetch(open)("http://169.254.169.254/latest/meta-data")).rejects.toThrow(/cloud metadata/);
    await expect(guardedFetch({ ...open, allowHttp: false })(`${base}/x`)).rejects.toThrow(/http: URL/);
  });

  it("checks what a name resolves to when it connects", async () => {
    const rebinding = guardedFetch({ ...LIMITS, allowPrivate: false, allowHttp: true, resolve: async () => [{ address: "10.0.0.7", family: 4 }] });
    await expect(rebinding("http://friendly.example.com/")).rejects.toThrow(/refused friendly\.example\.com.*10\.0\.0\.7/);
  });

  it("does not follow redirects", async () => {
    await expect(guardedFetch(open)(`${base}/redirect`)).rejects.toThrow(/redirect \(302 to http:\/\/169\.254\.169\.254/);
  });

  it("cuts bodies at maxBytes, declared or streamed", async () => {
    await expect(guardedFetch(open)(`${base}/big`)).rejects.toThrow(OutboundError);
    const res = await guardedFetch(open)(`${base}/big-chunked`);
    await expect(res.text()).rejects.toThrow(/passed the 1000 bytes allowed/);
  });

  it("times out a server that does not answer", async () => {
    await expect(guardedFetch({ ...open, firstByteMs: 300 })(`${base}/slow`)).rejects.toThrow(/did not start answering in time/);
  });
});
