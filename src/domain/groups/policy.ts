/**
 * Who belongs to a multi-agent group, and who may do what with it. Membership is evaluated
 * from the caller's current token on every request (email and `groups` claim), so a user who
 * loses an IdP group loses the group's sessions on their next request.
 *
 * - members: the creator (always), users whose email is in `allowed_users` (case-insensitive,
 *   unless their token says `email_verified: false`), users whose token `groups` claim shares a
 *   name with `allowed_groups` (exact match).
 * - master key / `admin` role: every group of the workspace, as its manager.
 * - agent keys: groups are for people; every group route answers 403.
 * - non-members: 404. Members who are not the creator may read, not change or delete (403).
 * - a shared session may be removed by who added it, the group's creator and admins.
 * - live: members' sockets are in the group's room (realtime), joined and left by isGroupMember.
 * - told of a change (`group:updated`, groupUpdateFor): who is a member after it (created,
 *   changed, joined) or was one before it (left, deleted). Admins who are not members are not
 *   told: they manage every group without belonging to it.
 * Groups are read by what could admit the caller (memberFacts, in SQL), never the whole
 * workspace's list, so a handshake or a re-check costs what the caller belongs to.
 */
import type { Knex } from "knex";
import { isWorkspaceAdmin, userIdOf, type Principal, type UserPrincipal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { groups, type Group, type GroupRules, type GroupSessionView, type MemberFacts } from "./repository.js";

/** read: see the group and its sessions, add sessions. manage: replace or delete it. */
export type GroupAction = "read" | "manage";

/** Users, master keys and admins: the principals groups are for. */
export type GroupActor = Exclude<Principal, { kind: "agent" }>;

/** Whom a grant names: users by email, people by their token's `groups` claim. */
export interface AllowList {
  allowed_users: string[];
  allowed_groups: string[];
}

/** In an allow-list that admits everyone in the workspace (MCP servers), `allowed_groups: ["*"]`. */
export const EVERYONE = "*";

/**
 * The grant rule, for groups and for MCP servers alike (domain/mcp/policy.ts): the user's email
 * is in `allowed_users` (case-insensitive, unless their token says `email_verified: false`), or
 * their `groups` claim shares a name with `allowed_groups` (exact match). With `everyone`,
 * `"*"` in `allowed_groups` admits every user of the workspace (groups do not take it: their
 * SQL narrowing, repository.ts admittingAny, matches names only).
 */
export function isAllowedBy(list: AllowList, user: UserPrincipal, options: { everyone?: boolean } = {}): boolean {
  const email = user.email.toLowerCase();
  if (user.emailVerified && list.allowed_users.some((u) => u.toLowerCase() === email)) return true;
  if (options.everyone && list.allowed_groups.includes(EVERYONE)) return true;
  return list.allowed_groups.some((g) => user.groups.includes(g));
}

/** The membership rule; everything else about membership (SQL included) goes through it. */
export function isGroupMember(group: Omit<GroupRules, "id">, user: UserPrincipal): boolean {
  if (group.created_by !== null && group.created_by === user.userId) return true;
  return isAllowedBy(group, user);
}

/**
 * The claims isGroupMember looks at, for several users at once: what the SQL that narrows the
 * groups to look at (repository.ts, admittingAny) may match on. An unverified email counts for
 * nothing, here as there.
 */
export function memberFacts(users: UserPrincipal[]): MemberFacts {
  const unique = <T>(xs: T[]) => [...new Set(xs)];
  return {
    userIds: unique(users.map((u) => u.userId)),
    emails: unique(users.filter((u) => u.emailVerified).map((u) => u.email.toLowerCase())),
    groupNames: unique(users.flatMap((u) => u.groups)),
  };
}

/**
 * The groups that may count any of these users as members, read from SQL by their claims
 * (never every group of the workspace); decide each with belongsToGroup.
 */
export function groupsAdmittingAny(db: Knex, workspaceId: string, users: UserPrincipal[]): Promise<Group[]> {
  return groups.admittingAny(db, workspaceId, memberFacts(users));
}

/** The principal is a user who belongs to the group right now (for live rooms). */
export function belongsToGroup(p: Principal, group: Omit<GroupRules, "id">): boolean {
  return p.kind === "user" && isGroupMember(group, p);
}

export type GroupUpdate = "created" | "changed" | "deleted" | "joined" | "left";

/**
 * What a socket is told of a committed change to a group's rules (`group:updated`), given
 * whether it was a member before (its node's live room) and whether the new rules admit it;
 * undefined: nothing, the change does not concern it.
 */
export function groupUpdateFor(change: "created" | "updated" | "deleted", wasMember: boolean, isMember: boolean): GroupUpdate | undefined {
  if (change === "deleted") return wasMember ? "deleted" : undefined;
  if (change === "created") return isMember ? "created" : undefined;
  if (wasMember && isMember) return "changed";
  if (isMember) return "joined";
  return wasMember ? "left" : undefined;
}

/** The groups the caller sees: the ones they belong to, or every group for admins. */
export async function visibleGroups(db: Knex, actor: Principal): Promise<Group[]> {
  assertGroupActor(actor);
  if (isWorkspaceAdmin(actor)) return groups.all(db, actor.workspaceId);
  if (actor.kind !== "user") return [];
  return (await groupsAdmittingAny(db, actor.workspaceId, [actor])).filter((g) => isGroupMember(g, actor));
}

/** Ids of the groups a principal belongs to as a member (admins manage groups without joining them). */
export async function memberGroupIds(db: Knex, p: Principal): Promise<string[]> {
  if (p.kind !== "user") return [];
  return (await groupsAdmittingAny(db, p.workspaceId, [p])).filter((g) => isGroupMember(g, p)).map((g) => g.id);
}

export function assertGroupActor(actor: Principal): asserts actor is GroupActor {
  if (actor.kind === "agent") throw new Forbidden("Agent keys may not use groups");
}

/** Loads a group the caller may `action`; NotFound for non-members, Forbidden for members who may not manage. */
export async function loadGroupFor(db: Knex, actor: Principal, groupId: string, action: GroupAction): Promise<Group> {
  assertGroupActor(actor);
  const group = await groups.find(db, actor.workspaceId, groupId);
  if (!group) throw new NotFound("Group");
  if (isWorkspaceAdmin(actor)) return group;
  if (!belongsToGroup(actor, group)) throw new NotFound("Group");
  if (action === "manage" && group.created_by !== userIdOf(actor)) {
    throw new Forbidden("Only the group's creator (or the master key) may change or delete it");
  }
  return group;
}

export function assertCanUnshare(actor: GroupActor, group: Group, shared: GroupSessionView): void {
  if (isWorkspaceAdmin(actor)) return;
  if (actor.kind === "user" && (group.created_by === actor.userId || shared.added_by === actor.userId)) return;
  throw new Forbidden("Only who added the session, or the group's creator, may remove it");
}
