/**
 * The hub as an MCP server: `POST|GET|DELETE /mcp`, MCP's Streamable HTTP transport
 * (`@modelcontextprotocol/sdk`'s server, given the raw node request and the parsed body). Every
 * request is checked in this order: its Host and Origin (DNS-rebinding protection: the hub's
 * public host or localhost, 403 otherwise), its credential (the one authentication of the API:
 * 401 problem with `WWW-Authenticate: Bearer` without one), then the MCP session it names
 * (sessions.ts). An initialize without a session starts one on this node; any other request
 * without a session is served statelessly (a server for that request alone). A GET whose
 * Last-Event-ID is an ask_agent stream position (resume.ts) is a resume, served on any node by a
 * transport of its own (resume-stream.ts), whichever session it names.
 *
 * Streams are bounded like the sockets: a response whose unsent bytes pass `maxBuffered` (a
 * reader that does not read) is cut.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { isInitializeRequest, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Context, Middleware } from "koa";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Authenticator } from "../auth/authenticate.js";
import type { Principal } from "../auth/principal.js";
import type { DomainEvent } from "../domain/events.js";
import { Forbidden, ServiceUnavailable, Unauthorized } from "../errors.js";
import { authenticate } from "../http/authenticate.js";
import type { HubState } from "../http/context.js";
import type { LocalRateLimiter, RateLimiter } from "../rate-limit.js";
import { rateLimit } from "../http/rate-limit.js";
import type { Services } from "../services.js";
import { registerResources } from "./resources.js";
import { credentialHash, decodePosition, positionStore, resumableCallOf, withResumableCall } from "./resume.js";
import { resumeReplay } from "./resume-stream.js";
import { McpSessions, credentialIdOf, type McpSession } from "./sessions.js";
import { registerTools } from "./tools.js";

export const MCP_PATH = "/mcp";
const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"];
/** Client-cancelled request ids a session remembers. */
const MAX_CANCELLED = 1000;
/** The version the server names at initialize (MCP's serverInfo). */
const SERVER_VERSION = "1.0.0";
/** Beyond the turn's own timeout, how long a resume may follow a turn. */
const RESUME_MARGIN_MS = 30_000;
/** The store of transports that serve calls: resumes are served apart (resume()), never by them. */
const store = positionStore(async () => {
  throw new Error("resumes are served by their own transport");
});
const sessionNotFound = { jsonrpc: "2.0", error: { code: -32001, message: "Session not found: initialize again" }, id: null };

export interface McpDeps {
  services: Services;
  auth: Authenticator;
  failedAuth: LocalRateLimiter;
  /** The API's per-credential limit (RATE_LIMIT_PER_10S), as on every authenticated route. */
  perCredential: RateLimiter | undefined;
  log: Logger;
  /** Where the MCP metrics are registered (HubMetrics.registry). */
  registry: Registry;
  /** PUBLIC_URL: its host is accepted besides localhost. */
  publicUrl: string | undefined;
  messageMaxBytes: number;
  turnTimeoutMs: number;
  /** Unsent bytes a response may hold before it is cut (SOCKET_MAX_BUFFERED). */
  maxBuffered: number;
}

export class McpEndpoint {
  private readonly sessions: McpSessions;
  private readonly allowedHosts: Set<string>;
  private readonly metrics;

  constructor(private readonly deps: McpDeps) {
    const registers = [deps.registry];
    this.metrics = {
      sessions: new Gauge({ name: "agenthub_mcp_sessions", help: "MCP sessions held by this process", registers }),
      streams: new Gauge({ name: "agenthub_mcp_open_responses", help: "MCP responses (JSON or SSE streams) open on this process", registers }),
      requests: new Counter({ name: "agenthub_mcp_requests_total", help: "MCP HTTP requests, by method", labelNames: ["method"], registers }),
      cut: new Counter({ name: "agenthub_mcp_streams_cut_total", help: "MCP streams cut because their reader fell behind by more than SOCKET_MAX_BUFFERED", registers }),
      resumes: new Counter({ name: "agenthub_mcp_resumes_total", help: "ask_agent streams resumed with Last-Event-ID (on any node), by outcome", labelNames: ["outcome"], registers }),
    };
    this.sessions = new McpSessions(deps.services, deps.log, (n) => this.metrics.sessions.set(n));
    this.allowedHosts = new Set(LOCAL_HOSTS);
    if (deps.publicUrl && URL.canParse(deps.publicUrl)) this.allowedHosts.add(new URL(deps.publicUrl).hostname);
  }

