/**
 * Fuzz, fixed examples: the classes of input an external tester saw answered 500, sent to every
 * route they apply to (each test lists every route that still fails, not just the first):
 * a NUL in a path parameter, a string field or a query value; JSON nested 3,000 deep; seqs past
 * 2^31-1; a bogus Content-Encoding; `__proto__` keys; plus unknown methods on known paths.
 * Each variant differs from a valid body by exactly the one bad thing (the valid bodies are
 * checked against src/schemas.ts first), so it must be refused with a 4xx and change nothing.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CreateChannel, Subscription, publishSchema } from "../../src/http/routes/channels/schema.js";
import { GroupBody } from "../../src/http/routes/groups/schema.js";
import { AppendMessage, CreateSession, CreateShare, RenameSession } from "../../src/http/routes/sessions/schema.js";
import { AddMember, CreateAgent, CreateKey, CreateMasterKey, UpdateAgent } from "../../src/http/routes/agents/schema.js";
import {
  INT32_MAX,
  NUL,
  ROUTES,
  answerViolations,
  brief,
  deepText,
  describeRequest,
  enabled,
  encodeSegment,
  isSafeMethod,
  paramsOf,
  rawJson,
  send,
  snapshot,
  stateChanges,
  toJsonText,
  unservedMethods,
  withProto,
  type RawRequest,
  type Route,
  type World,
  useFuzzWorld,
} from "../support/fuzz.js";

const fuzz = useFuzzWorld();
const hub = fuzz.hub;

const key = (r: Route) => `${r.method} ${r.path}`;
const S = "/api/agents/:agentId/sessions";

/** A valid body per body-taking route, and the schema it must pass. */
function validBodies(w: World): Record<string, { body: Record<string, unknown>; schema: { safeParse(v: unknown): { success: boolean } } }> {
  const group = { name: "g", agentIds: [w.agentId, w.agent2Id], allowed_users: ["u@example.com"], allowed_groups: ["team"] };
  const channelBodies = (base: string) => ({
    [`POST ${base}`]: { body: { name: "known-channel", description: "d" }, schema: CreateChannel },
    [`POST ${base}/:channelId/subscribe`]: { body: { agentId: w.agent2Id }, schema: Subscription },
    [`POST ${base}/:channelId/unsubscribe`]: { body: { agentId: w.agentId }, schema: Subscription },
    [`POST ${base}/:channelId/messages`]: {
      body: { id: "5b0e8a3c-1f6e-4b7e-9a51-3c2d1e0f9a8b", agentId: w.agentId, message: "m", metadata: { k: "v", list: ["a"] } },
      schema: publishSchema(256 * 1024),
    },
  });
  return {
    "POST /api/agents": { body: { id: "fz-known", name: "Known", description: "d", server_url: "https://a.example/x" }, schema: CreateAgent },
    "PATCH /api/agents/:agentId": { body: { name: "Renamed", description: "d", server_url: "https://a.example/y" }, schema: UpdateAgent },
    "POST /api/agents/:agentId/team": { body: { user_id: w.userBId, access_level: "editor" }, schema: AddMember },
    "POST /api/agents/:agentId/keys": { body: { name: "k", scopes: ["sessions:read"], expires_in_seconds: 3600 }, schema: CreateKey },
    "POST /api/workspace/master-keys": { body: { name: "k" }, schema: CreateMasterKey },
    [`POST ${S}`]: { body: { title: "t" }, schema: CreateSession },
    [`PATCH ${S}/:sessionId`]: { body: { title: "t2" }, schema: RenameSession },
    [`POST ${S}/:sessionId/messages`]: {
      body: {
        id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        role: "assistant",
        content: [{ type: "text", text: "c" }],
        thinking: { steps: ["a"] },
        toolCalls: [{ name: "t", input: { q: "x" } }],
        sources: [{ id: "s", type: "doc", title: "T", snippet: "s" }],
        model: "m",
        finishReason: "stop",
        tokenUsage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      },
      schema: AppendMessage,
    },
    [`POST ${S}/:sessionId/share`]: { body: { expires_in_hours: 2 }, schema: CreateShare },
    "POST /api/groups": { body: group, schema: GroupBody },
    "PUT /api/groups/:groupId": { body: group, schema: GroupBody },
    ...channelBodies("/team-channels"),
    ...channelBodies("/api/team-channels"),
  };
}

