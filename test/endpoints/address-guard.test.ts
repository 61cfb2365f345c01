/** The SSRF guard for agent server URLs (src/endpoints/address-guard.ts). */
import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { checkAgentUrl, classifyAddress, guardedLookup, RefusedAddressError, type Resolver } from "../../src/endpoints/address-guard.js";

const strict = { allowPrivate: false, allowHttp: true };
const lenient = { allowPrivate: true, allowHttp: true };

describe("classifyAddress", () => {
  it.each([
    ["93.184.215.14", undefined],
    ["8.8.8.8", undefined],
    ["2606:4700:4700::1111", undefined],
    ["::ffff:8.8.8.8", undefined],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["10.0.0.5", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.254", "CGNAT"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::ffff:10.0.0.5", "private"], // IPv4-mapped, dotted
    ["::ffff:a00:5", "private"], // IPv4-mapped, as the URL parser writes it
    ["[::ffff:127.0.0.1]", "loopback"],
    ["64:ff9b::10.0.0.5", "private"], // NAT64
    ["64:ff9b::808:808", undefined],
    ["64:ff9b:1::808:808", "local-use NAT64"], // RFC 8215: the operator's own NAT64, whatever it embeds
    ["64:ff9b:1:ffff::1", "local-use NAT64"],
    ["2002:a00:5::1", "private"], // 6to4 of 10.0.0.5
    ["2002:7f00:1::", "loopback"], // 6to4 of 127.0.0.1
    ["2002:c0a8:101:1::1", "private"], // 6to4 of 192.168.1.1
    ["2002:808:808::1", undefined], // 6to4 of 8.8.8.8
    ["2001:0:4136:e378:8000:63bf:f5ff:fffa", "private"], // Teredo, client 10.0.0.5 (bits inverted)
    ["2001::80ff:fffe", "loopback"], // Teredo, client 127.0.0.1
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", undefined], // Teredo, client 8.8.8.8
    ["2001:db8::1", "reserved"], // documentation, not Teredo
  ])("%s is %s", (address, range) => {
    expect(classifyAddress(address)).toEqual(range ? { kind: "private", range } : undefined);
  });

  it.each([
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254", "fd00:ec2:0::254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe",
    "168.63.129.16", // Azure wireserver
    "::ffff:168.63.129.16",
    "2002:a83f:8110::1", // 6to4 of the Azure wireserver
    "2002:a9fe:a9fe::", // 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:5601:5601", // Teredo, client 169.254.169.254 (bits inverted)
  ])(
    "%s is cloud metadata",
    (address) => expect(classifyAddress(address)).toEqual({ kind: "metadata" }),
  );

  it("172.15/172.32 and 100.63/100.128 are public (range edges)", () => {
    for (const a of ["172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "11.0.0.0", "9.255.255.255"]) expect(classifyAddress(a)).toBeUndefined();
  });
});

describe("checkAgentUrl", () => {
  it.each([
    ["https://agent.example.com", undefined],
    ["http://agent.example.com:8080/base/", undefined],
    ["https://93.184.215.14/", undefined],
    ["https://[2606:4700:4700::1111]/", undefined],
    ["ftp://agent.example.com", "not an http(s) URL"],
    ["file:///etc/passwd", "not an http(s) URL"],
    ["not a url", "not a URL"],
    ["https://user:pw@agent.example.com", "a URL with credentials"],
    ["https://user@agent.example.com", "a URL with credentials"],
    ["http://10.0.0.5:3000", "refused address 10.0.0.5 (private; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://127.0.0.1", "refused address 127.0.0.1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://2130706433/", "refused address 127.0.0.1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://0x7f.1/", "refused address 127.0.0.1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://[::1]:3000", "refused address ::1 (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://[::ffff:192.168.0.1]/", "refused address ::ffff:c0a8:1 (private; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://100.64.1.1", "refused address 100.64.1.1 (CGNAT; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://0.0.0.0:3000", "refused address 0.0.0.0 (unspecified; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://localhost:3000", "refused host localhost (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
    ["http://agent.localhost", "refused host agent.localhost (loopback; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)"],
  ])("%s without allowPrivate: %s", (url, reason) => {
    expect(checkAgentUrl(url, strict)).toBe(reason);
  });

  it("allows loopback and private addresses with allowPrivate", () => {
    for (const url of ["http://127.0.0.1:3000", "http://localhost:3000", "http://10.0.0.5", "http://[fd12::1]/", "http://[::ffff:10.0.0.5]/"]) {
      expect(checkAgentUrl(url, lenient)).toBeUndefined();
    }
  });

  it("refuses http: unless allowHttp, naming the setting; https: always passes the scheme check", () => {
    const httpsOnly = { allowPrivate: false, allowHttp: false };
    const reason = "an http: URL (agent servers must use https:; set AGENT_SERVER_ALLOW_HTTP=true to allow http:)";
    expect(checkAgentUrl("http://agent.example.com/x", httpsOnly)).toBe(reason);
    expect(checkAgentUrl("HTTP://agent.example.com:80/", httpsOnly)).toBe(reason);
    expect(checkAgentUrl("https://agent.example.com/x", httpsOnly)).toBeUndefined();
    expect(checkAgentUrl("http://127.0.0.1:3000", { allowPrivate: true, allowHttp: false })).toBe(reason);
    expect(checkAgentUrl("http://127.0.0.1:3000", { allowPrivate: true, allowHttp: true })).toBeUndefined();
    // An address refused anyway is named for its address, the more serious reason.
    expect(checkAgentUrl("http://10.0.0.5", httpsOnly)).toBe("refused address 10.0.0.5 (private; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)");
  });

  it("refuses private addresses dressed as 6to4, Teredo or local-use NAT64 IPv6", () => {
    for (const url of ["https://[2002:a00:5::1]/", "https://[2001:0:4136:e378:8000:63bf:f5ff:fffa]/", "https://[64:ff9b:1::808:808]/"]) {
      expect(checkAgentUrl(url, strict)).toMatch(/^refused address .* \((private|local-use NAT64); set AGENT_SERVER_ALLOW_PRIVATE=true to allow\)$/);
      expect(checkAgentUrl(url, lenient)).toBeUndefined();
    }
  });

  it("always refuses cloud metadata, even with allowPrivate", () => {
    for (const [url, reason] of [
      ["http://169.254.169.254/latest/meta-data/", "refused address 169.254.169.254 (cloud metadata)"],
      ["http://[fd00:ec2::254]/", "refused address fd00:ec2::254 (cloud metadata)"],
      ["http://[::ffff:169.254.169.254]/", "refused address ::ffff:a9fe:a9fe (cloud metadata)"],
      ["http://100.100.100.200/", "refused address 100.100.100.200 (cloud metadata)"],
      ["http://168.63.129.16/machine?comp=goalstate", "refused address 168.63.129.16 (cloud metadata)"],
      ["http://[2002:a83f:8110::]/", "refused address 2002:a83f:8110:: (cloud metadata)"],
      ["http://metadata.google.internal/computeMetadata/v1/", "refused host metadata.google.internal (cloud metadata)"],
      ["http://METADATA.google.internal./", "refused host metadata.google.internal (cloud metadata)"],
    ]) {
      expect(checkAgentUrl(url!, lenient)).toBe(reason);
      expect(checkAgentUrl(url!, strict)).toBe(reason);
    }
  });
});

/** Runs the guarded lookup the way net.connect does. */
function lookup(allowPrivate: boolean, resolve: Resolver, host = "agent.test", options: { all?: boolean; family?: number } = { all: true }) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>((done) =>
    guardedLookup(allowPrivate, resolve)(host, options, (err, address, family) => done({ err, address, family })),
  );
}
const resolvesTo = (...addresses: string[]): Resolver => async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

describe("guardedLookup (connect time)", () => {
  it("passes on public addresses, all of them or the first, per the caller's options", async () => {
    const r = resolvesTo("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c");
    expect((await lookup(false, r)).address).toEqual([
      { address: "93.184.215.14", family: 4 },
      { address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 },
    ]);
    expect(await lookup(false, r, "agent.test", {})).toEqual({ err: null, address: "93.184.215.14", family: 4 });
    expect(await lookup(false, r, "agent.test", { family: 6 })).toMatchObject({ address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 });
  });

  it("refuses a name if ANY address is private (DNS rebinding), unless allowPrivate", async () => {
    const r = resolvesTo("93.184.215.14", "10.0.0.5");
    const { err } = await lookup(false, r);
    expect(err).toBeInstanceOf(RefusedAddressError);
    expect(err!.message).toBe("refused address 10.0.0.5 (private; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)");
    expect((await lookup(false, resolvesTo("::ffff:127.0.0.1"))).err?.message).toMatch(/^refused address ::ffff:7f00:1 \(loopback/);
    expect((await lookup(true, r)).err).toBeNull();
  });

  it("always refuses metadata addresses and names, even with allowPrivate", async () => {
    expect((await lookup(true, resolvesTo("93.184.215.14", "169.254.169.254"))).err?.message).toBe("refused address 169.254.169.254 (cloud metadata)");
    expect((await lookup(true, resolvesTo("fd00:ec2::254"))).err?.message).toBe("refused address fd00:ec2::254 (cloud metadata)");
    expect((await lookup(true, resolvesTo("168.63.129.16"))).err?.message).toBe("refused address 168.63.129.16 (cloud metadata)");
    expect((await lookup(false, resolvesTo("93.184.215.14", "2002:a00:5::1"))).err?.message).toBe("refused address 2002:a00:5::1 (private; set AGENT_SERVER_ALLOW_PRIVATE=true to allow)");
    let asked = false;
    const spy: Resolver = async () => ((asked = true), []);
    expect((await lookup(true, spy, "metadata.google.internal")).err?.message).toBe("refused host metadata.google.internal (cloud metadata)");
    expect(asked).toBe(false);
  });

  it("passes resolver errors through", async () => {
    const failing: Resolver = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND agent.test"), { code: "ENOTFOUND" });
    };
    expect((await lookup(false, failing)).err?.code).toBe("ENOTFOUND");
  });
});
