/**
 * Checks an answer of the hub against its OpenAPI document (built from the route tables, as
 * /openapi.json serves it): a problem+json body must be a Problem; a success must have a status
 * the operation documents and, for JSON, a body its schema accepts. test/support/api.ts runs it
 * on every answer the suite receives, so a view that drifts from its schema fails the test that
 * saw it.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { openApiJson, routeTables } from "../../src/http/routes/index.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
}

let spec: { doc: Doc; ajv: Ajv2020; templates: Array<{ path: string; pattern: RegExp; params: number }> } | undefined;
const compiled = new Map<string, ValidateFunction>();

function load() {
  if (spec) return spec;
  const doc = JSON.parse(openApiJson(routeTables({} as never, {} as never, { messageMaxBytes: 256 * 1024 }))) as Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc as object, "spec");
  const templates = Object.keys(doc.paths).map((path) => ({
    path,
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}$`),
    params: (path.match(/\{/g) ?? []).length,
  }));
  return (spec = { doc, ajv, templates });
}

const pointer = (...segments: string[]) => "#/" + segments.map((s) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");

function validator(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = load().ajv.compile({ $ref: `spec${ref}` })));
  return v;
}

/** The documented operation of a request, the most literal path first (`/sessions/archived` before `/sessions/{id}`). */
function operationOf(method: string, path: string): { path: string; op: Operation } | undefined {
  const { doc, templates } = load();
  const candidates = templates.filter((t) => t.pattern.test(path) && doc.paths[t.path]![method]).sort((a, b) => a.params - b.params);
  const found = candidates[0];
  return found ? { path: found.path, op: doc.paths[found.path]![method]! } : undefined;
}

/** Why the answer does not match the document, or undefined when it does (or the route is not the hub's). */
export function answerProblem(method: string, url: string, status: number, contentType: string | null, body: unknown): string | undefined {
  const path = new URL(url).pathname;
  const found = operationOf(method.toLowerCase(), path);
  if (!found) return undefined;
  const where = `${method} ${found.path} answered ${status}`;
  const check = (ref: string) => {
    const v = validator(ref);
    return v(body) ? undefined : `${where}, a body its document refuses: ${load().ajv.errorsText(v.errors, { dataVar: "body" })}\n${JSON.stringify(body).slice(0, 2000)}`;
  };
  if (contentType?.startsWith("application/problem+json")) return check("#/components/schemas/Problem");
  if (status < 200 || status >= 300) return undefined;
  const documented = found.op.responses[String(status)];
  if (!documented) return `${where}, a status its operation does not document`;
  if (!contentType?.startsWith("application/json")) return undefined;
  if (!documented.content?.["application/json"]?.schema) return `${where} with JSON, which its operation does not document`;
  return check(pointer("paths", found.path, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema"));
}
