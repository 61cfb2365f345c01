/**
 * The hand-written part of the OpenAPI document, for the route families not yet moved to a route
 * table (routes/<family>/table.ts): their operations, response JSON Schemas and examples. It
 * shrinks family by family; openapi.ts builds the one document from the tables and from this.
 */
import { z } from "zod";
import * as S from "../schemas.js";
import { SSE_EXAMPLE, T, ex } from "./examples.js";
import type { Credential, ErrorStatus, HttpMethod } from "./table.js";

export interface Operation {
  method: HttpMethod;
  /** OpenAPI form: `/api/agents/{agentId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Who may call it; [] for routes that need no credential. */
  security: Credential[];
  /** The JSON body, validated by this schema (src/schemas.ts). */
  body?: z.ZodType;
  bodyExample?: unknown;
  /** The query string, validated by this object schema (src/schemas.ts). */
  query?: z.ZodType;
  success: {
    status: number;
    description: string;
    /** A component schema name under #/components/schemas. */
    schema?: string;
    example?: unknown;
    /** `text/event-stream` answers (a turn's events as SSE). */
    stream?: boolean;
    contentType?: string;
  };
  /** Extra error statuses beyond those implied (401/403/429/503 with a credential, 404 with path params, 422/413 with input). */
  errors?: ErrorStatus[];
}

// ---- schemas: request (from src/schemas.ts) and response (the main resources) -----------------

/** JSON Schema (2020-12) of a zod schema as a request takes it: its input side, `$schema` left out. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}


/** The component name of every request schema: its export name in src/schemas.ts. */
const schemaNames = new Map<z.ZodType, string>();
for (const [name, value] of Object.entries(S)) {
  if (value instanceof z.ZodType && !schemaNames.has(value)) schemaNames.set(value, name);
}

export function schemaName(schema: z.ZodType): string {
  const name = schemaNames.get(schema);
  if (!name) throw new Error("openapi: a request schema that src/schemas.ts does not export (name it in schemaNames)");
  return name;
}

const iso = { type: "string", format: "date-time" } as const;
const nullable = (s: object) => ({ anyOf: [s, { type: "null" }] });
const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const obj = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({ type: "object", properties, required });

/** Response schemas of the main resources (what the hub answers; requests are the zod schemas). */
export const LEGACY_RESPONSE_SCHEMAS: Record<string, object> = {
  Problem: {
    type: "object",
    description: "An RFC 9457 problem: every error answer, and the `error` of a refused socket ack.",
    properties: {
      type: { type: "string", description: "A URN naming the kind of problem", examples: ["urn:agenthub:problem:validation"] },
      title: str,
      status: int,
      detail: str,
      errors: {
        type: "array",
        description: "422 only: each bad field",
        items: obj({ field: str, message: str }),
      },
    },
    required: ["type", "title", "status", "detail"],
  },
};

// ---- examples ---------------------------------------------------------------------------------

// ---- the operations ---------------------------------------------------------------------------

const ANY: Credential[] = ["userToken", "masterKey", "agentKey"];
const V1: Credential[] = ["userToken", "keyToken", "masterKey", "agentKey"];

type Spec = Omit<Operation, "method" | "path" | "operationId" | "summary" | "tags" | "security" | "success"> & {
  security?: Credential[];
  /** Shorthand for success: [status, description, schema?, example?]. */
  ok: [status: number, description: string, schema?: string, example?: unknown] | Operation["success"];
};

function op(method: HttpMethod, path: string, operationId: string, tags: string | string[], summary: string, spec: Spec): Operation {
  const { ok, security, ...rest } = spec;
  const success = Array.isArray(ok)
    ? { status: ok[0], description: ok[1], ...(ok[2] ? { schema: ok[2] } : {}), ...(ok[3] !== undefined ? { example: ok[3] } : {}) }
    : ok;
  return { method, path, operationId, summary, tags: Array.isArray(tags) ? tags : [tags], security: security ?? ANY, success, ...rest };
}

const list = (key: string, schema: string, example: unknown, cursor = "next_cursor") => ({
  type: "object",
  properties: { [key]: { type: "array", items: { $ref: `#/components/schemas/${schema}` } }, [cursor]: nullable(str) },
  required: [key],
  example: { [key]: [example], [cursor]: null },
});

export const LEGACY_OPERATIONS: Operation[] = [
  // operations
  op("get", "/healthz", "healthz", "Operations", "Liveness: the process is up", { security: [], ok: [200, "`{status: \"ok\"}`", undefined, { status: "ok" }] }),
  op("get", "/readyz", "readyz", "Operations", "Readiness: the database (and Redis) answer", { security: [], ok: [200, "Ready", undefined, { status: "ready" }], errors: [503] }),
  op("get", "/metrics", "metrics", "Operations", "Prometheus metrics", {
    description: "Protected by `METRICS_TOKEN` (as a Bearer token) when it is set.",
    security: [],
    ok: { status: 200, description: "Prometheus text exposition format", contentType: "text/plain", example: "# HELP agenthub_sockets_connected …\n" },
    errors: [401],
  }),
  op("get", "/openapi.json", "openapi", "Operations", "This document", { security: [], ok: [200, "The OpenAPI 3.1 document"] }),

];

/** The query parameters of a hand-written operation (path parameters are added by openapi.ts). */
function queryParameters(o: Operation): object[] {
  if (!o.query) return [];
  const schema = jsonSchemaOf(o.query) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({ name, in: "query", required: schema.required?.includes(name) ?? false, schema: s }));
}

/** The OpenAPI operation object of a hand-written operation (its body the zod schema, rendered by zod-openapi). */
export function legacyOperationObject(o: Operation, errors: Record<string, object>): Record<string, unknown> {
  const success: Record<string, unknown> = { description: o.success.description };
  if (o.success.status !== 204) {
    const type = o.success.contentType ?? "application/json";
    const media: Record<string, unknown> = {};
    if (o.success.schema) media.schema = { $ref: `#/components/schemas/${o.success.schema}` };
    else if (type === "application/json") media.schema = {};
    else media.schema = { type: "string" };
    if (o.success.example !== undefined) media.example = o.success.example;
    success.content = { [type]: media };
  }
  const responses: Record<string, unknown> = { [String(o.success.status)]: success };
  if (o.success.stream) {
    responses["200"] = { description: "With `Accept: text/event-stream`: the turn's events as SSE until `done`", content: { "text/event-stream": { schema: { type: "string" }, example: SSE_EXAMPLE } } };
  }
  Object.assign(responses, errors);
  const requestBody = o.body
    ? {
        required: ((jsonSchemaOf(o.body) as { required?: string[] }).required?.length ?? 0) > 0,
        content: { "application/json": { schema: o.body, ...(o.bodyExample !== undefined ? { example: o.bodyExample } : {}) } },
      }
    : undefined;
  const params = queryParameters(o);
  return {
    operationId: o.operationId,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    tags: o.tags,
    security: o.security.map((name) => ({ [name]: [] })),
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}
