/**
 * SQL for sessions and their messages (`sessions`, `session_messages`). A session is always
 * loaded with its readers (who may read it: see policy.ts) in the same query, so a check and
 * the audience of the events it leads to come from one read.
 */
import type { Knex } from "knex";
import type { GroupRules } from "../groups/repository.js";
import type { RoleScope } from "../rbac/policy.js";
import { afterMillisecond, decodeActivityCursor, encodeActivityCursor, takePage, type Page } from "../pagination.js";
import { int, intOrNull, json } from "../rows.js";
import { toIso } from "../time.js";
import type { MessageRole, MessageView, MessageParts } from "./messages.js";

/** The facts that decide who may read a session (policy.ts states the rule). */
export interface SessionReaders {
  workspaceId: string;
  /** The session's agent; null for a group's conversation. */
  agentId: string | null;
  /** The group whose conversation this is (its members are its readers); null for an agent's session. */
  groupId: string | null;
  /** The owner while they are on the agent's team; null when there is none or they left it. */
  ownerUserId: number | null;
  /** The groups the session is shared with (or, for a conversation, its group), with their membership rules. */
  groups: GroupRules[];
  /** The role the session is bound to (RBAC), and whether the workspace's RBAC is on. */
  roleId: string | null;
  rbacActive: boolean;
}

export interface Session {
  id: string;
  workspace_id: string;
  /** One of agent_id (an agent's session) and group_id (a group's conversation) is set. */
  agent_id: string | null;
  group_id: string | null;
  owner_id: number | null;
  title: string;
  /** The title is the default one (none was given): the first user message names the session (titles.ts). */
  title_is_default: boolean;
  archived: boolean;
  message_count: number;
  created_at: Date;
  updated_at: Date;
  last_message_at: Date | null;
  activity_at: Date;
  /** Backplane thread fields: the creator's role (RBAC), and ids the caller chose. */
  role_id: string | null;
  space_id: string | null;
  temporal_user_id: string | null;
  external_user_id: string | null;
  readers: SessionReaders;
}

export interface StoredMessage {
  id: string;
  body_hash: string;
  view: MessageView;
}

/** Columns every session query selects: the row, whether its owner is on the team, its groups. */
function withReaders(db: Knex, query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.select(
    "s.*",
    db.raw(
      `exists (select 1 from agent_members m
                where m.workspace_id = s.workspace_id and m.agent_id = s.agent_id and m.user_id = s.owner_id) as owner_on_team`,
    ),
    db.raw(`(select w.rbac_enabled from workspaces w where w.id = s.workspace_id) as rbac_enabled`),
    db.raw(
      `coalesce((select json_agg(json_build_object('id', g.id, 'created_by', g.created_by,
                  'allowed_users', g.allowed_users, 'allowed_groups', g.allowed_groups) order by g.id)
                 from groups g
                 where g.id = s.group_id or g.id in (select gs.group_id from group_sessions gs where gs.session_id = s.id)), '[]') as shared_with`,
    ),
  );
}

const toColumns = (row: Record<string, any>): Omit<Session, "readers"> => ({
  id: row.id,
  workspace_id: row.workspace_id,
  agent_id: row.agent_id ?? null,
  group_id: row.group_id ?? null,
  owner_id: intOrNull(row.owner_id),
  title: row.title,
  title_is_default: !!row.title_is_default,
  archived: row.archived,
  message_count: int(row.message_count),
  created_at: row.created_at,
  updated_at: row.updated_at,
  last_message_at: row.last_message_at ?? null,
  activity_at: row.activity_at,
  role_id: row.role_id ?? null,
  space_id: row.space_id ?? null,
  temporal_user_id: row.temporal_user_id ?? null,
  external_user_id: row.external_user_id ?? null,
});

