/**
 * Who belongs to a multi-agent group, and who may do what with it. Membership is evaluated
 * from the caller's current token on every request (email and `groups` claim), so a user who
 * loses an IdP group loses the group's sessions on their next request.
 *
 * - members: the creator (always), users whose email is in `allowed_users` (case-insensitive),
 *   users whose token `groups` claim shares a name with `allowed_groups` (exact match).
 * - master key / `admin` role: every group of the workspace, as its manager.
 * - agent keys: groups are for people; every group route answers 403.
 * - non-members: 404. Members who are not the creator may read, not change or delete (403).
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, type Principal, type UserPrincipal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";

export interface GroupRow {
  id: string;
  workspace_id: string;
  name: string;
  allowed_users: string[];
  allowed_groups: string[];
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

/** read: see the group and its sessions, add sessions. manage: replace or delete it. */
export type GroupAction = "read" | "manage";

/** Users, master keys and admins: the principals groups are for. */
export type GroupActor = Exclude<Principal, { kind: "agent" }>;

export function isGroupMember(
  group: { created_by: number | null; allowed_users: string[]; allowed_groups: string[] },
  user: UserPrincipal,
): boolean {
  if (group.created_by !== null && Number(group.created_by) === user.userId) return true;
  const email = user.email.toLowerCase();
  if (group.allowed_users.some((u) => u.toLowerCase() === email)) return true;
  return group.allowed_groups.some((g) => user.groups.includes(g));
}

/** Ids of the groups of the user's workspace that the user belongs to right now. */
export async function groupIdsForUser(db: Knex, user: UserPrincipal): Promise<string[]> {
  // Narrowed in SQL by the same three rules, then decided by isGroupMember.
  const rows: GroupRow[] = await db("groups")
    .where({ workspace_id: user.workspaceId })
    .where((q) =>
      q
        .where({ created_by: user.userId })
        .orWhereRaw("allowed_users @> ?::jsonb", [JSON.stringify([user.email.toLowerCase()])])
        .orWhereRaw("exists (select 1 from jsonb_array_elements_text(allowed_groups) g where ?::jsonb @> to_jsonb(g))", [
          JSON.stringify(user.groups),
        ]),
    )
    .select("id", "created_by", "allowed_users", "allowed_groups");
  return rows.map(normaliseGroup).filter((g) => isGroupMember(g, user)).map((g) => g.id);
}

export function assertGroupActor(actor: Principal): asserts actor is GroupActor {
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not use groups");
}

/** Loads a group the caller may `action`; NotFound for non-members, Forbidden for members who may not manage. */
export async function loadGroupFor(db: Knex, actor: Principal, groupId: string, action: GroupAction): Promise<GroupRow> {
  assertGroupActor(actor);
  const row: GroupRow | undefined = await db("groups").where({ workspace_id: actor.workspaceId, id: groupId }).first();
  if (!row) throw new NotFound("Group");
  const group = normaliseGroup(row);
  if (isWorkspaceAdmin(actor)) return group;
  if (actor.kind !== "user" || !isGroupMember(group, actor)) throw new NotFound("Group");
  if (action === "manage" && group.created_by !== actor.userId) {
    throw new Forbidden("Only the group's creator (or the master key) may change or delete it");
  }
  return group;
}

/** Whether the user belongs to a group that shares this session (the sessions policy's group rule). */
export async function isSessionSharedWithMember(db: Knex, user: UserPrincipal, sessionId: string): Promise<boolean> {
  const rows: GroupRow[] = await db("group_sessions as gs")
    .join("groups as g", "g.id", "gs.group_id")
    .where({ "gs.session_id": sessionId, "g.workspace_id": user.workspaceId })
    .select("g.created_by", "g.allowed_users", "g.allowed_groups");
  return rows.some((g) => isGroupMember(normaliseGroup(g), user));
}

export function normaliseGroup(row: GroupRow): GroupRow {
  const list = (v: unknown): string[] => (typeof v === "string" ? JSON.parse(v) : ((v as string[] | null) ?? []));
  return {
    ...row,
    allowed_users: list(row.allowed_users),
    allowed_groups: list(row.allowed_groups),
    created_by: row.created_by === null || row.created_by === undefined ? null : Number(row.created_by),
  };
}