  /** Every node's committed events (realtime/transport.ts): resource updates for this node's sessions. */
  received(event: DomainEvent): void {
    this.sessions.received(event);
  }

  close(): Promise<void> {
    return this.sessions.closeAll();
  }

  middleware(): Middleware<HubState> {
    const auth = authenticate(this.deps.auth, this.deps.failedAuth);
    const limit = rateLimit(this.deps.perCredential);
    return async (ctx, next) => {
      if (ctx.path !== MCP_PATH) return next();
      this.checkHost(ctx);
      try {
        await auth(ctx, () => limit(ctx, () => this.serve(ctx)));
      } catch (err) {
        if (err instanceof Unauthorized) ctx.set("WWW-Authenticate", `Bearer realm="agenthub", resource="${MCP_PATH}"`);
        throw err;
      }
    };
  }

  /** DNS-rebinding protection: the Host (and the Origin, when sent) must name this hub. */
  private checkHost(ctx: Context): void {
    const hostname = (value: string) => (URL.canParse(value) ? new URL(value).hostname : undefined);
    const host = hostname(`http://${ctx.get("host")}`);
    if (!host || !this.allowedHosts.has(host)) throw new Forbidden(`The Host header ${JSON.stringify(ctx.get("host"))} does not name this hub (set PUBLIC_URL)`);
    const origin = ctx.get("origin");
    if (origin && !this.allowedHosts.has(hostname(origin) ?? "")) throw new Forbidden(`The Origin ${JSON.stringify(origin)} may not call this hub's MCP endpoint`);
  }

  private async serve(ctx: Context): Promise<void> {
    const principal = ctx.state.principal as Principal;
    const body = ctx.method === "POST" ? ctx.request.body : undefined;
    this.metrics.requests.inc({ method: ctx.method });
    const sessionId = ctx.get("mcp-session-id");
    const position = ctx.method === "GET" ? decodePosition(ctx.get("last-event-id")) : undefined;
    if (position) return this.resume(ctx, principal, position.h);
    let transport: StreamableHTTPServerTransport;
    if (sessionId) {
      const session = this.sessions.find(sessionId, principal);
      if (!session) {
        ctx.status = 404;
        ctx.body = sessionNotFound;
        return;
      }
      transport = session.transport;
      if (ctx.method === "GET") {
        session.listening += 1;
        ctx.res.once("close", () => (session.listening -= 1));
      }
    } else if (ctx.method === "POST" && isInitializeRequest(body)) {
      if (this.sessions.isFull()) throw new ServiceUnavailable(30, "This hub process holds as many MCP sessions as it may; try again later");
      transport = this.startSession(principal);
    } else {
      transport = this.stateless();
      ctx.res.once("close", () => void transport.close());
    }
    await withResumableCall(resumableCallOf(body, principal), () => this.handOver(ctx, principal, transport, body));
  }

  /** The SDK writes the answer; Koa only logs and counts it, under its real status (the SDK's writeHead replaces this one) and this route. */
  private async handOver(ctx: Context, principal: Principal, transport: StreamableHTTPServerTransport, body: unknown): Promise<void> {
    ctx.respond = false;
    ctx.status = 200;
    (ctx as { matched?: Array<{ path: string; methods: string[] }> }).matched = [{ path: MCP_PATH, methods: [ctx.method] }];
    const req = ctx.req as IncomingMessage & { auth?: AuthInfo };
    req.auth = { token: "", clientId: credentialIdOf(principal), scopes: principal.kind === "agent" ? principal.scopes : [], extra: { principal } };
    this.bound(ctx);
    await transport.handleRequest(req, ctx.res, body);
  }

