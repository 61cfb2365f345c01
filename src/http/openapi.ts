/**
 * The OpenAPI 3.1 document of every REST route (`GET /openapi.json`), made by zod-openapi from the
 * route tables (routes/<family>/table.ts): requests and answers are the zod schemas that parse the
 * requests and describe the views, so what is documented is what is taken and sent (the tests
 * check every answer they receive against it). Every error is `application/problem+json`
 * (RFC 9457) with the shared `Problem` schema.
 */
import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { AgentId } from "../schemas.js";
import type { Documented, ErrorStatus } from "./table.js";

/** An RFC 9457 problem: every error answer, and the `error` of a refused socket ack. */
export const Problem = z
  .object({
    type: z.string().meta({ description: "A URN naming the kind of problem", examples: ["urn:agenthub:problem:validation"] }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional().meta({ description: "422 only: each bad field" }),
  })
  .loose()
  .meta({ description: "An RFC 9457 problem: every error answer, and the `error` of a refused socket ack." });

/** Path parameters: their schema and meaning. Not parsed (an unknown id answers 404), only documented. */
const PATH_PARAMS: Record<string, { schema: z.ZodType; description: string }> = {
  agentId: { schema: AgentId, description: "The agent's slug id" },
  sessionId: { schema: z.string(), description: "A session id (`ses_…`)" },
  turnId: { schema: z.string(), description: "A turn id" },
  userId: { schema: z.string().regex(/^\d{1,15}$/), description: "A user's int64 id" },
  keyId: { schema: z.string(), description: "A key id" },
  workspaceId: { schema: z.string(), description: "A workspace id (`ws_…`)" },
  channelId: { schema: z.string(), description: "A channel id (`ch_…`)" },
  groupId: { schema: z.string(), description: "A group id (`grp_…`)" },
  askId: { schema: z.string(), description: "An ask id" },
  token: { schema: z.string().regex(/^[A-Za-z0-9_-]{43}$/), description: "A share token" },
  knowledgeId: { schema: z.string(), description: "A knowledge item id" },
  threadId: { schema: z.string(), description: "A thread id (a session id)" },
  serverId: { schema: z.string(), description: "An agent server id (its agent's id)" },
  name: { schema: z.string(), description: "A tool's name" },
};

function pathParams(path: string): z.ZodObject | undefined {
  const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  if (!names.length) return undefined;
  return z.object(Object.fromEntries(names.map((n) => [n, (PATH_PARAMS[n]?.schema ?? z.string()).meta({ description: PATH_PARAMS[n]?.description ?? n })])));
}

const ERRORS: Record<ErrorStatus, { name: string; description: string; example: object; retryAfter?: boolean }> = {
  400: { name: "BadRequest", description: "The request cannot be read (a body that does not decode, a malformed request)", example: { type: "urn:agenthub:problem:http-400", title: "Bad Request", status: 400, detail: "The body does not decode as its Content-Encoding says" } },
  401: { name: "Unauthorized", description: "Missing, malformed, expired or unknown credential", example: { type: "urn:agenthub:problem:unauthorized", title: "Unauthorized", status: 401, detail: "Send a credential: Authorization: Bearer <token or key>" } },
  403: { name: "Forbidden", description: "A valid credential that may not do this (scope, team access level, role)", example: { type: "urn:agenthub:problem:forbidden", title: "Forbidden", status: 403, detail: "Only the agent's editors may change it" } },
  404: { name: "NotFound", description: "Does not exist, or the caller may not know it exists", example: { type: "urn:agenthub:problem:not-found", title: "Not Found", status: 404, detail: "Session not found" } },
  409: { name: "Conflict", description: "Conflicts with the current state (a duplicate, a turn already running, an id reused with another body)", example: { type: "urn:agenthub:problem:conflict", title: "Conflict", status: 409, detail: "A turn is already running on this session" } },
  413: { name: "PayloadTooLarge", description: "The body is larger than BODY_LIMIT", example: { type: "urn:agenthub:problem:payload-too-large", title: "Payload Too Large", status: 413, detail: "The body is larger than 1048576 bytes" } },
  422: {
    name: "ValidationFailed",
    description: "Invalid body or query: `errors` names each bad field",
    example: { type: "urn:agenthub:problem:validation", title: "Unprocessable Content", status: 422, detail: "agentIds: a group needs at least two distinct agents", errors: [{ field: "agentIds", message: "a group needs at least two distinct agents" }] },
  },
  429: { name: "TooManyRequests", description: "Rate limited; retry after `Retry-After` seconds", example: { type: "urn:agenthub:problem:rate-limited", title: "Too Many Requests", status: 429, detail: "Slow down; retry after 3s" }, retryAfter: true },
  501: { name: "NotImplemented", description: "Not available on this hub's configuration", example: { type: "urn:agenthub:problem:not-implemented", title: "Not Implemented", status: 501, detail: "This hub cannot issue tokens" } },
  503: { name: "Unavailable", description: "A dependency (Postgres) is not reachable; retry after `Retry-After` seconds", example: { type: "urn:agenthub:problem:unavailable", title: "Service Unavailable", status: 503, detail: "The database is not reachable; retry shortly" }, retryAfter: true },
};

const SECURITY_SCHEMES = {
  userToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A user's JWT (HS256 with JWT_SECRET, or your identity provider's keys); claims sub, email, name, groups, workspace, role?, exp." },
  masterKey: { type: "http", scheme: "bearer", bearerFormat: "g_master_…", description: "A workspace master key: everything in its workspace." },
  agentKey: { type: "http", scheme: "bearer", bearerFormat: "g_agent_…", description: "An agent key: one agent, only the scopes it was given." },
  keyToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A token from generate-access-key-token, acting as its key (Backplane)." },
  apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key", description: "A master or agent key, for generate-access-key-token only." },
};

