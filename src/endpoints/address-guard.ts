/**
 * SSRF guard for agent server URLs. Agent editors choose the URL the hub calls, so without a
 * guard they could aim it at the hub's own network: cloud metadata (always refused, it hands
 * out credentials), loopback and private ranges (refused unless AGENT_SERVER_ALLOW_PRIVATE).
 * The scheme must be https: unless AGENT_SERVER_ALLOW_HTTP, since the request carries the turn
 * token and the asker's message. Checked twice: checkAgentUrl when the URL is registered (and
 * again on every call, for literal addresses and URLs stored before a setting changed), and
 * guardedLookup at connect time, because a public name may later resolve to a private
 * address (DNS rebinding). The lookup hands the connection exactly the addresses it checked.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

export const ALLOW_PRIVATE_HINT = "set AGENT_SERVER_ALLOW_PRIVATE=true to allow";
export const ALLOW_HTTP_HINT = "set AGENT_SERVER_ALLOW_HTTP=true to allow http:";

/** Why an address is refused: always for metadata, without allowPrivate for the rest. */
export type AddressClass = { kind: "metadata" } | { kind: "private"; range: string };

/** Resolves a host name to every address it has (injectable, so tests need no DNS). */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const METADATA_HOSTS = new Set([
  "metadata.google.internal", // GCP
  "metadata.goog",
  "metadata",
  "instance-data", // AWS
  "instance-data.ec2.internal",
]);
const METADATA_ADDRESSES = new Set([
  "169.254.169.254", // AWS, GCP, Azure, OCI, DigitalOcean, …
  "169.254.170.2", // AWS ECS task credentials
  "100.100.100.200", // Alibaba Cloud
  "192.0.0.192", // Oracle Cloud (classic)
  "fd00:ec2::254", // AWS over IPv6
  "168.63.129.16", // Azure wireserver (host agent, DNS; hands out certificates)
]);

/** Ranges refused without allowPrivate, most specific label first. */
const PRIVATE_RANGES: Array<[range: string, cidrs: string[]]> = [
  ["unspecified", ["0.0.0.0/8", "::/128"]],
  ["loopback", ["127.0.0.0/8", "::1/128"]],
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
  ["CGNAT", ["100.64.0.0/10"]],
  ["link-local", ["169.254.0.0/16", "fe80::/10"]],
  ["unique-local", ["fc00::/7", "fec0::/10"]],
  // RFC 8215: translated to IPv4 by the operator's own NAT64, wherever it puts the IPv4 inside.
  ["local-use NAT64", ["64:ff9b:1::/48"]],
  ["multicast", ["224.0.0.0/4", "ff00::/8"]],
  // Not routable on the internet: protocol assignments, benchmarking, documentation, reserved,
  // IPv4-compatible IPv6 and the discard prefix.
  ["reserved", ["192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "::/96", "100::/64", "2001:db8::/32"]],
];

const BLOCKS = PRIVATE_RANGES.map(([range, cidrs]) => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split("/") as [string, string];
    list.addSubnet(net, Number(bits), isIP(net) === 6 ? "ipv6" : "ipv4");
  }
  return { range, list };
});

/** The 16 bytes of an IPv6 address (with or without an embedded dotted IPv4), or undefined. */
function ipv6Bytes(ip: string): number[] | undefined {
  let text = ip;
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail = dotted[2]!.split(".").map(Number);
    if (tail.some((x) => x > 255)) return undefined;
    text = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)) : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const width = 8 - tail.length / 2;
  const fill = halves.length === 2 ? width - head.length - rest.length : 0;
  if (fill < 0) return undefined;
  const words = [...head, ...Array<number>(fill).fill(0), ...rest];
  if (words.length !== width || words.some((w) => Number.isNaN(w))) return undefined;
  return [...words.flatMap((w) => [w >> 8, w & 0xff]), ...tail];
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that a connection would reach:
 * IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::, the relay
 * delivers to a.b.c.d) and Teredo (2001:0::, the client's IPv4 in the last 32 bits, each bit
 * inverted) — or a private IPv4 would slip through dressed as IPv6.
 */
function embeddedIPv4(ip: string): string | undefined {
  const b = ipv6Bytes(ip);
  if (!b) return undefined;
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0].every((x, i) => b[i] === x);
  if (mapped || nat64) return b.slice(12).join(".");
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join(".");
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return b.slice(12).map((x) => x ^ 0xff).join(".");
  return undefined;
}

