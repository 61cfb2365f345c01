/**
 * Fuzzing the public surface with generated bad input (fast-check): a raw HTTP client that
 * sends anything (methods, request targets, bodies and headers fetch refuses), the checks every
 * answer must pass, a snapshot of the stored state, the generators of bad input, every REST
 * route of the contract with the schema of its body, and a small world of real ids to aim at.
 *
 * Knobs (environment): FUZZ_SEED (a fast-check seed, to replay a run), FUZZ_RUNS (a multiplier
 * of every numRuns, default 1), FUZZ_SKIP (comma-separated classes of input to leave out while
 * hunting for other failures: nul, deep, int32, encoding, proto, othermethod (methods beyond
 * GET/HEAD/OPTIONS/POST/PUT/PATCH/DELETE), parser (what Node's HTTP parser refuses itself),
 * ackshape (socket events sent with no payload, or an extra argument, before the ack)).
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { SignJWT } from "jose";
import type { Knex } from "knex";
import { AGENT_KEY_SCOPES } from "../../src/auth/principal.js";
import { beforeAll } from "vitest";
import { useHub, type HubFixture } from "./hub.js";
import { addToTeam, appendMessage, makeAgent, makeKey, makeSession, userId } from "./factories.js";
import { JWT_SECRET } from "./env.js";

// ---- knobs ------------------------------------------------------------------------------------

const SKIP = new Set((process.env.FUZZ_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean));
/** Classes of input the hub is known (or suspected) to mishandle; FUZZ_SKIP leaves them out. */
export type InputClass = "nul" | "deep" | "int32" | "encoding" | "proto" | "othermethod" | "parser" | "ackshape";
export const enabled = (c: InputClass) => !SKIP.has(c);
const when = <T>(c: InputClass, items: T[]): T[] => (enabled(c) ? items : []);

/** fast-check parameters: seedable, runs scaled by FUZZ_RUNS, shrinking bounded in time. */
export function fuzzParams<T>(numRuns: number, examples: T[] = []): fc.Parameters<T> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  return {
    numRuns: Math.max(1, Math.round(numRuns * Number(process.env.FUZZ_RUNS ?? 1))),
    ...(seed === undefined ? {} : { seed }),
    examples,
    interruptAfterTimeLimit: 25_000,
    markInterruptAsFailure: false,
    verbose: 0,
  };
}

/**
 * The fuzz hubs' settings: limits raised out of the way (per-address and per-credential rates,
 * refused credentials, socket events), so every generated input reaches the code it aims at.
 */
export const FUZZ_HUB_ENV: Record<string, string> = {
  SOCKET_EVENTS_PER_10S: "100000",
  RATE_LIMIT_PER_10S: "10000000",
  PUBLIC_RATE_LIMIT_PER_10S: "10000000",
  FAILED_AUTH_PER_10S_PER_IP: "1000000",
  HANDSHAKES_PER_10S_PER_IP: "1000000",
};

/** With FUZZ_STATS=1, how often each answer was seen per property, printed when it ends. */
export class AnswerStats {
  private readonly counts = new Map<string, number>();
  constructor(private readonly name: string) {}
  see(answer: string): void {
    answer = JSON.stringify(answer).slice(1, -1).slice(0, 80);
    this.counts.set(answer, (this.counts.get(answer) ?? 0) + 1);
  }
  print(): void {
    if (!process.env.FUZZ_STATS) return;
    const rows = [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(5)}  ${k}`);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    console.log(`answers of ${this.name} (${total} in all):\n${rows.join("\n")}`);
  }
}

// ---- raw HTTP ---------------------------------------------------------------------------------

export interface RawRequest {
  method: string;
  /** The request target, sent byte for byte (already percent-encoded where it should be). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  /** What was bad about it, for the report. */
  faults: string[];
  /** The route it aims at (`METHOD /path/:param`), to group failures by. */
  route?: string;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

export function send(baseUrl: string, req: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers["content-length"] = String(req.body.length);
    const r = http.request(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: keepAlive, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = undefined;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    r.on("timeout", () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on("error", reject);
    r.end(req.body);
  });
}

// ---- what every answer must be -----------------------------------------------------------------

const STACK = /\n\s+at .+:\d+:\d+/;

/** What is wrong with an answer: a 5xx, or an error that is not a proper problem+json. */
export function answerViolations(req: Pick<RawRequest, "method">, res: RawResponse): string[] {
  const out: string[] = [];
  if (res.status >= 500) out.push(`answered ${res.status} (must be < 500)`);
  if (STACK.test(res.text)) out.push("the answer carries a stack trace");
  if (res.status >= 400) {
    const ct = String(res.headers["content-type"] ?? "");
    if (!/^application\/problem\+json\b/.test(ct)) out.push(`error answered with content-type ${JSON.stringify(ct || null)}, not application/problem+json`);
    if (req.method !== "HEAD") {
      const b = res.body as Record<string, unknown> | undefined;
      if (!b || typeof b !== "object") out.push("error body is not a JSON object");
      else {
        if (typeof b.type !== "string" || !b.type.startsWith("urn:agenthub:problem:")) out.push(`problem type ${JSON.stringify(b.type)} does not start with urn:agenthub:problem:`);
        if (b.status !== res.status) out.push(`problem status ${JSON.stringify(b.status)} differs from HTTP status ${res.status}`);
        if (typeof b.title !== "string" || typeof b.detail !== "string") out.push("problem lacks a string title and detail");
      }
    }
  }
  return out;
}

// ---- stored state -----------------------------------------------------------------------------

/** Every table a request could change (users included: a bad credential must not provision one). */
export const STATE_TABLES = [
  "workspaces",
  "users",
  "agents",
  "agent_members",
  "api_keys",
  "sessions",
  "session_messages",
  "share_links",
  "groups",
  "group_agents",
  "group_sessions",
  "team_channels",
  "team_channel_subscriptions",
  "team_channel_messages",
];

export type Snapshot = Record<string, string>;

let snapshotSql: string | undefined;

/** Row count and a hash of every row of each table, in one round trip. */
export async function snapshot(db: Knex): Promise<Snapshot> {
  if (!snapshotSql) {
    const { rows } = await db.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY(?)", [STATE_TABLES]);
    const present = new Set(rows.map((r: { table_name: string }) => r.table_name));
    snapshotSql = STATE_TABLES.filter((t) => present.has(t))
      .map((t) => `SELECT '${t}' AS t, count(*)::int AS n, coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '-') AS h FROM "${t}" r`)
      .join(" UNION ALL ");
  }
  const { rows } = await db.raw(snapshotSql);
  return Object.fromEntries(rows.map((r: { t: string; n: number; h: string }) => [r.t, `${r.n} rows, ${r.h.slice(0, 8)}`]));
}

export function stateChanges(before: Snapshot, after: Snapshot): string[] {
  return Object.keys({ ...before, ...after })
    .filter((t) => before[t] !== after[t])
    .map((t) => `state changed: ${t} ${before[t]} -> ${after[t]}`);
}

// ---- describing inputs briefly -----------------------------------------------------------------

/** A string for the report: escapes shown, long runs cut. */
export function brief(value: string, max = 160): string {
  const shown = JSON.stringify(value.length > max ? value.slice(0, max) : value);
  return value.length > max ? `${shown}…(${value.length} chars)` : shown;
}

export function describeRequest(req: RawRequest): string {
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${brief(v, 60)}`)
    .join("; ");
  const body = req.body === undefined ? "" : ` body=${brief(req.body.toString("latin1"), 200)}`;
  return `${req.method} ${brief(req.path, 200)}${headers ? ` [${headers}]` : ""}${body}${req.faults.length ? ` (bad: ${req.faults.join(", ")})` : ""}`;
}

