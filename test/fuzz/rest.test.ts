/**
 * Fuzz: every REST route of the contract, sent generated bad input (bad path parameters, bodies,
 * queries, methods and credentials, valid ones mixed in). Whatever the input, the hub answers
 * below 500, every error is a problem+json with an agenthub problem URN, and a request with
 * anything wrong in it (or a read) changes no stored row.
 *
 * Replay a failure with FUZZ_SEED=<seed> (printed with the counterexample); FUZZ_RUNS=<n>
 * multiplies the runs; FUZZ_SKIP=nul,deep,… leaves classes of input out (see test/support/fuzz.ts).
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  AnswerStats,
  OTHER_METHODS,
  ROUTES,
  anyBodyForBodiless,
  answerViolations,
  badBody,
  badSegment,
  bindBody,
  brief,
  describeRequest,
  encodeSegment,
  enabled,
  fuzzParams,
  isSafeMethod,
  junkText,
  paramsOf,
  printable,
  queryString,
  send,
  snapshot,
  stateChanges,
  unservedMethods,
  validBody,
  type BodyCase,
  type Credential,
  type Family,
  type RawRequest,
  type Route,
  type World,
  useFuzzWorld,
} from "../support/fuzz.js";

const fuzz = useFuzzWorld();
const hub = fuzz.hub;

const PARSED = ["POST", "PUT", "PATCH"];

interface Case {
  route: Route;
  method: string;
  /** Per path parameter: a bad segment, or null for the fuzz.world's real id. */
  params: Array<string | null>;
  cred: number;
  body: BodyCase;
  query: string;
}

function caseFor(route: Route): fc.Arbitrary<Case> {
  const params = paramsOf(route.path);
  const methods = unservedMethods(route.path);
  return fc.record({
    route: fc.constant(route),
    method: fc.oneof(
      { weight: 12, arbitrary: fc.constant(route.method) },
      { weight: 1, arbitrary: fc.constantFrom(...methods) },
      { weight: 1, arbitrary: fc.constantFrom("HEAD", "OPTIONS") },
    ),
    params: fc.tuple(...params.map(() => fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: badSegment }))),
    // Index into fuzz.world.credentials: the first three are valid, the rest are not.
    cred: fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 2 }) }, { weight: 2, arbitrary: fc.integer({ min: 3, max: 40 }) }),
    body: route.body ? fc.oneof({ weight: 5, arbitrary: badBody(route.body) }, { weight: 1, arbitrary: validBody(route.body) }) : anyBodyForBodiless,
    query: route.method === "GET" ? fc.oneof({ weight: 1, arbitrary: fc.constant("") }, { weight: 3, arbitrary: queryString }) : fc.oneof({ weight: 4, arbitrary: fc.constant("") }, { weight: 1, arbitrary: queryString }),
  });
}

function toRequest(c: Case, w: World): RawRequest {
  const faults: string[] = [];
  const names = paramsOf(c.route.path);
  let i = 0;
  const path = c.route.path.replace(/:(\w+)/g, () => {
    const name = names[i]!;
    const bad = c.params[i++];
    if (bad === null || bad === undefined) return encodeSegment(w.ids[name]!);
    faults.push(`${name}=${brief(bad, 40)}`);
    return bad;
  });
  const cred: Credential = w.credentials[c.cred % w.credentials.length]!;
  if (!cred.valid && !c.route.open) faults.push(`credential: ${cred.name}`);
  if (c.method !== c.route.method && !isSafeMethod(c.method)) faults.push(`method ${c.method}`);
  const body = bindBody(c.body, w);
  if (PARSED.includes(c.method)) faults.push(...body.faults);
  const headers: Record<string, string> = { ...body.headers };
  if (cred.header !== undefined) headers.authorization = cred.header;
  return { method: c.method, path: path + c.query, headers, body: body.body, faults, route: `${c.route.method} ${c.route.path}` };
}

let stats = new AnswerStats("-");

/** Sends one request and says what is wrong with the answer and with the state after it. */
async function check(req: RawRequest): Promise<string[]> {
  const before = await snapshot(hub.db);
  let res;
  try {
    res = await send(hub.url, req);
  } catch (err) {
    return [`no answer: ${(err as Error).message}`];
  }
  stats.see(`${res.status} ${typeof res.body?.type === "string" ? res.body.type.replace("urn:agenthub:problem:", "") : ""}`);
  const wrong = answerViolations(req, res);
  const mustNotChange = req.faults.length > 0 || isSafeMethod(req.method);
  if (mustNotChange) wrong.push(...stateChanges(before, await snapshot(hub.db)));
  return wrong.length ? [`answered ${res.status} ${brief(res.text, 300)}`, ...wrong] : [];
}