/** Normalises an address for comparison: no brackets or zone, IPv6 lowercased and compressed. */
function normalise(address: string): string {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (isIP(bare) !== 6) return bare;
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return bare;
  }
}

/** What an IP address is, when it is one the hub must not call; undefined for a public address. */
export function classifyAddress(address: string): AddressClass | undefined {
  let ip = normalise(address);
  const family = isIP(ip);
  if (family === 0) return { kind: "private", range: "not an IP address" };
  if (family === 6) ip = embeddedIPv4(ip) ?? ip;
  if (METADATA_ADDRESSES.has(ip)) return { kind: "metadata" };
  const type = isIP(ip) === 6 ? "ipv6" : "ipv4";
  const hit = BLOCKS.find((b) => b.list.check(ip, type));
  return hit ? { kind: "private", range: hit.range } : undefined;
}

/** The reason an address is refused under this setting, or undefined when it may be called. */
export function refusal(address: string, allowPrivate: boolean): string | undefined {
  const c = classifyAddress(address);
  if (!c) return undefined;
  if (c.kind === "metadata") return `refused address ${normalise(address)} (cloud metadata)`;
  return allowPrivate ? undefined : `refused address ${normalise(address)} (${c.range}; ${ALLOW_PRIVATE_HINT})`;
}

/** Which agent server URLs a hub accepts: loopback and private hosts, and plain http:. */
export interface AgentUrlPolicy {
  allowPrivate: boolean;
  allowHttp: boolean;
}

/** The reason a URL is refused as an agent server URL, or undefined when it is acceptable. */
export function checkAgentUrl(url: string, policy: AgentUrlPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "not an http(s) URL";
  if (parsed.username || parsed.password) return "a URL with credentials";
  // The WHATWG parser already turned 0x7f.1, 2130706433 and friends into dotted IPv4.
  const host = parsed.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  if (!host) return "a URL without a host";
  const refused = hostRefusal(host, policy.allowPrivate);
  if (refused) return refused;
  if (parsed.protocol === "http:" && !policy.allowHttp) return `an http: URL (agent servers must use https:; ${ALLOW_HTTP_HINT})`;
  return undefined;
}

/** Why a URL's host is refused; a name's addresses are checked when the hub connects (guardedLookup). */
function hostRefusal(host: string, allowPrivate: boolean): string | undefined {
  if (METADATA_HOSTS.has(host)) return `refused host ${host} (cloud metadata)`;
  if (isIP(host)) return refusal(host, allowPrivate);
  if (!allowPrivate && (host === "localhost" || host.endsWith(".localhost"))) {
    return `refused host ${host} (loopback; ${ALLOW_PRIVATE_HINT})`;
  }
  return undefined;
}

/** Thrown by guardedLookup; carries the refused address so the caller can say which. */
export class RefusedAddressError extends Error {
  readonly code = "EADDRREFUSED";
  constructor(
    readonly address: string,
    reason: string,
  ) {
    super(reason);
    this.name = "RefusedAddressError";
  }
}

const systemResolve: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `dns.lookup`-compatible function for `http.request({lookup})` / `net.connect`: resolves the
 * name once and refuses it if ANY address is metadata, or private without allowPrivate (an
 * attacker's DNS could answer one public and one private address). The connection then uses
 * exactly these addresses, so no second resolution can differ from what was checked.
 * Literal IP hosts never reach a lookup: check them with checkAgentUrl before connecting.
 */
export function guardedLookup(allowPrivate: boolean, resolve: Resolver = systemResolve) {
  return (hostname: string, options: { family?: number | string; all?: boolean } | number, callback: LookupCallback): void => {
    const opts = typeof options === "number" ? { family: options } : (options ?? {});
    const host = hostname.replace(/\.$/, "").toLowerCase();
    const refuse = (address: string, reason: string) => callback(new RefusedAddressError(address, reason), opts.all ? [] : "", 0);
    if (METADATA_HOSTS.has(host)) return refuse(host, `refused host ${host} (cloud metadata)`);
    resolve(hostname).then(
      (found) => {
        for (const { address } of found) {
          const reason = refusal(address, allowPrivate);
          if (reason) return refuse(address, reason);
        }
        const family = opts.family === "IPv4" ? 4 : opts.family === "IPv6" ? 6 : Number(opts.family ?? 0);
        const usable = found.filter((a) => !family || a.family === family);
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`no address for ${hostname}`);
          err.code = "ENOTFOUND";
          return callback(err, opts.all ? [] : "", 0);
        }
        if (opts.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, opts.all ? [] : "", 0),
    );
  };
}