/** Gives a generated value a short printout in fast-check's counterexample report. */
export function printable<T extends object>(value: T, show: (v: T) => string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => show(value), enumerable: false });
  return value;
}

// ---- generators: text --------------------------------------------------------------------------

export const NUL = "\u0000";
export const INT32_MAX = 2 ** 31 - 1;

/** Odd pieces of text: unicode edge cases, control characters, quoting, injection-shaped junk. */
const ODD_TEXT = [
  ...when("nul", [NUL, `a${NUL}b`]),
  "\uD800",
  "\uDFFF",
  "\uDBFF\uDFFF",
  "🦄",
  "👩‍👩‍👧‍👦",
  "\u202Eevil",
  "\u200F",
  "مرحبا",
  "עברית",
  "\u200B",
  "\uFEFF",
  "e\u0301",
  "\u0085",
  "\u2028",
  "\u001B[31m",
  "\r\n",
  "\t",
  "'",
  '"',
  "\\",
  "%",
  "../",
  "<script>alert(1)</script>",
  "${x}",
  "' OR 1=1 --",
  "\u00FF",
  "𝕏",
  "\uFFFF",
];

export const junkText = fc
  .array(fc.oneof(fc.constantFrom(...ODD_TEXT), fc.string({ unit: "binary", maxLength: 6 }), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join(""));

/** Text with a NUL in it (Postgres text cannot hold one). */
export const nulText = fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })).map(([a, b]) => `${a}${NUL}${b}`);

// ---- generators: JSON values -------------------------------------------------------------------

/**
 * A placeholder for JSON text that JSON.stringify cannot make (nesting thousands deep, number
 * literals beyond double range): `toJsonText` swaps it in.
 */
const RAW = /"@@raw:([A-Za-z0-9_-]*)@@"/g;
export const rawJson = (text: string) => `@@raw:${Buffer.from(text).toString("base64url")}@@`;
export const toJsonText = (value: unknown): string =>
  (JSON.stringify(value) ?? "null").replace(RAW, (_, b64: string) => Buffer.from(b64, "base64url").toString());

export function deepText(depth: number, kind: "array" | "object"): string {
  return kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** JSON nested thousands deep (3,000 is what crashed the hub), as an opaque value for bodies. */
export const deepValue = fc
  .tuple(fc.constantFrom(3000, 5000, 20_000, 100_000), fc.constantFrom<"array" | "object">("array", "object"))
  .map(([depth, kind]) => ({ v: rawJson(deepText(depth, kind)), label: `JSON nested ${depth} deep (${kind}s)` }));

/** An object with an own `__proto__` key, as JSON.parse makes it from `{"__proto__": …}`. */
export function withProto(base: Record<string, unknown>, value: unknown): Record<string, unknown> {
  const o = { ...base };
  Object.defineProperty(o, "__proto__", { value, enumerable: true, writable: true, configurable: true });
  return o;
}

/** Numbers no count, id or hours field takes. */
export const badNumber = fc.oneof(
  fc.constantFrom<unknown>(-1, 0, 1.5, -0.5, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, Number.MAX_VALUE, rawJson("1e400"), rawJson("-1e400"), rawJson("1" + "0".repeat(400))),
  fc.integer({ max: 0 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  ...(enabled("int32") ? [fc.constantFrom<unknown>(2 ** 31, 2 ** 32, 2 ** 31 - 1 + 2 ** 31)] : []),
);

/** A value of some other JSON type than `not`. */
export function wrongType(not: "string" | "number" | "array" | "object" | "boolean"): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.oneof(junkText, fc.constantFrom("", "1", "true", "null", "[]", "{}")),
    number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    boolean: fc.boolean(),
    array: fc.array(fc.oneof(fc.integer(), junkText, fc.constant(null)), { maxLength: 3 }),
    object: fc.dictionary(junkText, fc.oneof(fc.integer(), junkText), { maxKeys: 3 }),
  };
  return fc.oneof(...Object.entries(all).filter(([k]) => k !== not).map(([, a]) => a));
}

/** Strings a field of at most `max` characters that must be non-empty (trimmed) refuses. */
export function badText(max: number, opts: { emptyOk?: boolean; nullOk?: boolean } = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    wrongType("string").filter((v) => !(opts.nullOk && v === null)),
    ...(opts.nullOk ? [] : [fc.constant(null)]),
    ...(opts.emptyOk ? [] : [fc.constantFrom("", "   ", "\t\n")]),
    fc.constantFrom(max + 1, max * 4, 70_000).map((n) => "x".repeat(n)),
    ...(enabled("nul") ? [nulText] : []),
  );
}

