/**
 * The tools each MCP server offers, as `GET /api/mcp-servers/{id}` answers them: listed live,
 * kept briefly so a page that reloads does not reconnect each time, and listed once however many
 * ask at the same moment. A listing is kept for the server as it was configured (URL and sealed
 * headers): a change lists afresh. Failures are kept for a shorter while, so an unreachable
 * server is not dialled (and waited on) at every request. Bounded in entries.
 */
import { sha256 } from "../../ids.js";
import type { McpTarget, McpTool } from "../../endpoints/mcp-client.js";
import type { McpServer } from "./repository.js";

/** How long a listing is kept. */
export const TOOLS_TTL_MS = 30_000;
/** How long a failure is kept. */
export const TOOLS_FAILURE_TTL_MS = 5_000;
/** At most this many listings are kept (the oldest leave first). */
export const MAX_LISTINGS = 256;
/** The longest reason answered in `tools_error`. */
const MAX_REASON = 500;

export interface ToolListing {
  tools: McpTool[] | null;
  tools_error: string | null;
}

interface Entry {
  /** The configuration the listing is of. */
  version: string;
  expiresAt: number;
  listing: Promise<ToolListing>;
}

export class ToolListings {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly list: (target: McpTarget) => Promise<McpTool[]>,
    private readonly now: () => number,
  ) {}

  /** The server's tools, or why they could not be listed (never throws). */
  get(server: McpServer, target: () => McpTarget): Promise<ToolListing> {
    const version = sha256(`${server.url}\n${server.headers ?? ""}`);
    const cached = this.entries.get(server.id);
    if (cached && cached.version === version && cached.expiresAt > this.now()) return cached.listing;
    const entry: Entry = { version, expiresAt: Number.POSITIVE_INFINITY, listing: Promise.resolve({ tools: null, tools_error: null }) };
    entry.listing = this.fetch(target).then((listing) => {
      entry.expiresAt = this.now() + (listing.tools ? TOOLS_TTL_MS : TOOLS_FAILURE_TTL_MS);
      return listing;
    });
    this.entries.delete(server.id);
    this.entries.set(server.id, entry);
    this.evict();
    return entry.listing;
  }

  forget(serverId: string): void {
    this.entries.delete(serverId);
  }

  private async fetch(target: () => McpTarget): Promise<ToolListing> {
    try {
      return { tools: await this.list(target()), tools_error: null };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return { tools: null, tools_error: reason.slice(0, MAX_REASON) };
    }
  }

  /** Drops expired listings, then the oldest, down to the bound. */
  private evict(): void {
    if (this.entries.size <= MAX_LISTINGS) return;
    const now = this.now();
    for (const [id, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(id);
    for (const id of this.entries.keys()) {
      if (this.entries.size <= MAX_LISTINGS) break;
      this.entries.delete(id);
    }
  }
}
