/** Sessions: the conversations people (and agents, with their keys) hold with one agent. */
import type { Knex } from "knex";
import { userIdOf, type Principal } from "../../auth/principal.js";
import { Invalid } from "../../errors.js";
import { newId } from "../../ids.js";
import { teams } from "../agents/repository.js";
import { transact, type Emit, type SessionChange, type TxDeps } from "../events.js";
import { toIso, toIsoOrNull, type Clock } from "../time.js";
import { roleForNewSession, roleScope } from "../rbac/policy.js";
import { canReadSession, listedOwner, loadAgentForSessions, loadSessionFor, ownerOfNewSession, sessionAudience } from "./policy.js";
import { sessions, type Session, type SessionFilter } from "./repository.js";
import type { z } from "zod";
import type { CreateSession } from "../../http/routes/sessions/schema.js";
import type { PageQuery, SessionListQuery } from "../../schemas.js";

export const DEFAULT_SESSION_TITLE = "New session";

export interface SessionView {
  id: string;
  /** null for a group's conversation, which has its group_id instead. */
  agent_id: string | null;
  group_id: string | null;
  owner_id: number | null;
  title: string;
  archived: boolean;
  created_at: string;
  updated_at: string;
  last_message_at: string | null;
  message_count: number;
}

export interface SessionPage {
  sessions: SessionView[];
  next_cursor: string | null;
}

/**
 * What POST …/sessions takes, as its schema parses it (`owner_id`: only keys and admins may create
 * a session for someone else), and the Backplane thread fields its service adds, kept as given.
 */
export type CreateSessionInput = z.output<typeof CreateSession> & {
  space_id?: string | null | undefined;
  temporal_user_id?: string | null | undefined;
  external_user_id?: string | null | undefined;
};

/** A page of sessions (`?limit=&cursor=`), and with `?since=` only sessions updated after that millisecond. */
export type PageInput = z.output<typeof PageQuery> & Partial<Pick<z.output<typeof SessionListQuery>, "since">>;

/** Finds a session and checks the caller's right to the use case (404/403 otherwise), in the transaction it is given. */
export type LoadSession = (db: Knex) => Promise<Session>;

export function presentSession(s: Omit<Session, "readers">): SessionView {
  return {
    id: s.id,
    agent_id: s.agent_id,
    group_id: s.group_id,
    owner_id: s.owner_id,
    title: s.title,
    archived: s.archived,
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
    last_message_at: toIsoOrNull(s.last_message_at),
    message_count: s.message_count,
  };
}

/** One page of sessions matching `filter`, newest activity first, as the API presents them. */
export async function pageSessions(db: Knex, filter: SessionFilter, page: PageInput): Promise<SessionPage> {
  const { items, next } = await sessions.page(db, { ...filter, updatedSince: page.since }, page);
  return { sessions: items.map(presentSession), next_cursor: next };
}

/** One search hit: the session, and its first message whose content matched (null: the title did). */
export interface SearchHit {
  session: SessionView;
  match: { seq: number; snippet: string } | null;
}

/** At most this many candidate sessions are looked at per search request; past it the page ends early with a cursor. */
export const SEARCH_SCAN_MAX = 500;
const SEARCH_BATCH = 100;
const SNIPPET_CHARS = 160;

/** Up to SNIPPET_CHARS of `text` around the first occurrence of `q` (any case), on one line. */
export function snippetOf(text: string, q: string): string {
  const flat = text.replace(/\s+/g, " ");
  const at = Math.max(0, flat.toLowerCase().indexOf(q.toLowerCase()));
  const start = Math.max(0, at - Math.floor((SNIPPET_CHARS - q.length) / 2));
  const cut = flat.slice(start, start + SNIPPET_CHARS);
  return `${start > 0 ? "…" : ""}${cut}${start + SNIPPET_CHARS < flat.length ? "…" : ""}`;
}

