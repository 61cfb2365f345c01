/**
 * Every route table, in one place: app.ts mounts them and builds the OpenAPI document from them,
 * and a test compares the client's operations (client/operations.ts) with them. A new family is
 * one table here; a new protocol route is one entry in its family's table.
 */
import type { Services } from "../../services.js";
import { buildOpenApi, schemaComponents } from "../openapi.js";
import type { Route } from "../table.js";
import * as agentSchemas from "./agents/schema.js";
import { agentsTable } from "./agents/table.js";
import * as sessionSchemas from "./sessions/schema.js";
import { sessionsTable, sharedViewTable } from "./sessions/table.js";

export interface RouteTables {
  /** No credential (the per-address limit applies where app.ts says). */
  open: Route[];
  /** Behind the API's authentication and per-credential limit. */
  api: Route[];
}

export function routeTables(s: Services): RouteTables {
  return { open: sharedViewTable(s), api: [...agentsTable(s), ...sessionsTable(s)] };
}

/** Every family's named schemas, as the document's components. */
export const SCHEMA_COMPONENTS = schemaComponents(agentSchemas, sessionSchemas);

/** The OpenAPI document of the tables, as JSON. */
export function openApiJson(tables: RouteTables): string {
  return JSON.stringify(buildOpenApi(Object.values(tables).flat(), SCHEMA_COMPONENTS));
}
