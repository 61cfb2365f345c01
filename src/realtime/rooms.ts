/** The only place room names are made. Rooms are joined by the server, never named by clients. */
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
} as const;
