/** The only place room names are made. Rooms are joined by the server, never named by clients. */
import { agentIdOf, keyIdOf, userIdOf, type Principal } from "../auth/principal.js";
import type { SessionAudience } from "../domain/events.js";

export const rooms = {
  /** Every socket of one user. */
  user: (workspaceId: string, userId: number) => `u:${workspaceId}:${userId}`,
  /** Every user socket of a workspace (for re-evaluating group membership). */
  workspaceUsers: (workspaceId: string) => `wu:${workspaceId}`,
  /** Every socket authenticated with one API key (for revocation). */
  key: (keyId: string) => `k:${keyId}`,
  /** Every agent-key socket of one agent (for channel subscriptions). */
  agent: (workspaceId: string, agentId: string) => `a:${workspaceId}:${agentId}`,
  /** Agent-key sockets of one agent that hold `sessions:read`: they receive all its sessions' updates. */
  agentSessions: (workspaceId: string, agentId: string) => `as:${workspaceId}:${agentId}`,
  /** Members of a group, as evaluated from their current token. */
  group: (groupId: string) => `g:${groupId}`,
  /** Sockets receiving a channel: its subscribed agents' sockets and watchers. */
  channel: (channelId: string) => `c:${channelId}`,
  /** Explicit watchers of a session. */
  session: (sessionId: string) => `s:${sessionId}`,
  /** Sockets serving an agent's turns (`agent:serve`), on every node. */
  serving: (workspaceId: string, agentId: string) => `sv:${workspaceId}:${agentId}`,
} as const;

/** The rooms a credential's sockets are in for as long as they live: its user, key and agent. */
export function identityRooms(p: Principal): string[] {
  const userId = userIdOf(p);
  const keyId = keyIdOf(p);
  const agentId = agentIdOf(p);
  return [
    ...(userId !== null ? [rooms.user(p.workspaceId, userId), rooms.workspaceUsers(p.workspaceId)] : []),
    ...(keyId ? [rooms.key(keyId)] : []),
    ...(agentId ? [rooms.agent(p.workspaceId, agentId)] : []),
  ];
}

/**
 * The rooms that receive a session's events: its watchers, its agent's reading keys, and the
 * audience sessions/policy.ts decided (owner, sharing groups).
 */
export function sessionRooms(s: { workspaceId: string; sessionId: string; audience: SessionAudience }): string[] {
  return [
    rooms.session(s.sessionId),
    ...(s.audience.agentId !== null ? [rooms.agentSessions(s.workspaceId, s.audience.agentId)] : []),
    ...(s.audience.ownerUserId !== null ? [rooms.user(s.workspaceId, s.audience.ownerUserId)] : []),
    ...s.audience.groupIds.map(rooms.group),
  ];
}