const VALID_CREDS = () => fuzz.world.credentials.filter((c) => c.valid);

function request(route: Route, opts: { params?: Record<string, string>; body?: string | Buffer; headers?: Record<string, string>; query?: string; method?: string; cred?: string; faults: string[] }): RawRequest {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => opts.params?.[name] ?? encodeSegment(fuzz.world.ids[name]!));
  const headers: Record<string, string> = { ...(opts.body !== undefined ? { "content-type": "application/json" } : {}), ...opts.headers };
  if (opts.cred) headers.authorization = opts.cred;
  return {
    method: opts.method ?? route.method,
    path: path + (opts.query ?? ""),
    headers,
    body: opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, "utf8"),
    faults: opts.faults,
    route: `${opts.method ?? route.method} ${route.path}`,
  };
}

interface Failure {
  /** Status and what is wrong: failures alike are reported once, with the routes they hit. */
  group: string;
  route: string;
  example: string;
}

/** Sends each request; a failure names the request, the answer and what is wrong. */
async function failuresOf(reqs: RawRequest[], { mustRefuse = true } = {}): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const req of reqs) {
    const before = await snapshot(hub.db);
    let res;
    try {
      res = await send(hub.url, req);
    } catch (err) {
      failures.push({ group: `no answer (${(err as Error).message})`, route: req.route!, example: describeRequest(req) });
      continue;
    }
    const wrong = answerViolations(req, res);
    if (mustRefuse && !isSafeMethod(req.method) && res.status < 400) wrong.push(`accepted (${res.status}) though it is invalid`);
    wrong.push(...stateChanges(before, await snapshot(hub.db)).map((c) => c.replace(/ \d+ rows.*/, "")));
    if (wrong.length) {
      const type = typeof res.body?.type === "string" ? ` ${res.body.type.replace("urn:agenthub:problem:", "")}` : "";
      failures.push({
        group: `${res.status}${type}: ${wrong.join("; ")}`,
        route: req.route!,
        example: `${describeRequest(req)}\n      -> ${res.status} ${brief(res.text, 240)}`,
      });
    }
  }
  return failures;
}

function report(failures: Failure[]): void {
  if (!failures.length) return;
  const groups = new Map<string, { routes: Set<string>; examples: string[] }>();
  for (const f of failures) {
    const g = groups.get(f.group) ?? { routes: new Set<string>(), examples: [] };
    groups.set(f.group, g);
    g.routes.add(f.route);
    const why = f.example.match(/\(bad: [^)]*\)/)?.[0] ?? f.example;
    if (g.examples.length < 3 && !g.examples.some((e) => e.includes(why))) g.examples.push(f.example);
  }
  const lines = [...groups].map(
    ([group, { routes, examples }]) =>
      `- ${group}\n    on ${routes.size} route(s): ${[...routes].slice(0, 8).join(", ")}${routes.size > 8 ? `, and ${routes.size - 8} more` : ""}\n    e.g. ${examples.join("\n    e.g. ")}`,
  );
  throw new Error(`${failures.length} failing request(s), ${groups.size} distinct failure(s):\n${lines.join("\n")}`);
}

/** Every leaf of a JSON value, as a path and the value there. */
function leaves(value: unknown, path: Array<string | number> = []): Array<{ path: Array<string | number>; value: unknown }> {
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, Array.isArray(value) ? Number(k) : k]));
  }
  return [{ path, value }];
}