export class Sessions {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
  ) {}

  async create(actor: Principal, agentId: string, input: CreateSessionInput): Promise<SessionView> {
    return presentSession(await this.createSession(actor, agentId, input));
  }

  /** Creates a session (bound to the creator's role while RBAC is on); the full row, for the Backplane. */
  async createSession(actor: Principal, agentId: string, input: CreateSessionInput): Promise<Session> {
    return transact(this.deps, async (trx) => {
      await loadAgentForSessions(trx, actor, agentId, "write");
      const owner = ownerOfNewSession(actor, input.owner_id);
      // A named owner must be able to use the agent: be on its team.
      if (owner !== null && owner !== userIdOf(actor) && !(await teams.level(trx, actor.workspaceId, agentId, owner))) {
        throw Invalid.field("owner_id", "no user of this workspace who may use this agent");
      }
      return sessions.insert(trx, {
        id: newId("ses"),
        workspace_id: actor.workspaceId,
        agent_id: agentId,
        owner_id: owner,
        title: input.title ?? DEFAULT_SESSION_TITLE,
        title_is_default: input.title === undefined,
        now: this.clock.now(),
        role_id: roleForNewSession(await roleScope(trx, actor)),
        space_id: input.space_id ?? null,
        temporal_user_id: input.temporal_user_id ?? null,
        external_user_id: input.external_user_id ?? null,
      });
    });
  }

  /** The sessions the caller sees: users their own, keys and admins all of the agent's. */
  async list(actor: Principal, agentId: string, archived: boolean, page: PageInput): Promise<SessionPage> {
    const { db } = this.deps;
    await loadAgentForSessions(db, actor, agentId, "read");
    const scope = await roleScope(db, actor);
    return pageSessions(db, { workspaceId: actor.workspaceId, agentId, ownerId: listedOwner(actor), archived, roleScope: scope }, page);
  }

  async get(actor: Principal, agentId: string, sessionId: string): Promise<SessionView> {
    return presentSession(await loadSessionFor(this.deps.db, actor, sessionId, "read", agentId));
  }

  /** For watchers: the session the caller may read, by id alone (any agent). */
  async readable(actor: Principal, sessionId: string): Promise<Session> {
    return loadSessionFor(this.deps.db, actor, sessionId, "read");
  }

  /**
   * Which of these sessions the caller may read, decided by the same rule as `readable` over one
   * query, however many ids are named (a handshake's `auth.since`, a re-check of a socket).
   */
  async readableAmong(actor: Principal, sessionIds: string[]): Promise<Set<string>> {
    const found = await sessions.findMany(this.deps.db, actor.workspaceId, [...new Set(sessionIds)]);
    return new Set(found.filter((s) => canReadSession(actor, s.readers)).map((s) => s.id));
  }

  /**
   * Sessions and group conversations the caller may read whose title or message content holds
   * `q`, newest activity first. Bounded: at most SEARCH_SCAN_MAX candidates are looked at per
   * request, so a page may hold fewer than `limit` hits and still have a `next_cursor`.
   */
  async search(actor: Principal, input: { q: string; limit: number; cursor?: string | undefined }): Promise<{ results: SearchHit[]; next_cursor: string | null }> {
    const { db } = this.deps;
    const results: SearchHit[] = [];
    let cursor = input.cursor;
    let scanned = 0;
    while (scanned < SEARCH_SCAN_MAX) {
      const batch = await sessions.search(db, actor.workspaceId, input.q, SEARCH_BATCH, cursor);
      for (const { session, match } of batch) {
        scanned++;
        cursor = sessions.cursorAfter(session);
        if (!canReadSession(actor, session.readers)) continue;
        results.push({ session: presentSession(session), match: match && { seq: match.seq, snippet: snippetOf(match.content, input.q) } });
        if (results.length === input.limit) return { results, next_cursor: cursor };
      }
      if (batch.length < SEARCH_BATCH) return { results, next_cursor: null };
    }
    return { results, next_cursor: cursor ?? null };
  }

  async rename(actor: Principal, agentId: string, sessionId: string, title: string): Promise<void> {
    await this.renameLoaded((db) => loadSessionFor(db, actor, sessionId, "write", agentId), title);
  }

  /** Renames the session `load` finds with the right to write it, loaded once, in the change's transaction (a group conversation: under its group). */
  async renameLoaded(load: LoadSession, title: string): Promise<void> {
    // Naming it its default title still sets it: the first message will not rename it then.
    await this.change(load, "renamed", (s) => (s.title === title && !s.title_is_default ? undefined : { title }));
  }

  /** Archiving an archived session (or restoring a live one) is a no-op: 204, no event. */
  async archive(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await this.change((db) => loadSessionFor(db, actor, sessionId, "write", agentId), "archived", (s) => (s.archived ? undefined : { archived: true }));
  }

  async restore(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await this.change((db) => loadSessionFor(db, actor, sessionId, "write", agentId), "restored", (s) => (s.archived ? { archived: false } : undefined));
  }

  async remove(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await this.removeLoaded((db) => loadSessionFor(db, actor, sessionId, "write", agentId));
  }

  /** Deletes the session `load` finds with the right to write it, loaded once, in the deletion's transaction. */
  async removeLoaded(load: LoadSession): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      await deleteSessions(trx, emit, [await load(trx)]);
    });
  }

  /** Deletes every archived session the caller would see in GET …/sessions/archived. */
  async removeArchived(actor: Principal, agentId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      await loadAgentForSessions(trx, actor, agentId, "write");
      const archived = await sessions.all(trx, { workspaceId: actor.workspaceId, agentId, ownerId: listedOwner(actor), archived: true }, { forUpdate: true });
      await deleteSessions(trx, emit, archived);
    });
  }

  private async change(load: LoadSession, change: SessionChange, patchFor: (s: Session) => Partial<Pick<Session, "title" | "archived">> | undefined): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const session = await load(trx);
      const patch = patchFor(session);
      if (!patch) return;
      emitUpdated(emit, await sessions.update(trx, session, patch, this.clock.now()), change);
    });
  }
}

/**
 * Deletes sessions (messages, links and group shares go with them) and tells everyone who could
 * read each one. Also used when an agent is deleted with all its sessions.
 */
export async function deleteSessions(trx: Knex.Transaction, emit: Emit, gone: Session[]): Promise<void> {
  await sessions.delete(trx, gone.map((s) => s.id));
  for (const s of gone) emitUpdated(emit, s, "deleted");
}

export function emitUpdated(emit: Emit, s: Session, change: SessionChange): void {
  emit({
    type: "session.updated",
    workspaceId: s.workspace_id,
    agentId: s.agent_id,
    sessionId: s.id,
    change,
    session: presentSession(s),
    audience: sessionAudience(s.readers),
  });
}