function toSession(row: Record<string, any>): Session {
  const columns = toColumns(row);
  const groups = json<Array<Record<string, unknown>>>(row.shared_with, []);
  return {
    ...columns,
    readers: {
      workspaceId: columns.workspace_id,
      agentId: columns.agent_id,
      groupId: columns.group_id,
      // A conversation's owner reads it while a member of its group (policy.ts checks that).
      ownerUserId: row.owner_on_team || columns.group_id ? columns.owner_id : null,
      roleId: columns.role_id,
      rbacActive: !!row.rbac_enabled,
      groups: groups.map((g) => ({
        id: g.id as string,
        created_by: intOrNull(g.created_by),
        allowed_users: json<string[]>(g.allowed_users, []),
        allowed_groups: json<string[]>(g.allowed_groups, []),
      })),
    },
  };
}

const DELETE_CHUNK = 5000;

export interface SessionFilter {
  workspaceId: string;
  agentId?: string | undefined;
  /** Only this owner's sessions. */
  ownerId?: number | undefined;
  archived?: boolean | undefined;
  /** Only sessions shared with this group. */
  groupId?: string | undefined;
  /** Only this group's conversations. */
  conversationsOf?: string | undefined;
  /** Only agents' sessions (no group conversations). */
  agentSessionsOnly?: boolean | undefined;
  /** Only sessions updated after this millisecond. */
  updatedSince?: Date | undefined;
  /** Only sessions this role scope sees (RBAC). */
  roleScope?: RoleScope | undefined;
  /** Backplane filters. */
  spaceId?: string | undefined;
  externalUserId?: string | undefined;
}

function filtered(db: Knex, f: SessionFilter): Knex.QueryBuilder {
  const q = withReaders(db, db("sessions as s")).where("s.workspace_id", f.workspaceId);
  if (f.agentId !== undefined) q.andWhere("s.agent_id", f.agentId);
  if (f.ownerId !== undefined) q.andWhere("s.owner_id", f.ownerId);
  if (f.archived !== undefined) q.andWhere("s.archived", f.archived);
  if (f.roleScope && !f.roleScope.all) {
    const role = f.roleScope.role;
    q.where((w) => (role === null ? w.whereNull("s.role_id") : w.whereNull("s.role_id").orWhere("s.role_id", role)));
  }
  if (f.spaceId !== undefined) q.andWhere("s.space_id", f.spaceId);
  if (f.externalUserId !== undefined) q.andWhere("s.external_user_id", f.externalUserId);
  if (f.conversationsOf !== undefined) q.andWhere("s.group_id", f.conversationsOf);
  if (f.agentSessionsOnly) q.whereNull("s.group_id");
  if (f.groupId !== undefined) q.whereExists(db("group_sessions as gs").whereRaw("gs.session_id = s.id").andWhere("gs.group_id", f.groupId));
  return afterMillisecond(q, "s.updated_at", f.updatedSince);
}

/**
 * A message's text for search, in SQL: its `content` when a string; for content blocks, their
 * `text` fields joined, so block types and other keys never match.
 */
const contentText = (turn: string) =>
  `(case json_typeof(${turn}->'content') when 'string' then ${turn}->>'content'
     when 'array' then (select string_agg(b->>'text', ' ') from json_array_elements(${turn}->'content') b where json_typeof(b) = 'object') end)`;

