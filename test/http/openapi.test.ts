/**
 * GET /openapi.json: every route the app registers has an operation in the spec and every
 * operation is a registered route (a new route without an entry fails here); the document is
 * valid OpenAPI 3.1; request and answer schemas are the zod schemas of the route tables.
 */
import { readFileSync } from "node:fs";
import { Router } from "@koa/router";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { OPERATIONS_ROUTES } from "../../src/http/routes/operations.js";
import { allRoutes, routeTables } from "../../src/http/routes/index.js";
import { clientOperationsSource } from "../../src/http/routes/client-operations.js";
import type { Route } from "../../src/http/table.js";
import { GroupBody } from "../../src/http/routes/groups/schema.js";
import { PageQuery } from "../../src/schemas.js";
import { REST_OPERATIONS } from "../../src/client/rest.js";
import { useHub } from "../support/hub.js";

// Every router the app mounts goes through Router#middleware (routes() calls it): record them
// while the fixture builds its app, so routes are read from the app itself, whatever file adds them.
const mounted = new Set<Router<any, any>>();
const middleware = Router.prototype.middleware;
Router.prototype.middleware = function (this: Router<any, any>) {
  mounted.add(this);
  return middleware.call(this);
};
afterAll(() => {
  Router.prototype.middleware = middleware;
});

const hub = useHub();

/** `METHOD /path/{param}` of every route registered on the app's routers (HEAD, implied by GET, left out). */
function registeredRoutes(): string[] {
  const routes = new Set<string>();
  for (const router of mounted) {
    for (const layer of router.stack) {
      for (const method of layer.methods) {
        if (method === "HEAD") continue;
        routes.add(`${method} ${String(layer.path).replace(/:(\w+)/g, "{$1}")}`);
      }
    }
  }
  return [...routes].sort();
}

/** Every table entry (handlers are not called here, so no services are needed). */
const TABLES = routeTables({} as never, {} as never, { messageMaxBytes: 256 * 1024 });
const ROUTES: Route[] = allRoutes(TABLES);
const OPERATIONS = [...OPERATIONS_ROUTES, ...ROUTES];

/** JSON Schema (2020-12) of a zod schema as a request takes it: its input side, `$schema` left out. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}
/**
 * A spec schema as z.toJSONSchema writes it: zod-openapi adds `type: "object"` beside the `oneOf` of
 * a discriminated union (equivalent: every branch is an object), which is taken out here.
 */
function asZodWrites(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(asZodWrites);
  if (node === null || typeof node !== "object") return node;
  const entries = Object.entries(node as Record<string, unknown>).filter(([k, v]) => !(k === "type" && v === "object" && "oneOf" in (node as object)));
  return Object.fromEntries(entries.map(([k, v]) => [k, asZodWrites(v)]));
}
const specRoutes = () => OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();

describe("GET /openapi.json", () => {
  it("has an operation for every registered route, and a route for every operation", async () => {
    const routes = registeredRoutes();
    expect(routes.length).toBeGreaterThan(50);
    const documented = new Set(specRoutes());
    const registered = new Set(routes);
    expect(routes.filter((r) => !documented.has(r)), "routes without an operation in src/http/openapi.ts").toEqual([]);
    expect(specRoutes().filter((r) => !registered.has(r)), "operations without a route").toEqual([]);
    expect(new Set(specRoutes()).size, "one operation per method and path").toBe(OPERATIONS.length);
    expect(new Set(OPERATIONS.map((o) => o.operationId)).size, "unique operationIds").toBe(OPERATIONS.length);
  });

  it("is a valid OpenAPI 3.1 document, served without a credential", async () => {
    const res = await hub.anon.get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(Object.keys(res.body.components.securitySchemes).sort()).toEqual(["agentKey", "apiKeyHeader", "keyToken", "masterKey", "userToken"]);
  });

  it("takes request schemas from the zod schemas that validate requests: a schema change changes the spec", async () => {
    const spec = (await hub.anon.get("/openapi.json")).body;
    const createGroup = spec.paths["/api/groups"].post;
    expect(createGroup.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/GroupBody" });
    const { $schema: _, ...groupBody } = z.toJSONSchema(GroupBody, { io: "input" }) as Record<string, unknown>;
    expect(spec.components.schemas.GroupBody).toEqual(groupBody);
    expect(spec.components.schemas.GroupBody.properties.agentIds.maxItems).toBe(100);
    // Queries become parameters, one per property of the query schema.
    const listGroups = spec.paths["/api/groups"].get;
    const query = listGroups.parameters.filter((p: { in: string }) => p.in === "query");
    expect(Object.fromEntries(query.map((p: { name: string; schema: unknown }) => [p.name, p.schema]))).toEqual(
      (jsonSchemaOf(PageQuery) as { properties: Record<string, unknown> }).properties,
    );
    // Every request body, the same way.
    for (const r of ROUTES.filter((e) => e.body)) {
      const name = TABLES.names.get(r.body!);
      expect(name, `${r.operationId}: its body schema is exported by its family's schema.ts`).toBeDefined();
      expect(spec.paths[r.path][r.method].requestBody.content["application/json"].schema, r.operationId).toEqual({ $ref: `#/components/schemas/${name}` });
      expect(asZodWrites(spec.components.schemas[name!]), r.operationId).toEqual(jsonSchemaOf(r.body!));
    }
    // Answers too: a table entry's answer is its zod schema, as a component.
    for (const r of ROUTES.filter((e) => e.answer.schema)) {
      const name = TABLES.names.get(r.answer.schema!);
      expect(name, `${r.operationId}: its answer schema is exported by its family's schema.ts`).toBeDefined();
      const media = spec.paths[r.path][r.method].responses[String(r.answer.status)].content["application/json"];
      expect(media.schema.$ref, r.operationId).toMatch(new RegExp(`^#/components/schemas/${name}(Output)?$`));
    }
  });

  it("has request examples that the request schemas accept, answer examples that the answer schemas accept, and problem+json errors", async () => {
    for (const r of ROUTES) {
      if (r.answer.schema && r.answer.example !== undefined) {
        const parsed = r.answer.schema.safeParse(r.answer.example);
        expect(parsed.success, `${r.operationId} answer example: ${parsed.error?.message}`).toBe(true);
      }
    }
    for (const o of OPERATIONS) {
      if (o.body && o.bodyExample !== undefined) {
        const parsed = o.body.safeParse(o.bodyExample);
        expect(parsed.success, `${o.operationId}: ${parsed.error?.message}`).toBe(true);
      }
    }
    const spec = (await hub.anon.get("/openapi.json")).body;
    const createAgent = spec.paths["/api/agents"].post;
    expect(createAgent.responses["422"]).toEqual({ $ref: "#/components/responses/ValidationFailed" });
    expect(createAgent.security).toEqual([{ userToken: [] }, { masterKey: [] }, { agentKey: [] }]);
    expect(spec.components.responses.ValidationFailed.content["application/problem+json"].schema).toEqual({ $ref: "#/components/schemas/Problem" });
    expect(spec.paths["/healthz"].get.security).toEqual([]);
  });

  it("gives the typed client its operations from the route tables (src/client/operations.ts is current)", () => {
    expect(readFileSync(new URL("../../src/client/operations.ts", import.meta.url), "utf8"), "run npm run client:operations").toBe(clientOperationsSource());
  });

  it("covers every route the typed client (agenthub/client) calls", () => {
    const documented = new Set(specRoutes());
    const called = Object.entries(REST_OPERATIONS).map(([name, [method, path]]) => ({ name, route: `${method} ${path}` }));
    expect(called.filter((c) => !documented.has(c.route))).toEqual([]);
  });
});
