/**
 * The workspace's MCP servers: the servers whose tools model agents may call (turns/model.ts),
 * kept by the master key and admins, granted to people by email and group claim (policy.ts).
 * Their headers (an API key, a bearer token) are write-only secrets, sealed at rest and sent
 * only to the origin they were configured for. `GET` one lists its tools live, through the
 * guarded fetch, briefly cached.
 */
import type { z } from "zod";
import { userIdOf, type Principal } from "../../auth/principal.js";
import type { SecretBox } from "../../auth/secrets.js";
import type { Fetch } from "../../endpoints/guarded-fetch.js";
import { listMcpTools, type McpTarget, type McpTool } from "../../endpoints/mcp-client.js";
import { Conflict, Invalid, isUniqueViolation } from "../../errors.js";
import type { CreateMcpServer, UpdateMcpServer } from "../../http/routes/mcp/schema.js";
import { newId } from "../../ids.js";
import { transact, type TxDeps } from "../events.js";
import { decodeActivityCursor, encodeActivityCursor, takePage } from "../pagination.js";
import type { Clock } from "../time.js";
import { toIso } from "../time.js";
import { assertMayManageMcpServers, loadMcpServerFor, mayUseMcpServer, visibleMcpServers } from "./policy.js";
import { mcpServers, type McpServer, type McpServerFields } from "./repository.js";
import { ToolListings } from "./tool-listings.js";

export type McpServerInput = z.output<typeof CreateMcpServer>;
export type McpServerPatch = z.output<typeof UpdateMcpServer>;

/** An MCP server as the REST API presents it: its headers by name only. */
export interface McpServerView {
  id: string;
  workspace_id: string;
  name: string;
  url: string;
  header_names: string[];
  allowed_users: string[];
  allowed_groups: string[];
  requires_approval: boolean;
  created_by: number | null;
  created_at: string;
  updated_at: string;
}

/** `GET /api/mcp-servers/{id}`: with the tools it offers now, or why they could not be listed. */
export interface McpServerWithToolsView extends McpServerView {
  tools: McpTool[] | null;
  tools_error: string | null;
}

/** A server a turn may call, as the model agent's endpoint needs it: headers opened. */
export interface UsableMcpServer {
  id: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  requiresApproval: boolean;
}

/** What the service needs from outside the domain. */
export interface McpServerRules {
  /** Why a server URL is refused (the SSRF guard, as for agent servers), or undefined. */
  refusal(url: string): string | undefined;
  secrets: SecretBox;
  /** The guarded fetch (endpoints/guarded-fetch.ts) every call to a server goes through. */
  fetch: Fetch;
  /** Lists a server's tools; endpoints/mcp-client.ts by default. */
  listTools?: (target: McpTarget, fetch: Fetch) => Promise<McpTool[]>;
}

/** At most this many servers are named in one `usableBy`. */
const MAX_USABLE = 50;

const unique = (values: string[]) => [...new Set(values)];