export const sessions = {
  async find(db: Knex, workspaceId: string, id: string, agentId?: string): Promise<Session | undefined> {
    const row = await filtered(db, { workspaceId, agentId }).andWhere("s.id", id).first();
    return row ? toSession(row) : undefined;
  },

  /** Those of these sessions that exist in the workspace, in one query (for deciding access to many at once). */
  async findMany(db: Knex, workspaceId: string, ids: string[]): Promise<Session[]> {
    if (!ids.length) return [];
    return (await filtered(db, { workspaceId }).whereIn("s.id", ids)).map(toSession);
  },

  /** Every session matching the filter, locked for update when asked (for deleting them). */
  async all(db: Knex, f: SessionFilter, options: { forUpdate?: boolean } = {}): Promise<Session[]> {
    const q = filtered(db, f);
    if (options.forUpdate) q.forUpdate("s");
    return (await q).map(toSession);
  },

  /** One page, newest activity first; the cursor is the (activity_at, id) of the last row served. */
  async page(db: Knex, f: SessionFilter, page: { limit: number; cursor?: string | undefined }): Promise<Page<Session>> {
    const q = filtered(db, f);
    if (page.cursor) {
      const after = decodeActivityCursor(page.cursor);
      q.whereRaw("(s.activity_at, s.id) < (?, ?)", [after.activityAt, after.id]);
    }
    const rows = (await q.orderBy("s.activity_at", "desc").orderBy("s.id", "desc").limit(page.limit + 1)).map(toSession);
    return takePage(rows, page.limit, (last) => encodeActivityCursor({ activityAt: new Date(last.activity_at), id: last.id }));
  },

  async insert(
    db: Knex,
    row: {
      id: string;
      workspace_id: string;
      agent_id: string | null;
      group_id?: string | null;
      owner_id: number | null;
      title: string;
      /** No title was given: `title` is the default, to be replaced by the first user message's. */
      title_is_default?: boolean;
      now: Date;
      message_count?: number;
      role_id?: string | null;
      space_id?: string | null;
      temporal_user_id?: string | null;
      external_user_id?: string | null;
    },
  ): Promise<Session> {
    const { now, ...columns } = row;
    const count = row.message_count ?? 0;
    await db("sessions").insert({ ...columns, message_count: count, created_at: now, updated_at: now, last_message_at: count > 0 ? now : null });
    return (await sessions.find(db, row.workspace_id, row.id))!;
  },

  /** Renames, archives or restores; updated_at never goes backwards. A title given is never replaced automatically. */
  async update(db: Knex, session: Session, patch: Partial<Pick<Session, "title" | "archived">>, now: Date): Promise<Session> {
    const [row] = await db("sessions")
      .where({ id: session.id })
      .update({ ...patch, ...(patch.title !== undefined ? { title_is_default: false } : {}), updated_at: db.raw("greatest(updated_at, ?::timestamptz)", [now]) })
      .returning("*");
    return { ...toColumns(row), readers: session.readers };
  },

  /**
   * Gives the session its automatic title if it still has the default one (checked in the same
   * statement, so of two first messages only one names it, and a rename always wins); undefined otherwise.
   */
  async nameAutomatically(db: Knex, session: Session, title: string, now: Date): Promise<Session | undefined> {
    const [row] = await db("sessions")
      .where({ id: session.id, title_is_default: true })
      .update({ title, title_is_default: false, updated_at: db.raw("greatest(updated_at, ?::timestamptz)", [now]) })
      .returning("*");
    return row ? { ...toColumns(row), readers: session.readers } : undefined;
  },

  /** Serialises appends to the session across every process (held until the transaction ends). */
  async lock(db: Knex, id: string): Promise<void> {
    await db("sessions").where({ id }).forUpdate().first("id");
  },

  /** Counts one more message; returns its seq (message_count + 1). */
  async countMessage(db: Knex, id: string, now: Date): Promise<number> {
    const [row] = await db("sessions")
      .where({ id })
      .update({
        message_count: db.raw("message_count + 1"),
        last_message_at: db.raw("greatest(last_message_at, ?::timestamptz)", [now]),
        updated_at: db.raw("greatest(updated_at, ?::timestamptz)", [now]),
      })
      .returning("message_count");
    return int(row.message_count);
  },

  /**
   * Up to `limit` sessions of the workspace, newest activity first, after the (activity_at, id)
   * cursor, whose title or any message's content contains `q` (ILIKE, `%`/`_` taken literally),
   * each with its first matching message (seq and content). Access is not decided here.
   */
  async search(db: Knex, workspaceId: string, q: string, limit: number, cursor: string | undefined): Promise<Array<{ session: Session; match: { seq: number; content: string } | null }>> {
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const query = filtered(db, { workspaceId }).andWhere((w) =>
      w.where("s.title", "ilike", pattern).orWhereExists(db("session_messages as m").whereRaw("m.session_id = s.id").andWhereRaw(`${contentText("m.turn")} ilike ?`, [pattern])),
    );
    if (cursor) {
      const after = decodeActivityCursor(cursor);
      query.whereRaw("(s.activity_at, s.id) < (?, ?)", [after.activityAt, after.id]);
    }
    const found: Session[] = (await query.orderBy("s.activity_at", "desc").orderBy("s.id", "desc").limit(limit)).map(toSession);
    if (!found.length) return [];
    const matches = await db("session_messages")
      .distinctOn("session_id")
      .select("session_id", "seq", db.raw(`${contentText("turn")} as content`))
      .whereIn("session_id", found.map((f) => f.id))
      .andWhereRaw(`${contentText("turn")} ilike ?`, [pattern])
      .orderBy([{ column: "session_id" }, { column: "seq" }]);
    const bySession = new Map(matches.map((m) => [m.session_id as string, { seq: int(m.seq), content: String(m.content ?? "") }]));
    return found.map((session) => ({ session, match: bySession.get(session.id) ?? null }));
  },

  /** The cursor after a session of a search page. */
  cursorAfter(session: Session): string {
    return encodeActivityCursor({ activityAt: new Date(session.activity_at), id: session.id });
  },

  /** Deletes sessions by id, a chunk per statement (Postgres takes at most 65,535 parameters in one). */
  async delete(db: Knex, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += DELETE_CHUNK) await db("sessions").whereIn("id", ids.slice(i, i + DELETE_CHUNK)).delete();
  },
};

