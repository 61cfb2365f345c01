/**
 * What a route table entry is. Each family of routes is one table (routes/<family>/table.ts); from
 * the tables come the Koa routers (mount.ts), the OpenAPI document (openapi.ts) and the typed
 * client's operations (client/operations.ts, checked against the tables by a test). An entry is
 * the whole contract of one route: where it is, what it takes (zod), what it answers (zod), which
 * credential and policy it relies on, and a handler that calls one service.
 */
import type { Context } from "koa";
import type { z } from "zod";
import type { Principal } from "../auth/principal.js";
import type { HubState } from "./context.js";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** The credentials an operation takes (all as `Authorization: Bearer`, except `apiKeyHeader`). */
export type Credential = "userToken" | "masterKey" | "agentKey" | "keyToken" | "apiKeyHeader";

/** Error statuses an operation may answer beyond those its shape implies (openapi.ts `errorStatuses`). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 501 | 503;

/** The usual credentials of the REST API. */
export const ANY_CREDENTIAL: Credential[] = ["userToken", "masterKey", "agentKey"];

/** What the route answers when it succeeds. */
export interface Answer {
  status: number;
  description: string;
  /** The body's schema; absent only for 204 and non-JSON answers. Views are what this schema says. */
  schema?: z.ZodType;
  example?: unknown;
  /** Default application/json. */
  contentType?: string;
  /** Other statuses answered with the same body (a handler's Reply), e.g. 200 for a retry of a create. */
  also?: Array<{ status: number; description: string }>;
  /** Also answers 200 `text/event-stream` (a turn's events) when the client accepts it. */
  stream?: boolean;
}

/** The parsed request as a handler receives it. */
export interface Call<P, Q, B> {
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  ctx: Context & { state: HubState };
}

/** A handler answering with a status other than its entry's (201 created or 200 the same again). */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/** Returned by a handler that wrote the answer itself (an event stream). */
export const ANSWERED = Symbol("answered");

export interface Route<Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: HttpMethod;
  /** OpenAPI form: `/api/agents/{agentId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** Who may call it; [] for routes that need no credential. */
  security: Credential[];
  /** The policy that decides access (documented here, enforced by the service). */
  policy: string;
  query?: Q;
  body?: B;
  bodyExample?: unknown;
  answer: Answer;
  errors?: ErrorStatus[];
  handle(call: Call<Record<string, string>, z.output<Q>, z.output<B>>): unknown;
}

/** An entry as the OpenAPI document needs it: routes mounted elsewhere are documented with these. */
export type Documented = Omit<Route, "handle">;

/** Types one entry (inference of its query and body); the table is an array of these. */
export function route<Q extends z.ZodType = z.ZodType<undefined>, B extends z.ZodType = z.ZodType<undefined>>(entry: Route<Q, B>): Route {
  return entry as unknown as Route;
}
