/**
 * The REST part of the typed client: one method per route, request bodies typed by the hub's own
 * schemas, answers by the types it presents, refusals thrown as AgentHubError (problem+json).
 * Routes are named by operation id: REST_OPERATIONS (operations.ts) is made from the hub's route
 * tables, so the client calls what the hub serves and documents.
 *
 *   const hub = new AgentHubClient({ url: "http://localhost:3000", token: process.env.TOKEN! });
 *   const session = await hub.sessions.create("logs-agent", { title: "First questions" });
 *   await hub.turns.start("logs-agent", session.id, { content: "What can you do?" });
 */
import { AgentHubError } from "./errors.js";
import { REST_OPERATIONS } from "./operations.js";
import type * as T from "./types.js";

export { REST_OPERATIONS };

export type RestOperation = keyof typeof REST_OPERATIONS;

export interface RestClientOptions {
  /** The hub's base URL, e.g. http://localhost:3000. */
  url: string;
  /** A user token, master key or agent key; a function is asked before every request (token refresh). */
  token?: string | (() => string | Promise<string>);
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

type Params = Record<string, string | number>;
type Query = Record<string, string | number | Date | undefined>;

export class AgentHubClient {
  readonly url: string;
  private readonly options: RestClientOptions;

  constructor(options: RestClientOptions) {
    this.options = options;
    this.url = options.url.replace(/\/+$/, "");
  }