function toMessage(row: Record<string, any>): StoredMessage {
  const turn = json<MessageParts>(row.turn, { content: "" });
  return {
    id: row.id,
    body_hash: row.body_hash,
    view: { id: row.id, role: row.role as MessageRole, ...turn, seq: int(row.seq), createdAt: toIso(row.created_at) },
  };
}

export const messages = {
  async find(db: Knex, sessionId: string, id: string): Promise<StoredMessage | undefined> {
    const row = await db("session_messages").where({ session_id: sessionId, id }).first();
    return row ? toMessage(row) : undefined;
  },

  async insert(db: Knex, m: { sessionId: string; seq: number; id: string; role: MessageRole; turn: MessageParts; hash: string; at: Date }): Promise<MessageView> {
    const [row] = await db("session_messages")
      .insert({ session_id: m.sessionId, seq: m.seq, id: m.id, role: m.role, turn: JSON.stringify(m.turn), body_hash: m.hash, created_at: m.at })
      .returning("*");
    return toMessage(row).view;
  },

  /** Up to `limit` messages with seq > afterSeq (and created after `since`'s millisecond), oldest first. */
  async after(db: Knex, sessionId: string, afterSeq: number, limit: number, since?: Date): Promise<MessageView[]> {
    const q = db("session_messages").where({ session_id: sessionId }).where("seq", ">", afterSeq);
    const rows = await afterMillisecond(q, "created_at", since).orderBy("seq").limit(limit);
    return rows.map((r) => toMessage(r).view);
  },

  /** Copies the first `upToSeq` messages into another session, keeping ids, bodies and times. */
  async copy(db: Knex, fromSessionId: string, toSessionId: string, upToSeq: number): Promise<void> {
    await db.raw(
      `insert into session_messages (session_id, seq, id, role, turn, body_hash, created_at)
       select ?, row_number() over (order by seq), id, role, turn, body_hash, created_at
       from session_messages where session_id = ? and seq <= ?`,
      [toSessionId, fromSessionId, upToSeq],
    );
  },
};