function requests(routes: Route[]): fc.Arbitrary<RawRequest> {
  return fc
    .oneof(...routes.map(caseFor))
    .map((c) => printable(toRequest(c, fuzz.world), describeRequest))
    // A request with nothing wrong in it may rightly change state; only reads may be all valid.
    .filter((r) => r.faults.length > 0 || isSafeMethod(r.method));
}

async function property(name: string, routes: Route[], numRuns: number): Promise<void> {
  stats = new AnswerStats(name);
  await fc.assert(
    fc.asyncProperty(requests(routes), async (req) => {
      const wrong = await check(req);
      if (wrong.length) throw new Error(`${describeRequest(req)}\n  ${wrong.join("\n  ")}`);
    }),
    fuzzParams(numRuns),
  );
  stats.print();
}

const FAMILIES: Array<[Family, number]> = [
  ["agents", 150],
  ["sessions", 150],
  ["shares", 80],
  ["groups", 100],
  ["channels", 150],
  ["open", 40],
];

describe("fuzz: REST routes with generated bad input", () => {
  for (const [family, runs] of FAMILIES) {
    const routes = ROUTES.filter((r) => r.family === family);
    it(`${family}: ${routes.map((r) => `${r.method} ${r.path}`).join(", ")}`, () => property(family, routes, runs), 60_000);
  }

  it("any path: unknown routes, junk segments, long and percent-encoded paths, any method", async () => {
    stats = new AnswerStats("any path");
    const paths = fc.oneof(
      fc.array(badSegment, { minLength: 1, maxLength: 3 }).map((segs) => `/${segs.join("/")}`),
      fc.tuple(fc.constantFrom("/api", "/api/agents", "/team-channels", "/api/team-channels", "/api/groups", "/api/shared", "/shared", "/api/workspace/master-keys", "/api/agents/fz-agent/sessions"), badSegment, fc.constantFrom("", "/x", "/", "//", "/messages/extra")).map(
        ([base, seg, tail]) => `${base}/${seg}${tail}`,
      ),
      fc.constantFrom("/", "//", "/api", "/api/", "/API/agents", "/api//agents", "/api/agents/", "/./api/agents", "/api/%2e%2e/healthz", "/healthz/", "/healthz?x", "/%", "/%00", "/api/agents%00"),
      fc.integer({ min: 1000, max: 6000 }).map((n) => `/api/agents/${"a".repeat(n)}/sessions`),
    );
    const arb = fc
      .record({
        path: paths,
        query: fc.oneof(fc.constant(""), queryString),
        method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", ...OTHER_METHODS),
        cred: fc.nat({ max: 40 }),
        body: fc.oneof(anyBodyForBodiless, junkText.map((t): BodyCase => ({ body: Buffer.from(`{"x":${JSON.stringify(t)}}`), headers: { "content-type": "application/json" }, faults: [] }))),
      })
      .map(({ path, query, method, cred, body }) => {
        const c = fuzz.world.credentials[cred % fuzz.world.credentials.length]!;
        const req: RawRequest = {
          method,
          path: path + query,
          headers: { ...body.headers, ...(c.header === undefined ? {} : { authorization: c.header }) },
          body: body.body,
          faults: ["no such route"],
        };
        return printable(req, describeRequest);
      });
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        const wrong = await check(req);
        if (wrong.length) throw new Error(`${describeRequest(req)}\n  ${wrong.join("\n  ")}`);
      }),
      fuzzParams(120),
    );
    stats.print();
  }, 60_000);

  it.skipIf(!enabled("parser"))("what Node's HTTP parser refuses itself (unknown methods, raw non-ASCII bytes, 16 KB request lines) still answers problem+json", async () => {
    const cases: RawRequest[] = [
      { method: "FOO", path: "/api/agents", headers: {}, faults: ["unknown method FOO"] },
      { method: "BREW", path: "/healthz", headers: {}, faults: ["unknown method BREW"] },
      { method: "GET", path: "/api/agents/\u00ff\u00fe", headers: {}, faults: ["raw bytes 0xFF 0xFE in the path"] },
      { method: "GET", path: `/api/agents/${"a".repeat(20_000)}`, headers: {}, faults: ["request line over 16 KB"] },
      { method: "GET", path: "/api/me", headers: { authorization: `Bearer ${"x".repeat(20_000)}` }, faults: ["header over 16 KB"] },
    ];
    const failures: string[] = [];
    for (const req of cases) {
      const wrong = await check(req);
      if (wrong.length) failures.push(`${describeRequest(req)}: ${wrong.join("; ")}`);
    }
    if (failures.length) throw new Error(failures.join("\n"));
  }, 30_000);
});
