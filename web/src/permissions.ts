/**
 * What the signed-in person may do, as the hub's policies decide it (the policy.ts files under src/domain), so
 * the app hides or disables what would be refused and says why instead of offering it. Each
 * function answers `undefined` (allowed) or the reason, in words. The hub still decides: these
 * only keep the app from offering what it would refuse.
 */
import type { Approval, Group, Me, Session } from "agenthub/client";

export const isAdmin = (me: Me): boolean => me.kind === "master" || (me.kind === "user" && me.admin === true);

/** Rename, archive, delete or share a conversation: its owner (an agent's session) or creator (a group's), and admins. */
export function cannotChangeSession(me: Me, session: Session): string | undefined {
  if (isAdmin(me)) return undefined;
  if (me.kind === "user" && session.owner_id === me.user_id) return undefined;
  if (me.kind === "agent" && session.agent_id === me.agent_id) return undefined;
  return session.group_id ? "Only who started this conversation may change or delete it" : "Only the owner of this session may change or delete it";
}

/** Change or delete a group: its creator and admins. */
export function cannotChangeGroup(me: Me, group: Group): string | undefined {
  if (isAdmin(me)) return undefined;
  if (me.kind === "user" && group.created_by === me.user_id) return undefined;
  return "Only who created this group may change or delete it";
}

/** Add or delete knowledge: admins (and the master key). */
export function cannotManageKnowledge(me: Me): string | undefined {
  return isAdmin(me) ? undefined : "Only workspace admins may add or delete knowledge";
}

/**
 * Decide an approval (approvals/policy.ts assertMayDecide): people only; its assignees when it
 * names any (by email, or by a `groups` claim); else whoever may append to the session: its owner
 * and admins, or any member of a group's conversation (whoever reads one is a member).
 */
export function cannotDecideApproval(me: Me, approval: Pick<Approval, "assignees">, session: Pick<Session, "owner_id" | "group_id"> | undefined): string | undefined {
  if (me.kind !== "user") return "Only people decide approvals: sign in as yourself, not with a key";
  const a = approval.assignees;
  if (a) {
    const email = me.email.toLowerCase();
    if ((a.users ?? []).some((u) => u.toLowerCase() === email) || (a.groups ?? []).some((g) => me.groups.includes(g))) return undefined;
    return `Only its assignees decide this (${assigneesText(a)})`;
  }
  if (!session) return "This conversation is still loading";
  if (me.admin || session.group_id || session.owner_id === me.user_id) return undefined;
  return "Only who may write to this conversation (its owner) may decide its approvals";
}

/** Whom an approval names, in words. */
export function assigneesText(a: NonNullable<Approval["assignees"]>): string {
  return [...(a.users ?? []), ...(a.groups ?? []).map((g) => `group ${g}`)].join(", ") || "nobody";
}