  /**
   * A GET with the Last-Event-ID of an ask_agent stream (resume.ts), on any node, whichever MCP
   * session it names (or none): served by a transport of its own, for the credential whose call
   * it was (another: 404, as a session that is not found); the turn's session is read through
   * its policy (resume-stream.ts answers a call error when it may no longer be read).
   */
  private async resume(ctx: Context, principal: Principal, credential: string): Promise<void> {
    if (credential !== credentialHash(principal)) {
      this.metrics.resumes.inc({ outcome: "refused" });
      ctx.status = 404;
      ctx.body = sessionNotFound;
      return;
    }
    this.metrics.resumes.inc({ outcome: "served" });
    const left = new AbortController();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      eventStore: {
        storeEvent: async () => "",
        // Closed once the stream is complete: after the SDK handed out the stream (a macrotask later).
        replayEventsAfter: resumeReplay({ services: this.deps.services, followMs: this.deps.turnTimeoutMs + RESUME_MARGIN_MS }, principal, left.signal, () =>
          setImmediate(() => void transport.close()),
        ),
      },
    });
    ctx.res.once("close", () => {
      left.abort();
      void transport.close();
    });
    await this.handOver(ctx, principal, transport, undefined);
  }

  /** A new session on this node, kept once the transport names it. */
  private startSession(principal: Principal): StreamableHTTPServerTransport {
    const subscriptions = new Set<string>();
    const cancelled = new Set<string | number>();
    const transport = new StreamableHTTPServerTransport({
      eventStore: store,
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        const session: McpSession = { id, server, transport, credential: credentialIdOf(principal), principal, subscriptions, lastSeen: Date.now(), listening: 0 };
        this.sessions.add(session);
      },
      onsessionclosed: (id) => this.sessions.removed(id),
    });
    transport.onclose = () => transport.sessionId && this.sessions.removed(transport.sessionId);
    // Seen before the server reads it: which requests the client itself cancelled.
    transport.onmessage = (message: JSONRPCMessage) => {
      if ("method" in message && message.method === "notifications/cancelled") {
        const id = (message.params as { requestId?: string | number } | undefined)?.requestId;
        if (id === undefined) return;
        cancelled.add(id);
        // Bounded: the oldest ids go first (their calls ended long ago).
        if (cancelled.size > MAX_CANCELLED) cancelled.delete(cancelled.values().next().value!);
      }
    };
    const server = this.server(subscriptions, (id) => cancelled.has(id));
    void server.connect(transport);
    return transport;
  }

  /** A server and transport for one request without a session: no subscriptions, no GET stream. */
  private stateless(): StreamableHTTPServerTransport {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, eventStore: store });
    const server = this.server(new Set(), () => false);
    void server.connect(transport);
    return transport;
  }

  private server(subscriptions: Set<string>, cancelledByClient: (id: string | number) => boolean): McpServer {
    const server = new McpServer(
      { name: "agenthub", title: "agenthub", version: SERVER_VERSION },
      {
        capabilities: { tools: {}, resources: { subscribe: true, listChanged: true } },
        instructions: "The agents, sessions, groups, team channels and knowledge of an agenthub workspace, as your credential may use them.",
      },
    );
    const { services, messageMaxBytes, turnTimeoutMs } = this.deps;
    registerTools(server, { services, messageMaxBytes, turnTimeoutMs }, { cancelledByClient });
    registerResources(server, services, subscriptions);
    return server;
  }

  /** Counts the response while it is open, and cuts it when its reader falls behind by more than maxBuffered. */
  private bound(ctx: Context): void {
    const res = ctx.res;
    const max = this.deps.maxBuffered;
    this.metrics.streams.inc();
    res.once("close", () => this.metrics.streams.dec());
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((...args: unknown[]) => {
      const ok = write(...args);
      if (res.writableLength > max && !res.destroyed) {
        this.metrics.cut.inc();
        this.deps.log.warn({ buffered: res.writableLength, max }, "MCP stream cut: its reader fell behind");
        res.destroy();
      }
      return ok;
    }) as typeof res.write;
  }
}