/** A field that is fine, and text around it that is odd but allowed. */
export const oddButValidText = fc.oneof(fc.constant("ok"), junkText.filter((s) => !s.includes(NUL) && s.trim() !== "" && s.length <= 100));

// ---- generators: request parts ----------------------------------------------------------------

/** Percent-encodes a string as UTF-8 (lone surrogates become U+FFFD). */
export const encodeSegment = (s: string) =>
  [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

/** A path segment that names nothing: odd text, broken percent-encoding, numbers, long runs. */
export const badSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: junkText.map(encodeSegment) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      ...when("nul", ["%00", "a%00b", "ses_%00", "%C0%80"]),
      "%ZZ",
      "%",
      "%E0%A4%A",
      "%FF%FE",
      "%ED%A0%80",
      "%2F",
      "..",
      "%2E%2E",
      "%252F",
      "a;b=c",
      "%0D%0A",
      "*",
      "~",
      "-1",
      "0",
      "1.5",
      "1e309",
      "99999999999999999999",
      "2147483648",
      "NaN",
      "0x1F",
      "null",
      "undefined",
      "__proto__",
      "constructor",
    ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("ses_", "ch_", "grp_", "ws_", "key_", "shl_", "g_agent_"), junkText).map(([p, j]) => p + encodeSegment(j)) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 2500 }).map((n) => "a".repeat(n)) },
);

/** A query string a list might be sent: bad numbers, repeated keys, arrays, junk cursors. */
export const QUERY_VALUES = [
  "",
  "-1",
  "0",
  "1.5",
  "1e3",
  "abc",
  "+1",
  "%201",
  "99999999999999999999",
  "999999999999999",
  ...when("int32", ["2147483648", "4294967296", "2147483647"]),
  ...when("nul", ["%00", "1%00"]),
  "%ZZ",
  "2024-13-45T25:61:00Z",
  "9999-12-31T23:59:59.999Z",
  "0000-01-01T00:00:00Z",
  "1970-01-01",
  "2024-01-01T00:00:00+99:99",
  "%F0%9F%A6%84",
  "x".repeat(600),
];

/** Cursors that decode (base64url JSON) into things no list gave out. */
const JUNK_CURSORS = [
  ["2024-01-01T00:00:00.000Z", "x"],
  ["-271821-04-20T00:00:00.000Z", "ses_x"],
  ["+275760-09-13T00:00:00.000Z", "ses_x"],
  ["0001-01-01", ""],
  ...when("nul", [["2024-01-01T00:00:00.000Z", `ses_${NUL}`], { id: NUL }]),
  { id: "x".repeat(10_000).slice(0, 400) },
  { id: 1 },
  { seq: -1 },
  { seq: 1.5 },
  ...when("int32", [{ seq: 2 ** 31 }, { seq: 2 ** 53 }]),
  [],
  null,
  "x",
].map((v) => Buffer.from(JSON.stringify(v)).toString("base64url"));

export const queryString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "?", "?&", "?=", "?&&=&", "?limit", "?limit=1&limit=2", "?cursor=a&cursor=b", "?since=1&since=2"),
  fc
  .array(
    fc.tuple(
      fc.constantFrom("limit", "cursor", "since", "after_seq", "limit[]", "limit[0]", "cursor[a]", "__proto__", "constructor", "", "%00", "since[]"),
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...QUERY_VALUES) },
        { weight: 2, arbitrary: fc.constantFrom(...JUNK_CURSORS) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString("base64url")) },
        { weight: 1, arbitrary: junkText.map(encodeSegment) },
      ),
      fc.boolean(),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? "?" + pairs.map(([k, v, bare]) => (bare && v === "" ? k : `${k}=${v}`)).join("&") : "")),
);

// ---- bodies -----------------------------------------------------------------------------------

export interface Field {
  valid: fc.Arbitrary<unknown>;
  bad: fc.Arbitrary<unknown>;
  optional?: boolean;
}

export interface BodySpec {
  fields: Record<string, Field>;
  /** Unknown keys are refused (z.strictObject); otherwise they are dropped. */
  strict: boolean;
  /** `{}` (and no body at all) is a valid body. */
  emptyOk: boolean;
}

export interface BodyCase {
  body?: Buffer | undefined;
  headers: Record<string, string>;
  /** Why this body must be refused; empty when it may be fine. */
  faults: string[];
}

const json = (text: string | Buffer, faults: string[], headers: Record<string, string> = {}): BodyCase => ({
  body: Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8"),
  headers: { "content-type": "application/json", ...headers },
  faults,
});

