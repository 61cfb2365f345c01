/**
 * MCP sessions on this hub process. A session (its `McpServer`, transport and subscriptions)
 * lives on the node that initialized it, bound to the credential that did (the same key, or the
 * same user with a fresh token); a request naming it on another node answers 404 and the client
 * initializes again there (MCP's rule for a lost session). Tools keep no state between calls, so
 * nothing is lost but the subscriptions. Updates, however, come from every node: each node
 * receives every committed event (realtime/transport.ts) and tells its own sessions subscribed
 * to the resource, once the session's principal may still read it.
 *
 * Bounded: at most MAX_PER_CREDENTIAL sessions per credential (the least recently used is closed
 * past it) and MAX_SESSIONS per node (a new one is refused with 503 past it); a session neither
 * used nor listened to for IDLE_MS is closed, and so is one whose credential expired (the
 * client initializes again with a fresh one); a revoked key's sessions are closed at once.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import type { DomainEvent } from "../domain/events.js";
import type { Services } from "../services.js";
import { mayRead, parseResourceUri, resourceUri } from "./resources.js";

export const MAX_SESSIONS = 5000;
export const MAX_PER_CREDENTIAL = 20;
export const IDLE_MS = 30 * 60_000;
const SWEEP_MS = 60_000;

export interface McpSession {
  id: string;
  server: McpServer;
  transport: StreamableHTTPServerTransport;
  /** The credential it is bound to (credentialIdOf). */
  credential: string;
  /** The principal of its latest request: whom updates are checked for. */
  principal: Principal;
  subscriptions: Set<string>;
  lastSeen: number;
  /** Its GET (notification) streams open now: a session that listens is not idle. */
  listening: number;
}

/** One id per credential: a key, or a user (whichever token they bring). */
export function credentialIdOf(p: Principal): string {
  return p.kind === "user" ? `user:${p.workspaceId}:${p.userId}` : `key:${p.keyId}`;
}

export class McpSessions {
  private readonly byId = new Map<string, McpSession>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly services: Services,
    private readonly log: Logger,
    private readonly onCount: (n: number) => void,
  ) {
    this.sweep = setInterval(() => this.closeIdle(), SWEEP_MS);
    this.sweep.unref();
  }

  get size(): number {
    return this.byId.size;
  }

  /** The session, when it is on this node and bound to this principal's credential. */
  find(id: string, p: Principal): McpSession | undefined {
    const session = this.byId.get(id);
    if (!session || session.credential !== credentialIdOf(p)) return undefined;
    session.principal = p;
    session.lastSeen = Date.now();
    return session;
  }

  isFull(): boolean {
    return this.byId.size >= MAX_SESSIONS;
  }

  add(session: McpSession): void {
    const mine = [...this.byId.values()].filter((x) => x.credential === session.credential).sort((x, y) => x.lastSeen - y.lastSeen);
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_PER_CREDENTIAL + 1))) void this.close(old.id);
    this.byId.set(session.id, session);
    this.onCount(this.byId.size);
  }

  /** The transport closed it (DELETE, or close below). */
  removed(id: string): void {
    if (this.byId.delete(id)) this.onCount(this.byId.size);
  }

  async close(id: string): Promise<void> {
    const session = this.byId.get(id);
    if (!session) return;
    this.removed(id);
    await session.server.close().catch((err) => this.log.warn({ err }, "could not close an MCP session"));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweep);
    await Promise.all([...this.byId.keys()].map((id) => this.close(id)));
  }

  /** Closes sessions idle for IDLE_MS (none listening) and those whose credential expired (a user token, a key with an end). */
  private closeIdle(): void {
    const now = Date.now();
    for (const s of this.byId.values()) {
      const expired = s.principal.expiresAt !== undefined && s.principal.expiresAt.getTime() <= now;
      if (expired || (s.listening === 0 && s.lastSeen < now - IDLE_MS)) void this.close(s.id);
    }
  }

  /** A committed event reached this node: updates for the sessions subscribed to what it changed. */
  received(event: DomainEvent): void {
    if (event.type === "key.revoked") {
      for (const s of this.byId.values()) if (s.credential === `key:${event.keyId}`) void this.close(s.id);
      return;
    }
    const uri = uriChangedBy(event);
    if (!uri || !this.byId.size) return;
    for (const s of this.byId.values()) {
      if (s.subscriptions.has(uri)) void this.update(s, uri);
    }
  }

  private async update(s: McpSession, uri: string): Promise<void> {
    try {
      const p = s.principal;
      if (p.expiresAt && p.expiresAt.getTime() <= Date.now()) return;
      if (!(await mayRead(this.services, p, parseResourceUri(uri)!))) return;
      await s.server.server.sendResourceUpdated({ uri });
    } catch (err) {
      this.log.warn({ err, uri }, "could not send an MCP resource update");
    }
  }
}

/** The hub resource a committed event changed, if any. */
function uriChangedBy(event: DomainEvent): string | undefined {
  switch (event.type) {
    case "session.message_appended":
    case "session.updated":
      return resourceUri.session(event.sessionId);
    case "channel.message":
      return resourceUri.channel(event.channelId);
    default:
      return undefined;
  }
}
