/**
 * Every route table, in one place: app.ts mounts them and builds the OpenAPI document from them,
 * and a test compares the client's operations (client/operations.ts) with them. A new family is
 * one table here; a new protocol route is one entry in its family's table.
 */
import type { z } from "zod";
import type { Authenticator } from "../../auth/authenticate.js";
import type { Services } from "../../services.js";
import { buildOpenApi, schemaComponents } from "../openapi.js";
import type { Route } from "../table.js";
import { TurnStreams, type TurnStreamOptions } from "../turn-stream.js";
import * as a2aSchemas from "./a2a/schema.js";
import * as approvalSchemas from "../../domain/approvals/schema.js";
import { approvalsTable } from "./approvals/table.js";
import { a2aTable, type A2aOptions } from "./a2a/table.js";
import * as agentSchemas from "./agents/schema.js";
import { agentsTable } from "./agents/table.js";
import * as backplaneSchemas from "./backplane/schema.js";
import { backplaneTable, keyExchangeTable } from "./backplane/table.js";
import * as chatSchemas from "./chat/schema.js";
import { chatTable } from "./chat/table.js";
import * as channelSchemas from "./channels/schema.js";
import { channelsTable } from "./channels/table.js";
import * as groupSchemas from "./groups/schema.js";
import { groupsTable } from "./groups/table.js";
import * as knowledgeSchemas from "./knowledge/schema.js";
import { knowledgeTable } from "./knowledge/table.js";
import * as mcpSchemas from "./mcp/schema.js";
import { mcpServersTable } from "./mcp/table.js";
import { OPERATIONS_ROUTES } from "./operations.js";
import * as sessionSchemas from "./sessions/schema.js";
import { sessionsTable, sharedViewTable } from "./sessions/table.js";

export interface RouteTables {
  /** No credential (the per-address limit applies where app.ts says). */
  open: Route[];
  /** Behind the API's authentication and per-credential limit. */
  api: Route[];
  /** The key exchange (an API key in `x-api-key`) and /v1, each behind its middleware (backplane.ts). */
  keyExchange: Route[];
  v1: Route[];
  /** The component name of every named schema (request or answer) the tables use. */
  names: Map<z.ZodType, string>;
}

/** The settings the tables' schemas are made from. */
export interface TableSettings {
  messageMaxBytes: number;
  /** Turn streams' bounds and metrics (SSE answers of every format); default: 8 MiB, no metrics. */
  streams?: TurnStreamOptions;
  /** The A2A routes' base URL, stream bound and metrics hooks (defaults without). */
  a2a?: A2aOptions;
}

/** Every family's named schemas, by export name, as the document's components. */
export const SCHEMA_COMPONENTS = schemaComponents(agentSchemas, sessionSchemas, channelSchemas, groupSchemas, knowledgeSchemas, mcpSchemas, backplaneSchemas, chatSchemas, a2aSchemas, approvalSchemas);

export function routeTables(s: Services, auth: Authenticator, settings: TableSettings): RouteTables {
  const publish = channelSchemas.publishSchema(settings.messageMaxBytes);
  const streams = new TurnStreams(s.turns, settings.streams ?? { maxBufferedBytes: 8 * 1024 * 1024 });
  return {
    open: sharedViewTable(s),
    api: [...agentsTable(s), ...sessionsTable(s, streams), ...chatTable(s, streams), ...channelsTable(s, publish), ...groupsTable(s), ...knowledgeTable(s), ...mcpServersTable(s), ...approvalsTable(s), ...a2aTable(s, settings.a2a)],
    keyExchange: keyExchangeTable(auth),
    v1: backplaneTable(s, auth, streams),
    names: new Map([...SCHEMA_COMPONENTS, [publish, "PublishChannelMessage"]]),
  };
}

export const allRoutes = (t: RouteTables): Route[] => [...t.open, ...t.api, ...t.keyExchange, ...t.v1];

/** The OpenAPI document of the tables, as JSON. */
export function openApiJson(tables: RouteTables): string {
  return JSON.stringify(buildOpenApi([...OPERATIONS_ROUTES, ...allRoutes(tables)], tables.names));
}

/** The typed client's operations: every table entry's operation id, method and path (client/operations.ts is made from this). */
export function clientOperations(tables: RouteTables): Record<string, [string, string]> {
  const entries = allRoutes(tables).map((r) => [r.operationId, [r.method.toUpperCase(), r.path]] as [string, [string, string]]);
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}