/** A body the JSON parser (or the decoder before it) refuses, whatever the route. */
export const unparseableBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc
    .constantFrom("{", "{]", '{"a":}', "{'a':1}", '{"a":1,}', "NaN", "undefined", "{\"a\":1}}", "\u0000", "[", '"unterminated', "{\"a\":01}", "\uFEFF{", "// {}")
    .map((t) => json(t, [`invalid JSON ${brief(t)}`])),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => json(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b)]), ["binary junk as JSON"])),
  ...(enabled("encoding")
    ? [
        fc
          .tuple(fc.constantFrom("gzip", "deflate", "br", "x-unknown", "gzip, gzip", "compress"), fc.constantFrom('{"a":1}', "not compressed at all", ""))
          .map(([enc, text]) => json(text, [`bogus Content-Encoding: ${enc}`], { "content-encoding": enc })),
        fc.constant(json(gzipSync(Buffer.from("{")), ["gzip of invalid JSON"], { "content-encoding": "gzip" })),
      ]
    : []),
);

/** Whole bodies of the wrong shape: not an object, or too large. */
const wrongShapeBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.constantFrom("[]", "[{}]", '"a string"', "123", "null", "true", "-1e400").map((t) => json(t, [`body ${t} is not an object`])),
  fc.constant(json(`{"a":"${"x".repeat(1_100_000)}"}`, ["body over 1 MB"])),
);

function objectBody(spec: BodySpec): fc.Arbitrary<{ value: Record<string, unknown>; faults: string[] }> {
  const names = Object.keys(spec.fields);
  return fc
    .tuple(
      fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: Math.min(3, names.length) }),
      fc.record(Object.fromEntries(names.map((n) => [n, spec.fields[n]!.valid]))),
      fc.record(Object.fromEntries(names.map((n) => [n, spec.fields[n]!.bad]))),
      fc.array(fc.constantFrom(...names), { maxLength: names.length }),
      ...(enabled("deep") ? [fc.option(deepValue, { freq: 4 })] : [fc.constant(null)]),
    )
    .map(([broken, valid, bad, dropped, deep]) => {
      const value: Record<string, unknown> = {};
      const faults: string[] = [];
      for (const n of names) {
        if (broken.includes(n)) {
          if (deep && n === broken[0]) {
            value[n] = deep.v;
            faults.push(`${n}: ${deep.label}`);
          } else {
            value[n] = bad[n];
            faults.push(`${n}: ${brief(toJsonText(bad[n]), 60)}`);
          }
        } else if (!(spec.fields[n]!.optional && dropped.includes(n))) value[n] = valid[n];
      }
      return { value, faults };
    });
}

/** Bodies a route with this schema must refuse, each with the reason it must. */
export function badBody(spec: BodySpec): fc.Arbitrary<BodyCase> {
  const validFields = fc.record(Object.fromEntries(Object.entries(spec.fields).map(([n, f]) => [n, f.valid])));
  const arbs: Array<fc.Arbitrary<BodyCase>> = [
    objectBody(spec).map(({ value, faults }) => json(toJsonText(value), faults)),
    unparseableBody,
    wrongShapeBody,
  ];
  if (!spec.emptyOk) {
    arbs.push(validFields.chain((v) =>
      fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "").map((ct): BodyCase => ({
        body: Buffer.from(toJsonText(v)),
        headers: ct ? { "content-type": ct } : ({} as Record<string, string>),
        faults: [`content-type ${JSON.stringify(ct)} (the body is not read, required fields are missing)`],
      })),
    ));
    arbs.push(fc.constantFrom<BodyCase>(json("", ["empty body"]), json("{}", ["{} lacks required fields"]), { headers: {}, faults: ["no body"] }));
  }
  if (spec.strict) {
    arbs.push(
      fc.tuple(validFields, fc.constantFrom("extra", "ID", "Title", "constructor", "prototype", "toString", "owner", "workspace_id", "seq"), fc.jsonValue({ maxDepth: 1 })).map(([v, k, x]) =>
        json(toJsonText({ ...v, [k]: x }), [`unknown key ${k}`]),
      ),
    );
  }
  if (enabled("proto")) {
    arbs.push(
      fc.tuple(validFields, fc.constantFrom<unknown>({ polluted: true }, { isAdmin: true, scopes: ["*"] }, null, 1, [])).map(([v, p]) =>
        json(toJsonText(withProto(v, p)), [`__proto__ key ${brief(toJsonText(p))}`]),
      ),
    );
  }
  return fc.oneof(...arbs);
}

/** A body a bodiless route ignores, or one it must refuse because it cannot be parsed. */
export const anyBodyForBodiless: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.constant<BodyCase>({ headers: {}, faults: [] }),
  fc.jsonValue({ maxDepth: 2 }).map((v) => json(toJsonText(v), [])),
  unparseableBody,
);

/** Valid-looking bodies for routes whose input is all optional (so only something else is bad). */
export function validBody(spec: BodySpec): fc.Arbitrary<BodyCase> {
  const names = Object.keys(spec.fields);
  return fc
    .tuple(fc.record(Object.fromEntries(names.map((n) => [n, spec.fields[n]!.valid]))), fc.subarray(names.filter((n) => spec.fields[n]!.optional)))
    .map(([v, drop]) => json(toJsonText(Object.fromEntries(Object.entries(v).filter(([k]) => !drop.includes(k)))), []));
}

// ---- the contract's routes --------------------------------------------------------------------