function setAt(value: unknown, path: Array<string | number>, leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  copy[path[0]!] = setAt(copy[path[0]!], path.slice(1), leaf);
  return copy;
}

const bodyRoutes = () => ROUTES.filter((r) => validBodies(fuzz.world)[key(r)]);

describe("fuzz, fixed examples: inputs once answered 500", () => {
  it("the valid bodies the variants start from are valid (so each variant has exactly one fault)", () => {
    const bodies = validBodies(fuzz.world);
    for (const route of bodyRoutes()) {
      expect(bodies[key(route)]!.schema.safeParse(bodies[key(route)]!.body).success, key(route)).toBe(true);
    }
    expect(Object.keys(bodies).sort()).toEqual(ROUTES.filter((r) => r.body).map(key).sort());
  });

  it.skipIf(!enabled("nul"))("a NUL (%00) in any path parameter: 4xx, no state change", async () => {
    const reqs = ROUTES.filter((r) => paramsOf(r.path).length).flatMap((route) =>
      paramsOf(route.path).flatMap((name) =>
        VALID_CREDS().map((c) => {
          const body = validBodies(fuzz.world)[key(route)]?.body;
          return request(route, { params: { [name]: `${encodeSegment(fuzz.world.ids[name]!)}%00` }, cred: c.header, body: body && toJsonText(body), faults: [`${name} ends in NUL`, c.name] });
        }),
      ),
    );
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("nul"))("a NUL in any string of a body: 422, no state change", async () => {
    const reqs = bodyRoutes().flatMap((route) => {
      const { body } = validBodies(fuzz.world)[key(route)]!;
      return leaves(body)
        .filter((l) => typeof l.value === "string")
        .flatMap((l) =>
          VALID_CREDS().map((c) =>
            request(route, { body: toJsonText(setAt(body, l.path, `${l.value as string}${NUL}x`)), cred: c.header, faults: [`NUL in ${l.path.join(".")}`, c.name] }),
          ),
        );
    });
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("nul"))("a NUL in a query value or a cursor of every list: below 500", async () => {
    const nulCursors = [["2024-01-01T00:00:00.000Z", `ses_${NUL}`], { id: `a${NUL}` }].map((v) => Buffer.from(JSON.stringify(v)).toString("base64url"));
    const queries = ["?cursor=%00", "?since=%00", "?limit=%00", "?after_seq=%00", "?cursor=a%00b", ...nulCursors.map((c) => `?cursor=${c}`)];
    const reqs = ROUTES.filter((r) => r.method === "GET").flatMap((route) =>
      queries.map((query) => request(route, { query, cred: `Bearer ${fuzz.world.userToken}`, faults: [`query ${query}`] })),
    );
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("deep"))("JSON nested 3,000 deep in any field of a body (or added to it): 4xx, no state change", async () => {
    const deep = rawJson(deepText(3000, "array"));
    const deepObject = rawJson(deepText(3000, "object"));
    const reqs = bodyRoutes().flatMap((route) => {
      const { body } = validBodies(fuzz.world)[key(route)]!;
      const variants = [
        ...leaves(body).map((l) => ({ v: setAt(body, l.path, deep), where: l.path.join(".") })),
        { v: { ...body, deep }, where: "an extra key" },
        { v: { ...body, deep: deepObject }, where: "an extra key (objects)" },
      ];
      return variants.map(({ v, where }) => request(route, { body: toJsonText(v), cred: `Bearer ${fuzz.world.masterKey}`, faults: [`JSON 3,000 deep at ${where}`] }));
    });
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("int32"))("seqs past 2^31-1 (after_seq, cursors, limits): below 500", async () => {
    const big = [INT32_MAX + 1, 2 ** 32, 999_999_999_999_999];
    const seqCursor = (seq: number) => Buffer.from(JSON.stringify({ seq })).toString("base64url");
    const reqs = ROUTES.filter((r) => r.method === "GET" && /messages|sessions$|archived|agents$|shared|team-channels$/.test(r.path)).flatMap((route) =>
      big.flatMap((n) =>
        [`?after_seq=${n}`, `?cursor=${seqCursor(n)}`, `?limit=${n}`, `?since=${n}`].map((query) =>
          request(route, { query, cred: `Bearer ${fuzz.world.userToken}`, faults: [`query ${query}`] }),
        ),
      ),
    );
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("encoding"))("a bogus Content-Encoding (gzip, deflate, br, unknown) on every body: 4xx, no state change", async () => {
    const reqs = ROUTES.filter((r) => ["POST", "PUT", "PATCH"].includes(r.method)).flatMap((route) => {
      const body = toJsonText(validBodies(fuzz.world)[key(route)]?.body ?? {});
      return [
        ...["gzip", "deflate", "br", "x-unknown"].map((enc) =>
          request(route, { body, headers: { "content-encoding": enc }, cred: `Bearer ${fuzz.world.masterKey}`, faults: [`Content-Encoding: ${enc} on plain JSON`] }),
        ),
        request(route, { body: gzipSync(Buffer.from("{")), headers: { "content-encoding": "gzip" }, cred: `Bearer ${fuzz.world.masterKey}`, faults: ["gzip of invalid JSON"] }),
        request(route, { body: gzipSync(Buffer.from(body)).subarray(0, 12), headers: { "content-encoding": "gzip" }, cred: `Bearer ${fuzz.world.masterKey}`, faults: ["truncated gzip"] }),
      ];
    });
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("proto"))("a __proto__ key anywhere in a body: 422, no state change", async () => {
    const reqs = bodyRoutes().flatMap((route) => {
      const { body } = validBodies(fuzz.world)[key(route)]!;
      const objects = [[] as Array<string | number>, ...leaves(body).map((l) => l.path.slice(0, -1))].filter(
        (p, i, all) => all.findIndex((q) => q.join(".") === p.join(".")) === i,
      );
      return objects.flatMap((at) => {
        const target = at.reduce<any>((v, k) => v[k], body);
        if (Array.isArray(target)) return [];
        return [{ polluted: true }, { isAdmin: true }].map((p) =>
          request(route, { body: toJsonText(setAt(body, at, withProto(target, p))), cred: `Bearer ${fuzz.world.masterKey}`, faults: [`__proto__ key at ${at.join(".") || "top level"}`] }),
        );
      });
    });
    report(await failuresOf(reqs));
  }, 60_000);

  it.skipIf(!enabled("nul"))("a signed user token whose workspace, sub or email claim holds a NUL: 401 on every authenticated route, no user made", async () => {
    const nulTokens = fuzz.world.credentials.filter((c) => c.name.startsWith("JWT: NUL"));
    expect(nulTokens.length).toBe(3);
    const reqs = ROUTES.filter((r) => !r.open).flatMap((route) =>
      nulTokens.map((c) => {
        const body = validBodies(fuzz.world)[key(route)]?.body;
        return request(route, { cred: c.header, body: body && toJsonText(body), faults: [c.name] });
      }),
    );
    report(await failuresOf(reqs));
  }, 60_000);

  it("an unknown or unserved method on every known path: 4xx problem, no state change", async () => {
    const paths = [...new Set(ROUTES.map((r) => r.path))];
    const reqs = paths.flatMap((path) => {
      const route = ROUTES.find((r) => r.path === path)!;
      return unservedMethods(path)
        .filter((m) => ["PUT", "PATCH", "DELETE", "POST", "TRACE", "PROPFIND", "PURGE"].includes(m))
        .map((method) => request(route, { method, body: "{}", cred: `Bearer ${fuzz.world.masterKey}`, faults: [`method ${method}`] }));
    });
    report(await failuresOf(reqs));
  }, 60_000);
});