  /** Calls one route; the answer's JSON (undefined for 204). Refusals throw AgentHubError. */
  async call<R>(operation: RestOperation, params: Params = {}, init: { query?: Query | undefined; body?: unknown } = {}): Promise<R> {
    const [method, template] = REST_OPERATIONS[operation];
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined) throw new TypeError(`${operation}: missing path parameter ${name}`);
      return encodeURIComponent(String(value));
    });
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) search.set(key, value instanceof Date ? value.toISOString() : String(value));
    }
    const headers: Record<string, string> = { accept: "application/json", ...this.options.headers };
    const token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const res = await (this.options.fetch ?? fetch)(`${this.url}${path}${search.size ? `?${search}` : ""}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) {
      const retryAfter = Number(res.headers.get("retry-after"));
      throw AgentHubError.from(res.status, body, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
    }
    return body as R;
  }

  me(): Promise<T.Me> {
    return this.call("me");
  }

  readonly agents = {
    create: (body: T.CreateAgentBody) => this.call<T.AgentWithSecret>("createAgent", {}, { body }),
    list: (query: T.PageQuery = {}) => this.call<{ agents: T.Agent[]; next_cursor: string | null }>("listAgents", {}, { query: { ...query } }),
    get: (agentId: string) => this.call<T.Agent>("getAgent", { agentId }),
    update: (agentId: string, body: T.UpdateAgentBody) => this.call<T.AgentWithSecret>("updateAgent", { agentId }, { body }),
    remove: (agentId: string) => this.call<void>("deleteAgent", { agentId }),
    rotateEndpointSecret: (agentId: string) => this.call<{ endpoint_secret: string }>("rotateEndpointSecret", { agentId }),
    /** "Test connection": the agent's endpoint tried without a turn; `detail` says what was found or what is wrong. */
    testEndpoint: (agentId: string) => this.call<T.EndpointCheck>("testAgentEndpoint", { agentId }),
    team: (agentId: string) => this.call<{ members: T.TeamMember[] }>("getTeam", { agentId }),
    addMember: (agentId: string, body: T.AddMemberBody) => this.call<{ members: T.TeamMember[] }>("addTeamMember", { agentId }, { body }),
    /** A member by user id, or a pending member by the email they were added with. */
    removeMember: (agentId: string, userId: number | string) => this.call<{ members: T.TeamMember[] }>("removeTeamMember", { agentId, userId }),
    /** The workspace's people. */
    workspaceTeam: (workspaceId: string, query: T.PageQuery = {}) =>
      this.call<{ members: T.WorkspaceMember[]; next_cursor: string | null }>("workspaceTeam", { workspaceId }, { query: { ...query } }),
  };

  readonly keys = {
    create: (agentId: string, body: T.CreateKeyBody) => this.call<T.CreatedAgentKey>("createAgentKey", { agentId }, { body }),
    list: (agentId: string) => this.call<{ keys: T.AgentKey[]; next_cursor: null }>("listAgentKeys", { agentId }),
    revoke: (agentId: string, keyId: string) => this.call<void>("revokeAgentKey", { agentId, keyId }),
    createMaster: (body: T.CreateMasterKeyBody = {}) => this.call<T.CreatedMasterKey>("createMasterKey", {}, { body }),
    listMaster: () => this.call<{ keys: T.MasterKey[]; next_cursor: null }>("listMasterKeys"),
    revokeMaster: (keyId: string) => this.call<void>("revokeMasterKey", { keyId }),
  };

  readonly sessions = {
    create: (agentId: string, body: T.CreateSessionBody = {}) => this.call<T.Session>("createSession", { agentId }, { body }),
    list: (agentId: string, query: T.SessionListQuery = {}) => this.call<T.SessionPage>("listSessions", { agentId }, { query: { ...query } }),
    listArchived: (agentId: string, query: T.SessionListQuery = {}) => this.call<T.SessionPage>("listArchivedSessions", { agentId }, { query: { ...query } }),
    removeArchived: (agentId: string) => this.call<void>("deleteArchivedSessions", { agentId }),
    get: (agentId: string, sessionId: string) => this.call<T.Session>("getSession", { agentId, sessionId }),
    rename: (agentId: string, sessionId: string, title: string) => this.call<void>("renameSession", { agentId, sessionId }, { body: { title } }),
    remove: (agentId: string, sessionId: string) => this.call<void>("deleteSession", { agentId, sessionId }),
    archive: (agentId: string, sessionId: string) => this.call<void>("archiveSession", { agentId, sessionId }),
    restore: (agentId: string, sessionId: string) => this.call<void>("restoreSession", { agentId, sessionId }),
    /** Sessions and group conversations the caller may read whose title or message content holds `q`. */
    search: (query: T.SessionSearchQuery) => this.call<T.SessionSearchPage>("searchSessions", {}, { query: { ...query } }),
  };

  readonly messages = {
    list: (agentId: string, sessionId: string, query: T.MessagesQuery = {}) => this.call<T.MessagePage>("listMessages", { agentId, sessionId }, { query: { ...query } }),
    /** Idempotent by `id`: the same id and body again answers the stored message. */
    append: (agentId: string, sessionId: string, body: T.AppendMessageBody) => this.call<T.Message>("appendMessage", { agentId, sessionId }, { body }),
  };

  readonly turns = {
    /** Stores the user's message and starts the agent (202); watch the session to see it live. */
    start: (agentId: string, sessionId: string, body: T.StartTurnBody) => this.call<T.StartedTurn>("startTurn", { agentId, sessionId }, { body }),
    get: (agentId: string, sessionId: string, turnId: string) => this.call<T.TurnWithSnapshot>("getTurn", { agentId, sessionId, turnId }),
    cancel: (agentId: string, sessionId: string, turnId: string) => this.call<T.Turn>("cancelTurn", { agentId, sessionId, turnId }),
  };

  readonly shares = {
    create: (agentId: string, sessionId: string, body: T.CreateShareBody = {}) => this.call<T.ShareLink>("createShareLink", { agentId, sessionId }, { body }),
    revoke: (agentId: string, sessionId: string) => this.call<void>("revokeShareLinks", { agentId, sessionId }),
    /** The read-only view (needs no credential). */
    view: (token: string, query: T.PageQuery = {}) => this.call<T.SharedSession>("sharedView", { token }, { query: { ...query } }),
    clone: (token: string) => this.call<T.Session>("cloneShared", { token }),
  };

  readonly groups = {
    list: (query: T.PageQuery = {}) => this.call<{ groups: T.Group[]; next_cursor: string | null }>("listGroups", {}, { query: { ...query } }),
    create: (body: T.GroupBody) => this.call<T.Group>("createGroup", {}, { body }),
    get: (groupId: string) => this.call<T.Group>("getGroup", { groupId }),
    replace: (groupId: string, body: T.GroupBody) => this.call<T.Group>("replaceGroup", { groupId }, { body }),
    remove: (groupId: string) => this.call<void>("deleteGroup", { groupId }),
    sessions: (groupId: string, query: T.PageQuery = {}) =>
      this.call<T.SessionPage>("listGroupSessions", { groupId }, { query: { ...query } }),
    addSession: (groupId: string, sessionId: string) => this.call<T.GroupSession>("shareSessionInGroup", { groupId, sessionId }),
    removeSession: (groupId: string, sessionId: string) => this.call<void>("unshareSessionInGroup", { groupId, sessionId }),
  };

  /** A group's conversations: any member may ask; the group's agents answer (watch the session to see them live). */
  readonly conversations = {
    create: (groupId: string, body: T.CreateConversationBody = {}) => this.call<T.Session>("createConversation", { groupId }, { body }),
    list: (groupId: string, query: T.PageQuery = {}) => this.call<T.SessionPage>("listConversations", { groupId }, { query: { ...query } }),
    get: (groupId: string, sessionId: string) => this.call<T.Session>("getConversation", { groupId, sessionId }),
    rename: (groupId: string, sessionId: string, title: string) => this.call<void>("renameConversation", { groupId, sessionId }, { body: { title } }),
    remove: (groupId: string, sessionId: string) => this.call<void>("deleteConversation", { groupId, sessionId }),
    messages: (groupId: string, sessionId: string, query: T.MessagesQuery = {}) =>
      this.call<T.MessagePage>("listConversationMessages", { groupId, sessionId }, { query: { ...query } }),
    ask: (groupId: string, sessionId: string, body: T.AskBody) => this.call<{ ask: T.Ask; message: T.Message }>("ask", { groupId, sessionId }, { body }),
    getAsk: (groupId: string, sessionId: string, askId: string) => this.call<T.Ask>("getAsk", { groupId, sessionId, askId }),
    cancelAsk: (groupId: string, sessionId: string, askId: string) => this.call<T.Ask>("cancelAsk", { groupId, sessionId, askId }),
    getTurn: (groupId: string, sessionId: string, turnId: string) => this.call<T.TurnWithSnapshot>("getConversationTurn", { groupId, sessionId, turnId }),
    share: (groupId: string, sessionId: string, body: T.CreateShareBody = {}) => this.call<T.ShareLink>("shareConversation", { groupId, sessionId }, { body }),
    revokeShare: (groupId: string, sessionId: string) => this.call<void>("revokeConversationShare", { groupId, sessionId }),
  };

  readonly channels = {
    create: (body: T.CreateChannelBody) => this.call<T.Channel>("createChannelViaApi", {}, { body }),
    list: (query: T.PageQuery = {}) => this.call<{ channels: T.Channel[]; nextCursor: string | null }>("listChannelsViaApi", {}, { query: { ...query } }),
    get: (channelId: string) => this.call<T.Channel>("getChannelViaApi", { channelId }),
    remove: (channelId: string) => this.call<void>("deleteChannelViaApi", { channelId }),
    subscribe: (channelId: string, agentId: string) => this.call<T.Channel>("subscribeChannelViaApi", { channelId }, { body: { agentId } }),
    unsubscribe: (channelId: string, agentId: string) => this.call<T.Channel>("unsubscribeChannelViaApi", { channelId }, { body: { agentId } }),
    publish: (channelId: string, body: T.PublishBody) => this.call<T.ChannelMessage>("publishChannelMessageViaApi", { channelId }, { body }),
    history: (channelId: string, query: T.ChannelHistoryQuery = {}) =>
      this.call<{ messages: T.ChannelMessage[]; nextCursor: string | null }>("channelHistoryViaApi", { channelId }, { query: { ...query } }),
  };

  /** The workspace's MCP servers the caller is granted (GET /api/mcp-servers). */
  readonly mcpServers = {
    list: (query: T.PageQuery = {}) => this.call<{ mcp_servers: Array<{ id: string; name: string }>; next_cursor: string | null }>("listMcpServers", {}, { query: { ...query } }),
  };

  /**
   * Approvals (contract: "People in the loop"): what agents' turns ask people. `list` answers those
   * the caller may decide (default `pending`); a decision answers the approval after it (409 once
   * decided, or a second decision by the same person).
   */
  readonly approvals = {
    list: (query: T.ApprovalsQuery = {}) => this.call<T.ApprovalPage>("listApprovals", {}, { query: { ...query } }),
    get: (agentId: string, sessionId: string, turnId: string, approvalId: string) => this.call<T.Approval>("getApproval", { agentId, sessionId, turnId, approvalId }),
    decide: (agentId: string, sessionId: string, turnId: string, approvalId: string, body: T.DecideApprovalBody) =>
      this.call<T.Approval>("decideApproval", { agentId, sessionId, turnId, approvalId }, { body }),
    getInConversation: (groupId: string, sessionId: string, turnId: string, approvalId: string) =>
      this.call<T.Approval>("getApprovalInConversation", { groupId, sessionId, turnId, approvalId }),
    decideInConversation: (groupId: string, sessionId: string, turnId: string, approvalId: string, body: T.DecideApprovalBody) =>
      this.call<T.Approval>("decideApprovalInConversation", { groupId, sessionId, turnId, approvalId }, { body }),
  };

  readonly knowledge = {
    create: (body: T.CreateKnowledgeBody) => this.call<T.Knowledge>("createKnowledge", {}, { body }),
    list: (query: T.PageQuery = {}) => this.call<{ items: T.Knowledge[]; next_cursor: string | null }>("listKnowledge", {}, { query: { ...query } }),
    get: (knowledgeId: string) => this.call<T.Knowledge>("getKnowledge", { knowledgeId }),
    remove: (knowledgeId: string) => this.call<void>("deleteKnowledge", { knowledgeId }),
  };
}