const agentIdValid = fc.constantFrom("fz-new-agent", "a", "x_1-2");
const agentIdBad = fc.oneof(
  badText(64),
  fc.constantFrom("UPPER", "-starts-with-dash", "_x", "has space", "a/b", "a.b", "é", "🦄", "x".repeat(65), "a\u200Bb"),
);
const titleValid = oddButValidText;
const titleBad = badText(200);
const optionalText = (max: number) => badText(max, { emptyOk: true, nullOk: true });
const uuidBad = fc.oneof(fc.constantFrom("not-a-uuid", "1111111111111111111111111111111111", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", `11111111-1111-1111-1111-11111111111${NUL}`.slice(0, enabled("nul") ? 36 : 35)), wrongType("string"));
const count = fc.nat({ max: 1000 });

/**
 * The schema of each body, as generators: `valid` values are accepted (with nothing else wrong,
 * the body is fine), `bad` values are refused by the contract: wrong type, out of range, too
 * long, empty, a NUL (Postgres text cannot hold one). Kept in step with src/schemas.ts.
 */
export const BODIES = {
  createAgent: {
    strict: true,
    emptyOk: false,
    fields: {
      id: { valid: agentIdValid, bad: agentIdBad },
      name: { valid: titleValid, bad: titleBad },
      description: { valid: fc.constantFrom("d", null), bad: fc.oneof(wrongType("string").filter((v) => v !== null), fc.constant("x".repeat(2001)), nulText), optional: true },
      server_url: {
        valid: fc.constantFrom("https://agent.example.com/x", null),
        bad: fc.oneof(fc.constantFrom("ftp://x", "javascript:alert(1)", "http://", "not a url", "https://" + "x".repeat(2001)), wrongType("string").filter((v) => v !== null), nulText.map((s) => `https://x/${s}`)),
        optional: true,
      },
    },
  },
  updateAgent: {
    strict: true,
    emptyOk: false,
    fields: {
      name: { valid: titleValid, bad: titleBad, optional: true },
      description: { valid: fc.constantFrom("d", null), bad: fc.oneof(fc.constant("x".repeat(2001)), nulText, fc.integer()), optional: true },
      server_url: { valid: fc.constantFrom("https://a.example", null), bad: fc.constantFrom("ftp://x", "x", 1, []), optional: true },
    },
  },
  addMember: {
    strict: false,
    emptyOk: false,
    fields: {
      user_id: { valid: fc.constant("@user"), bad: fc.oneof(badNumber, wrongType("number"), fc.constantFrom("1", 123456789012)) },
      access_level: { valid: fc.constantFrom("viewer", "editor"), bad: fc.oneof(fc.constantFrom("admin", "Viewer", "", "owner", "viewer\u0000"), wrongType("string")) },
    },
  },
  createKey: {
    strict: false,
    emptyOk: false,
    fields: {
      name: { valid: titleValid, bad: titleBad, optional: true },
      scopes: {
        valid: fc.subarray([...AGENT_KEY_SCOPES]),
        bad: fc.oneof(
          fc.constantFrom<unknown>(["*"], ["admin"], ["sessions:read", "root"], "sessions:read", [1], [null], [["sessions:read"]], { 0: "sessions:read" }, [`sessions:read${NUL}`]),
          wrongType("array"),
        ),
      },
      expires_in_seconds: { valid: fc.integer({ min: 1, max: 31_536_000 }), bad: fc.oneof(badNumber, fc.constantFrom<unknown>(31_536_001, "3600", null)), optional: true },
    },
  },
  createMasterKey: { strict: true, emptyOk: true, fields: { name: { valid: titleValid, bad: titleBad, optional: true } } },
  createSession: {
    strict: true,
    emptyOk: true,
    fields: {
      title: { valid: titleValid, bad: titleBad, optional: true },
      owner_id: { valid: fc.constant(null), bad: fc.oneof(badNumber, wrongType("number").filter((v) => v !== null), fc.constant(987654321012)), optional: true },
    },
  },
  renameSession: { strict: true, emptyOk: false, fields: { title: { valid: titleValid, bad: titleBad } } },
  appendMessage: {
    strict: true,
    emptyOk: false,
    fields: {
      id: { valid: fc.uuid(), bad: uuidBad, optional: true },
      role: { valid: fc.constantFrom("user", "assistant", "system", "tool"), bad: fc.oneof(fc.constantFrom("admin", "USER", "", "user\u0000"), wrongType("string")) },
      content: {
        valid: fc.oneof(oddButValidText, fc.constant([{ type: "text", text: "hi" }])),
        bad: fc.oneof(
          fc.constantFrom<unknown>([{ type: "" }], [{}], [{ type: 1 }], ["text"], [null], { type: "text" }, 1, true, null),
          ...(enabled("nul") ? [nulText] : []),
          ...(enabled("deep") ? [deepValue.map((d) => [{ type: "text", x: d.v }])] : []),
          fc.constant("x".repeat(300_000)),
        ),
      },
      thinking: { valid: fc.constantFrom("hmm", null), bad: fc.constantFrom(1, true, "x".repeat(300_000)), optional: true },
      toolCalls: { valid: fc.constantFrom([], null), bad: fc.constantFrom<unknown>([1], ["x"], {}, "x", [[]]), optional: true },
      sources: { valid: fc.constantFrom([], null), bad: fc.constantFrom<unknown>([{}], [{ id: 1, type: "x" }], [{ id: "a" }], "x", [null]), optional: true },
      model: { valid: fc.constantFrom("m", null), bad: fc.oneof(fc.constant("x".repeat(201)), wrongType("string").filter((v) => v !== null), nulText), optional: true },
      finishReason: { valid: fc.constantFrom("stop", null), bad: fc.oneof(fc.constant("x".repeat(101)), fc.integer(), nulText), optional: true },
      tokenUsage: {
        valid: fc.constantFrom(null, { inputTokens: 1, outputTokens: 2, totalTokens: 3 }),
        bad: fc.oneof(
          fc.record({ inputTokens: badNumber.filter((n) => !(typeof n === "number" && Number.isSafeInteger(n) && n >= 0)), outputTokens: count, totalTokens: count }),
          fc.constantFrom<unknown>({}, { inputTokens: 1, outputTokens: 2, totalTokens: 3, extra: 1 }, [1, 2, 3], "1"),
        ),
        optional: true,
      },
    },
  },
  createShare: {
    strict: true,
    emptyOk: true,
    fields: {
      expires_in_hours: { valid: fc.integer({ min: 1, max: 168 }), bad: fc.oneof(badNumber, fc.constantFrom(169, 1000, "24", null, [24]), wrongType("number")), optional: true },
    },
  },
  group: {
    strict: true,
    emptyOk: false,
    fields: {
      name: { valid: titleValid, bad: titleBad },
      agentIds: {
        valid: fc.constant("@agents"),
        bad: fc.oneof(
          fc.constantFrom<unknown>([], ["@agent"], ["@agent", "@agent"], ["UPPER", "@agent"], ["@agent", ""], ["@agent", "no-such-agent-zz"], [1, 2], "@agent", null),
          fc.constant(Array.from({ length: 101 }, (_, i) => `a${i}`)),
          ...(enabled("nul") ? [nulText.map((s) => ["@agent", s])] : []),
        ),
      },
      allowed_users: {
        valid: fc.constantFrom([], ["someone@example.com"]),
        bad: fc.oneof(fc.constantFrom<unknown>(["not-an-email"], ["a b@c"], [1], "x@y", [null], ["x".repeat(321) + "@e"]), ...(enabled("nul") ? [nulText.map((s) => [`${s}@x`])] : [])),
        optional: true,
      },
      allowed_groups: {
        valid: fc.constantFrom([], ["google-workspace/sre@example.com"]),
        bad: fc.oneof(fc.constantFrom<unknown>([""], ["  "], [1], "g", ["x".repeat(501)]), ...(enabled("nul") ? [nulText.map((s) => [s])] : [])),
        optional: true,
      },
    },
  },
  createChannel: {
    strict: false,
    emptyOk: false,
    fields: {
      name: { valid: fc.constantFrom("fz-new-channel", "ch 🦄"), bad: fc.oneof(badText(100), fc.constantFrom("a/b", "a\nb", "a\u0007b", "x".repeat(101))) },
      description: { valid: fc.constantFrom("d", null), bad: fc.oneof(fc.constant("x".repeat(2001)), fc.integer(), nulText), optional: true },
    },
  },
  subscription: { strict: false, emptyOk: false, fields: { agentId: { valid: fc.constant("@agent"), bad: fc.oneof(agentIdBad, fc.constant("no-such-agent-zz")) } } },
  publish: {
    strict: false,
    emptyOk: false,
    fields: {
      id: { valid: fc.uuid(), bad: uuidBad, optional: true },
      agentId: { valid: fc.constant("@agent"), bad: fc.oneof(agentIdBad, fc.constant("no-such-agent-zz")) },
      message: { valid: oddButValidText, bad: fc.oneof(fc.constantFrom<unknown>("", null, 1, [], {}), fc.constant("x".repeat(300_000)), ...(enabled("nul") ? [nulText] : [])) },
      metadata: {
        valid: fc.constantFrom(null, { k: "v" }),
        bad: fc.oneof(
          fc.constantFrom<unknown>([1], "x", 1, true, { big: "x".repeat(300_000) }),
          ...(enabled("nul") ? [nulText.map((s) => ({ k: s })), nulText.map((s) => ({ [s]: 1 }))] : []),
          ...(enabled("deep") ? [deepValue.map((d) => ({ k: d.v }))] : []),
        ),
        optional: true,
      },
    },
  },
} satisfies Record<string, BodySpec>;

export type Family = "agents" | "sessions" | "shares" | "groups" | "channels" | "open";

export interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** `:name` marks a path parameter, filled from the world or with a bad segment. */
  path: string;
  body?: BodySpec;
  /** Answers without a credential. */
  open?: boolean;
  family: Family;
}

const channelRoutes = (base: string): Route[] => [
  { method: "POST", path: base, body: BODIES.createChannel, family: "channels" },
  { method: "GET", path: base, family: "channels" },
  { method: "GET", path: `${base}/:channelId`, family: "channels" },
  { method: "DELETE", path: `${base}/:channelId`, family: "channels" },
  { method: "POST", path: `${base}/:channelId/subscribe`, body: BODIES.subscription, family: "channels" },
  { method: "POST", path: `${base}/:channelId/unsubscribe`, body: BODIES.subscription, family: "channels" },
  { method: "POST", path: `${base}/:channelId/messages`, body: BODIES.publish, family: "channels" },
  { method: "GET", path: `${base}/:channelId/messages`, family: "channels" },
];

const S = "/api/agents/:agentId/sessions";

/** Every REST route of the contract that the hub serves today. */
export const ROUTES: Route[] = [
  { method: "GET", path: "/healthz", open: true, family: "open" },
  { method: "GET", path: "/readyz", open: true, family: "open" },
  { method: "GET", path: "/api/me", family: "open" },

  { method: "POST", path: "/api/agents", body: BODIES.createAgent, family: "agents" },
  { method: "GET", path: "/api/agents", family: "agents" },
  { method: "GET", path: "/api/agents/:agentId", family: "agents" },
  { method: "PATCH", path: "/api/agents/:agentId", body: BODIES.updateAgent, family: "agents" },
  { method: "DELETE", path: "/api/agents/:agentId", family: "agents" },
  { method: "GET", path: "/api/agents/:agentId/team", family: "agents" },
  { method: "POST", path: "/api/agents/:agentId/team", body: BODIES.addMember, family: "agents" },
  { method: "DELETE", path: "/api/agents/:agentId/team/:userId", family: "agents" },
  { method: "POST", path: "/api/agents/:agentId/keys", body: BODIES.createKey, family: "agents" },
  { method: "GET", path: "/api/agents/:agentId/keys", family: "agents" },
  { method: "DELETE", path: "/api/agents/:agentId/keys/:keyId", family: "agents" },
  { method: "GET", path: "/api/workspaces/:workspaceId/team", family: "agents" },
  { method: "POST", path: "/api/workspace/master-keys", body: BODIES.createMasterKey, family: "agents" },
  { method: "GET", path: "/api/workspace/master-keys", family: "agents" },
  { method: "DELETE", path: "/api/workspace/master-keys/:masterKeyId", family: "agents" },

  { method: "POST", path: S, body: BODIES.createSession, family: "sessions" },
  { method: "GET", path: S, family: "sessions" },
  { method: "GET", path: `${S}/archived`, family: "sessions" },
  { method: "DELETE", path: `${S}/archived`, family: "sessions" },
  { method: "GET", path: `${S}/:sessionId`, family: "sessions" },
  { method: "PATCH", path: `${S}/:sessionId`, body: BODIES.renameSession, family: "sessions" },
  { method: "DELETE", path: `${S}/:sessionId`, family: "sessions" },
  { method: "POST", path: `${S}/:sessionId/archive`, family: "sessions" },
  { method: "POST", path: `${S}/:sessionId/restore`, family: "sessions" },
  { method: "GET", path: `${S}/:sessionId/messages`, family: "sessions" },
  { method: "POST", path: `${S}/:sessionId/messages`, body: BODIES.appendMessage, family: "sessions" },

  { method: "POST", path: `${S}/:sessionId/share`, body: BODIES.createShare, family: "shares" },
  { method: "DELETE", path: `${S}/:sessionId/share`, family: "shares" },
  { method: "GET", path: "/api/shared/:token", open: true, family: "shares" },
  { method: "GET", path: "/shared/:token", open: true, family: "shares" },
  { method: "POST", path: "/api/shared/:token/clone", family: "shares" },

  { method: "GET", path: "/api/groups", family: "groups" },
  { method: "POST", path: "/api/groups", body: BODIES.group, family: "groups" },
  { method: "GET", path: "/api/groups/:groupId", family: "groups" },
  { method: "PUT", path: "/api/groups/:groupId", body: BODIES.group, family: "groups" },
  { method: "DELETE", path: "/api/groups/:groupId", family: "groups" },
  { method: "GET", path: "/api/groups/:groupId/sessions", family: "groups" },
  { method: "POST", path: "/api/groups/:groupId/sessions/:sessionId", family: "groups" },
  { method: "DELETE", path: "/api/groups/:groupId/sessions/:sessionId", family: "groups" },

  ...channelRoutes("/team-channels"),
  ...channelRoutes("/api/team-channels"),
];

/** Methods Node parses but no route serves anywhere (koa-router answers them 501). */
export const OTHER_METHODS = when("othermethod", ["TRACE", "PROPFIND", "PURGE", "MKCOL", "LOCK", "SEARCH", "REPORT", "LINK", "COPY", "MOVE", "QUERY"]);

export const paramsOf = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
export const isSafeMethod = (m: string) => ["GET", "HEAD", "OPTIONS"].includes(m);

/** Methods no route serves on this path template (what the hub must refuse with 405, or 404). */
export function unservedMethods(path: string): string[] {
  const served = new Set<string>(ROUTES.filter((r) => r.path === path).map((r) => r.method));
  if (served.has("GET")) served.add("HEAD");
  return ["GET", "POST", "PUT", "PATCH", "DELETE", ...OTHER_METHODS].filter((m) => !served.has(m));
}

// ---- the world the requests aim at ------------------------------------------------------------

export interface Credential {
  name: string;
  /** The Authorization header to send, or undefined for none. */
  header: string | undefined;
  valid: boolean;
  /** The bearer token alone (for a socket's auth.token). */
  token?: unknown;
}

export interface World {
  /** Existing ids by path parameter name. */
  ids: Record<string, string>;
  agentId: string;
  agent2Id: string;
  userBId: number;
  credentials: Credential[];
  /** The token of a user on the agent's team (its editor). */
  userToken: string;
  agentKey: string;
  masterKey: string;
}

async function sign(claims: Record<string, unknown>, opts: { secret?: string; exp?: number | null; alg?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? "HS256", typ: "JWT" }).setIssuedAt();
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 3600);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/**
 * A workspace with something behind every path parameter: an agent (and a second one) with a
 * team, keys, sessions with messages (one archived), a live share link, a group sharing a
 * session, a channel with a subscriber and messages. Built through the public API.
 */