export class McpServers {
  private readonly listings: ToolListings;

  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly rules: McpServerRules,
  ) {
    const list = rules.listTools ?? listMcpTools;
    this.listings = new ToolListings((target) => list(target, rules.fetch), () => clock.now().getTime());
  }

  /** The servers the caller may see (every one for master keys and admins), oldest first, a page at a time. */
  async list(actor: Principal, page: { limit: number; cursor?: string | undefined }): Promise<{ mcp_servers: McpServerView[]; next_cursor: string | null }> {
    const after = page.cursor === undefined ? undefined : decodeActivityCursor(page.cursor);
    const visible = (await visibleMcpServers(this.deps.db, actor)).filter(
      (s) => !after || s.created_at.getTime() > after.activityAt.getTime() || (s.created_at.getTime() === after.activityAt.getTime() && s.id > after.id),
    );
    const { items, next } = takePage(visible.slice(0, page.limit + 1), page.limit, (last) => encodeActivityCursor({ activityAt: last.created_at, id: last.id }));
    return { mcp_servers: items.map((s) => this.present(s)), next_cursor: next };
  }

  /** One server with the tools it offers, listed live (an unreachable server answers `tools: null` and why). */
  async get(actor: Principal, id: string): Promise<McpServerWithToolsView> {
    const server = await loadMcpServerFor(this.deps.db, actor, id, "read");
    const listing = await this.listings.get(server, () => this.target(server));
    return { ...this.present(server), ...listing };
  }

  async create(actor: Principal, input: McpServerInput): Promise<McpServerView> {
    assertMayManageMcpServers(actor);
    this.checkUrl(input.url);
    return this.unique(() =>
      transact(this.deps, async (trx) => {
        const server = await mcpServers.insert(trx, {
          id: newId("mcp"),
          workspace_id: actor.workspaceId,
          name: input.name,
          url: input.url,
          headers: this.sealHeaders(input.headers),
          allowed_users: normalisedUsers(input.allowed_users ?? []),
          allowed_groups: normalisedGroups(input.allowed_groups ?? []),
          requires_approval: input.requires_approval ?? false,
          created_by: userIdOf(actor),
          now: this.clock.now(),
        });
        return this.present(server);
      }),
    );
  }

  /**
   * Changes what the patch names. `headers` replaces them all (`null` or `{}` removes them); a
   * `url` on another origin without `headers` drops the stored ones, so a secret never goes
   * where its owner did not send it.
   */
  async update(actor: Principal, id: string, patch: McpServerPatch): Promise<McpServerView> {
    if (patch.url !== undefined) this.checkUrl(patch.url);
    return this.unique(() =>
      transact(this.deps, async (trx) => {
        const current = await loadMcpServerFor(trx, actor, id, "manage");
        const url = patch.url ?? current.url;
        const headers =
          patch.headers !== undefined ? this.sealHeaders(patch.headers) : new URL(url).origin === new URL(current.url).origin ? current.headers : null;
        const fields: McpServerFields = {
          name: patch.name ?? current.name,
          url,
          headers,
          allowed_users: patch.allowed_users ? normalisedUsers(patch.allowed_users) : current.allowed_users,
          allowed_groups: patch.allowed_groups ? normalisedGroups(patch.allowed_groups) : current.allowed_groups,
          requires_approval: patch.requires_approval ?? current.requires_approval,
        };
        const server = await mcpServers.update(trx, current.id, fields, this.clock.now());
        this.listings.forget(current.id);
        return this.present(server);
      }),
    );
  }

  async remove(actor: Principal, id: string): Promise<void> {
    await transact(this.deps, async (trx) => {
      const server = await loadMcpServerFor(trx, actor, id, "manage");
      await mcpServers.delete(trx, server.id);
      this.listings.forget(server.id);
    });
  }

  /**
   * For a model agent's turn: the servers among `idsOrNames` (ids or names) that the asking
   * person may use, with their headers opened, in the order asked. The others (unknown, not
   * granted, or whose headers no key of this process opens) are left out; the caller names them.
   */
  async usableBy(asker: Principal, idsOrNames: string[]): Promise<UsableMcpServer[]> {
    const keys = unique(idsOrNames).slice(0, MAX_USABLE);
    const found = (await mcpServers.byIdOrName(this.deps.db, asker.workspaceId, keys)).filter((s) => mayUseMcpServer(asker, s));
    const usable: UsableMcpServer[] = [];
    for (const key of keys) {
      const server = found.find((s) => s.id === key) ?? found.find((s) => s.name === key);
      if (!server || usable.some((u) => u.id === server.id)) continue;
      const headers = this.openHeaders(server);
      if (headers) usable.push({ id: server.id, name: server.name, url: server.url, headers, requiresApproval: server.requires_approval });
    }
    return usable;
  }

  /** How the hub reaches a server; throws when its headers cannot be opened. */
  private target(server: McpServer): McpTarget {
    return { url: server.url, headers: server.headers ? this.rules.secrets.openJson<Record<string, string>>(server.headers) : {} };
  }

  private openHeaders(server: McpServer): Record<string, string> | undefined {
    try {
      return this.target(server).headers ?? {};
    } catch {
      return undefined;
    }
  }

  private checkUrl(url: string): void {
    const refusal = this.rules.refusal(url);
    if (refusal) throw Invalid.field("url", refusal);
  }

  private sealHeaders(headers: Record<string, string> | null | undefined): string | null {
    return headers && Object.keys(headers).length ? this.rules.secrets.sealJson(headers) : null;
  }

  /** A second server of the same name in the workspace is a conflict. */
  private async unique<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict("The workspace already has an MCP server of that name");
      throw err;
    }
  }

  private present(s: McpServer): McpServerView {
    return {
      id: s.id,
      workspace_id: s.workspace_id,
      name: s.name,
      url: s.url,
      header_names: this.headerNames(s),
      allowed_users: s.allowed_users,
      allowed_groups: s.allowed_groups,
      requires_approval: s.requires_approval,
      created_by: s.created_by,
      created_at: toIso(s.created_at),
      updated_at: toIso(s.updated_at),
    };
  }

  /** The names of the sealed headers (an unreadable set answers none: it would not be sent either). */
  private headerNames(s: McpServer): string[] {
    return Object.keys(this.openHeaders(s) ?? {});
  }
}

function normalisedUsers(emails: string[]): string[] {
  return unique(emails.map((e) => e.trim().toLowerCase()));
}

function normalisedGroups(names: string[]): string[] {
  return unique(names.map((g) => g.trim()));
}
