/** Sessions: the conversations people (and agents, with their keys) hold with one agent. */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal } from "../../auth/principal.js";
import { Forbidden, Invalid } from "../../errors.js";
import { newId } from "../../ids.js";
import { transact, type Emit, type SessionAudience, type SessionChange, type TxDeps } from "../events.js";
import { toIso, toIsoOrNull, type Clock } from "../time.js";
import { decodeActivityCursor, encodeActivityCursor } from "../cursors.js";
import {
  loadAgentForSessions,
  loadSessionFor,
  normaliseSession,
  sessionAudience,
  sessionAudiences,
  type SessionRow,
} from "./policy.js";

export const DEFAULT_SESSION_TITLE = "New session";

export interface SessionView {
  id: string;
  agent_id: string;
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

export interface CreateSessionInput {
  title?: string | undefined;
  /** Only keys and admins may create a session for someone else. */
  owner_id?: number | null | undefined;
}

export interface PageInput {
  limit: number;
  cursor?: string | undefined;
  /** Only sessions updated after this millisecond. */
  since?: Date | undefined;
}

export function presentSession(row: SessionRow): SessionView {
  const s = normaliseSession(row);
  return {
    id: s.id,
    agent_id: s.agent_id,
    owner_id: s.owner_id,
    title: s.title,
    archived: s.archived,
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
    last_message_at: toIsoOrNull(s.last_message_at),
    message_count: s.message_count,
  };
}

/**
 * One page of sessions, newest activity first. `scope` narrows the query (agent, owner,
 * archived, a group's sessions); the cursor is the (activity_at, id) of the last row served.
 */
export async function pageSessions(
  query: Knex.QueryBuilder,
  page: PageInput,
  column = (c: string) => c,
): Promise<SessionPage> {
  if (page.cursor) {
    const after = decodeActivityCursor(page.cursor);
    query.whereRaw(`(${column("activity_at")}, ${column("id")}) < (?, ?)`, [after.activityAt, after.id]);
  }
  const rows: SessionRow[] = await query
    .orderBy(column("activity_at"), "desc")
    .orderBy(column("id"), "desc")
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const served = more ? rows.slice(0, page.limit) : rows;
  const last = served[served.length - 1];
  return {
    sessions: served.map(presentSession),
    next_cursor: more && last ? encodeActivityCursor({ activityAt: new Date(last.activity_at), id: last.id }) : null,
  };
}

export class Sessions {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
  ) {}

  async create(actor: Principal, agentId: string, input: CreateSessionInput): Promise<SessionView> {
    return transact(this.deps, async (trx) => {
      await loadAgentForSessions(trx, actor, agentId, "write");
      const ownerId = await this.ownerFor(trx, actor, agentId, input.owner_id);
      const now = this.clock.now();
      const [row] = await trx("sessions")
        .insert({
          id: newId("ses"),
          workspace_id: actor.workspaceId,
          agent_id: agentId,
          owner_id: ownerId,
          title: input.title ?? DEFAULT_SESSION_TITLE,
          created_at: now,
          updated_at: now,
        })
        .returning("*");
      return presentSession(row);
    });
  }

  /** Users own what they create; keys and admins may name an owner who can use the agent. */
  private async ownerFor(trx: Knex, actor: Principal, agentId: string, requested: number | null | undefined): Promise<number | null> {
    const self = actor.kind === "user" ? actor.userId : null;
    if (requested === undefined || requested === self) return self;
    if (actor.kind === "user" && !isWorkspaceAdmin(actor)) {
      throw new Forbidden("Only API keys and admins may create a session for someone else");
    }
    if (requested === null) return null;
    const member = await trx("agent_members")
      .where({ workspace_id: actor.workspaceId, agent_id: agentId, user_id: requested })
      .first("user_id");
    if (!member) throw Invalid.field("owner_id", "no user of this workspace who may use this agent");
    return requested;
  }

  /** The sessions the caller sees: users their own, keys and admins all of the agent's. */
  async list(actor: Principal, agentId: string, archived: boolean, page: PageInput): Promise<SessionPage> {
    const { db } = this.deps;
    await loadAgentForSessions(db, actor, agentId, "read");
    const query = this.visible(db, actor, agentId).where({ archived });
    if (page.since) query.andWhere("updated_at", ">=", new Date(page.since.getTime() + 1));
    return pageSessions(query, page);
  }

  async get(actor: Principal, agentId: string, sessionId: string): Promise<SessionView> {
    return presentSession(await loadSessionFor(this.deps.db, actor, agentId, sessionId, "read"));
  }

  async rename(actor: Principal, agentId: string, sessionId: string, title: string): Promise<void> {
    await this.change(actor, agentId, sessionId, "renamed", (s) => (s.title === title ? undefined : { title }));
  }

  /** Archiving an archived session (or restoring a live one) is a no-op: 204, no event. */
  async archive(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await this.change(actor, agentId, sessionId, "archived", (s) => (s.archived ? undefined : { archived: true }));
  }

  async restore(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await this.change(actor, agentId, sessionId, "restored", (s) => (s.archived ? { archived: false } : undefined));
  }

  async remove(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const session = await loadSessionFor(trx, actor, agentId, sessionId, "write");
      await deleteSessions(trx, emit, [session]);
    });
  }

  /** Deletes every archived session the caller would see in GET …/sessions/archived. */
  async removeArchived(actor: Principal, agentId: string): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      await loadAgentForSessions(trx, actor, agentId, "write");
      const rows: SessionRow[] = await this.visible(trx, actor, agentId).where({ archived: true }).forUpdate();
      await deleteSessions(trx, emit, rows.map(normaliseSession));
    });
  }

  private visible(db: Knex, actor: Principal, agentId: string): Knex.QueryBuilder {
    const q = db("sessions").where({ workspace_id: actor.workspaceId, agent_id: agentId });
    if (actor.kind === "user" && !isWorkspaceAdmin(actor)) q.where({ owner_id: actor.userId });
    return q;
  }


  private async change(
    actor: Principal,
    agentId: string,
    sessionId: string,
    change: SessionChange,
    patchFor: (s: SessionRow) => Partial<Pick<SessionRow, "title" | "archived">> | undefined,
  ): Promise<void> {
    await transact(this.deps, async (trx, emit) => {
      const session = await loadSessionFor(trx, actor, agentId, sessionId, "write");
      const patch = patchFor(session);
      if (!patch) return;
      const [row] = await trx("sessions")
        .where({ id: session.id })
        .update({ ...patch, updated_at: trx.raw("greatest(updated_at, ?::timestamptz)", [this.clock.now()]) })
        .returning("*");
      const updated = normaliseSession(row);
      emitUpdated(emit, updated, change, await sessionAudience(trx, updated));
    });
  }
}

/**
 * Deletes sessions (messages, links and group shares go with them) and tells everyone who could
 * read each one. Also used when an agent is deleted with all its sessions.
 */
export async function deleteSessions(trx: Knex.Transaction, emit: Emit, sessions: SessionRow[]): Promise<void> {
  if (sessions.length === 0) return;
  const audiences = await sessionAudiences(trx, sessions);
  await trx("sessions").whereIn("id", sessions.map((s) => s.id)).delete();
  sessions.forEach((s, i) => emitUpdated(emit, s, "deleted", audiences[i]!));
}

function emitUpdated(emit: Emit, s: SessionRow, change: SessionChange, audience: SessionAudience): void {
  emit({
    type: "session.updated",
    workspaceId: s.workspace_id,
    agentId: s.agent_id,
    sessionId: s.id,
    change,
    session: presentSession(s),
    audience,
  });
}