export async function buildWorld(hub: HubFixture): Promise<World> {
  const userToken = await hub.ws.token("fz-alice");
  const alice = hub.anon.as(userToken);
  const bob = hub.anon.as(await hub.ws.token("fz-bob"));
  const agentId = await makeAgent(alice, "fz-agent", "Fuzz agent");
  const agent2Id = await makeAgent(alice, "fz-agent-2", "Fuzz agent two");
  const userBId = await addToTeam(alice, agentId, bob, "viewer");
  await userId(alice);
  const agentKey = await makeKey(hub.anon.as(hub.ws.masterKey), agentId, [...AGENT_KEY_SCOPES]); // knowledge:write: the master key's to grant
  const spare = await alice.post(`/api/agents/${agentId}/keys`, { name: "spare", scopes: ["sessions:read"] });
  const session = await makeSession(alice, agentId, { title: "fuzz session" });
  for (const content of ["one", "two", "three"]) await appendMessage(alice, agentId, session.id, { content });
  const archived = await makeSession(alice, agentId, { title: "archived one" });
  await alice.post(`/api/agents/${agentId}/sessions/${archived.id}/archive`);
  const share = await alice.post(`/api/agents/${agentId}/sessions/${session.id}/share`, {});
  const group = await alice.post("/api/groups", { name: "fuzz group", agentIds: [agentId, agent2Id] });
  await alice.post(`/api/groups/${group.body.id}/sessions/${session.id}`);
  const master = hub.anon.as(hub.ws.masterKey);
  const spareMaster = await master.post("/api/workspace/master-keys", { name: "spare master" });
  const channel = await master.post("/team-channels", { name: "fuzz-channel" });
  await master.post(`/team-channels/${channel.body.id}/subscribe`, { agentId });
  const agent = hub.anon.as(agentKey);
  for (const message of ["m1", "m2"]) await agent.post(`/team-channels/${channel.body.id}/messages`, { agentId, message });
  for (const [what, res] of Object.entries({ spare, share, group, channel })) {
    if (res.status !== 201) throw new Error(`world: ${what} answered ${res.status}: ${res.text}`);
  }

  const now = Math.floor(Date.now() / 1000);
  const ws = hub.ws.id;
  const claims = { sub: "fz-alice", email: "fz-alice@example.com", workspace: ws };
  const bearer = (t: string) => `Bearer ${t}`;
  const junkTokens: Array<[string, string]> = [
    ["wrong secret", await sign(claims, { secret: "another-secret-another-secret-0123456789" })],
    ["expired", await sign(claims, { exp: now - 60 })],
    ["no exp", await sign(claims, { exp: null })],
    ["unknown workspace", await sign({ ...claims, sub: "fz-ghost", workspace: "ws_nope" })],
    ["sub is a number", await sign({ ...claims, sub: 42 } as Record<string, unknown>)],
    ["no email", await sign({ sub: "fz-ghost2", workspace: ws })],
    ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, exp: now + 3600 })}.`],
    ["HS512", await sign(claims, { alg: "HS512" })],
    ...(enabled("nul")
      ? ([
          ["NUL in workspace claim", await sign({ ...claims, sub: "fz-nul-ws", workspace: `${ws}${NUL}` })],
          ["NUL in sub claim", await sign({ ...claims, sub: `fz-nul${NUL}` })],
          ["NUL in email claim", await sign({ ...claims, sub: "fz-nul-email", email: `x${NUL}@example.com` })],
        ] as Array<[string, string]>)
      : []),
  ];
  const credentials: Credential[] = [
    { name: "master key", header: bearer(hub.ws.masterKey), valid: true, token: hub.ws.masterKey },
    { name: "user token (agent editor)", header: bearer(userToken), valid: true, token: userToken },
    { name: "agent key (all scopes)", header: bearer(agentKey), valid: true, token: agentKey },
    { name: "no credential", header: undefined, valid: false, token: undefined },
    { name: "empty bearer", header: "Bearer ", valid: false, token: "" },
    { name: "Basic scheme", header: "Basic dXNlcjpwYXNz", valid: false, token: "dXNlcjpwYXNz" },
    { name: "bare master key, no scheme", header: hub.ws.masterKey, valid: false, token: ` ${hub.ws.masterKey}` },
    { name: "unknown master key", header: bearer(`g_master_${randomBytes(24).toString("base64url")}`), valid: false, token: `g_master_${randomBytes(24).toString("base64url")}` },
    { name: "unknown agent key", header: bearer("g_agent_x"), valid: false, token: "g_agent_x" },
    { name: "junk", header: bearer("%00'\";--"), valid: false, token: "%00'\";--" },
    { name: "long junk", header: bearer("x".repeat(4000)), valid: false, token: "x".repeat(4000) },
    { name: "three dots", header: bearer("a.b.c"), valid: false, token: "a.b.c" },
    { name: "latin1 bytes", header: bearer("g_agent_\u00ff\u00fe"), valid: false, token: "g_agent_\u00ff\u00fe" },
    ...junkTokens.map(([name, t]) => ({ name: `JWT: ${name}`, header: bearer(t), valid: false, token: t })),
  ];
  return {
    ids: {
      agentId,
      userId: String(userBId),
      keyId: spare.body.id,
      workspaceId: ws,
      sessionId: session.id,
      token: share.body.token,
      groupId: group.body.id,
      channelId: channel.body.id,
      masterKeyId: spareMaster.status === 201 ? spareMaster.body.id : "mk_missing",
    },
    agentId,
    agent2Id,
    userBId,
    credentials,
    userToken,
    agentKey,
    masterKey: hub.ws.masterKey,
  };
}

/** Replaces the world's placeholders in a generated body (`"@agent"`, `"@user"`, `"@agents"`). */
export function bindBody(body: BodyCase, world: World): BodyCase {
  if (!body.body || !/"@(agent|agents|user)"/.test(body.body.toString("latin1"))) return body;
  const text = body.body
    .toString("utf8")
    .replaceAll('"@agents"', JSON.stringify([world.agentId, world.agent2Id]))
    .replaceAll('"@agent"', JSON.stringify(world.agentId))
    .replaceAll('"@user"', String(world.userBId));
  return { ...body, body: Buffer.from(text, "utf8") };
}

/** A fuzz file's hub (limits raised) and its world, built once in beforeAll; read `world` in tests only. */
export function useFuzzWorld(): { hub: HubFixture; world: World } {
  const fixture = { hub: useHub({ env: FUZZ_HUB_ENV }) } as { hub: HubFixture; world: World };
  beforeAll(async () => {
    fixture.world = await buildWorld(fixture.hub);
  });
  return fixture;
}