/** The errors an operation answers: what its shape implies, plus its own. */
export function errorStatuses(o: Documented): ErrorStatus[] {
  const set = new Set<ErrorStatus>(o.errors ?? []);
  if (o.security.length) [401, 403, 429, 503].forEach((s) => set.add(s as ErrorStatus));
  if (o.path.includes("{")) set.add(404);
  if (o.body || o.query) set.add(422);
  if (o.body) set.add(413);
  return [...set].sort((a, b) => a - b);
}

const errorRefs = (o: Documented) => Object.fromEntries(errorStatuses(o).map((s) => [String(s), { $ref: `#/components/responses/${ERRORS[s].name}` }]));

const isRequired = (body: z.ZodType) => ((z.toJSONSchema(body, { io: "input", unrepresentable: "any" }) as { required?: string[] }).required?.length ?? 0) > 0;

function tableOperation(r: Documented, names: Map<z.ZodType, string>): ZodOpenApiOperationObject {
  const { answer } = r;
  const body = r.body && asComponent(r.body, names, "input");
  const schema = answer.schema && asComponent(answer.schema, names, "output");
  const type = answer.contentType ?? "application/json";
  const success =
    answer.status === 204
      ? { description: answer.description }
      : { description: answer.description, content: { [type]: { schema: schema ?? (type === "application/json" ? {} : { type: "string" as const }), ...(answer.example !== undefined ? { example: answer.example } : {}) } } };
  const path = pathParams(r.path);
  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    security: r.security.map((name) => ({ [name]: [] })),
    ...(path || r.query ? { requestParams: { ...(path ? { path } : {}), ...(r.query ? { query: r.query as z.ZodObject } : {}) } } : {}),
    ...(body ? { requestBody: { required: isRequired(r.body!), content: { "application/json": { schema: body, ...(r.bodyExample !== undefined ? { example: r.bodyExample } : {}) } } } } : {}),
    responses: {
      [String(answer.status)]: success,
      ...Object.fromEntries((answer.also ?? []).map((a) => [String(a.status), { ...success, description: a.description }])),
      ...(answer.stream ? { "200": { description: "With `Accept: text/event-stream`: the turn's events as SSE until `done`", content: { "text/event-stream": { schema: { type: "string" as const } } } } } : {}),
      ...errorRefs(r),
    },
  };
}

/** Component names of the zod schemas a family exports (its schema.ts module): their export names. */
export function schemaComponents(...modules: Array<Record<string, unknown>>): Map<z.ZodType, string> {
  const out = new Map<z.ZodType, string>();
  for (const m of modules) for (const [name, value] of Object.entries(m)) if (value instanceof z.ZodType && !out.has(value)) out.set(value, name);
  return out;
}

/**
 * A named schema as zod-openapi makes a component of it: a copy carrying its id, made once per
 * schema. `io` says how to render it where no operation uses it.
 */
const named = new WeakMap<z.ZodType, z.ZodType>();
function asComponent<S extends z.ZodType>(schema: S, names: Map<z.ZodType, string>, io: "input" | "output"): S {
  const name = names.get(schema);
  if (!name) return schema;
  let copy = named.get(schema);
  if (!copy) named.set(schema, (copy = schema.meta({ id: name, unusedIO: io })));
  return copy as S;
}

/** The OpenAPI 3.1 document of the route tables. */
export function buildOpenApi(routes: readonly Documented[], names: Map<z.ZodType, string>): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method] = tableOperation(r, names);
  const schemas = { Problem };
  const responses: Record<string, object> = {};
  for (const e of Object.values(ERRORS)) {
    responses[e.name] = {
      description: e.description,
      ...(e.retryAfter ? { headers: { "Retry-After": { description: "Seconds to wait", schema: { type: "integer" } } } } : {}),
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" }, example: e.example } },
    };
  }
  const tags = [...new Set(routes.map((r) => r.tag))];
  return createDocument(
    {
      openapi: "3.1.0",
      jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
      info: {
        title: "agenthub",
        version: "0.1.0",
        description:
          "A realtime collaboration hub for AI agents and the people who use them: agents and their teams, sessions (whole agent turns), share links, groups, team channels, agent turns, and the Sharely-compatible Agent Backplane (`/v1`). Live updates go over Socket.IO (see the README); errors are RFC 9457 problem+json.",
      },
      servers: [{ url: "/" }],
      tags: tags.map((name) => ({ name })),
      paths,
      components: { schemas: schemas as never, responses: responses as never, securitySchemes: SECURITY_SCHEMES as never },
    },
    { allowEmptySchema: { unknown: true, any: true } as never },
  ) as unknown as Record<string, unknown>;
}
