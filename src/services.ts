/**
 * The domain services and the turn runtime, wired once from their dependencies. Knows nothing
 * of Koa or Socket.IO (the socket endpoint reaches Socket.IO through a function it was given).
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { CredentialStore } from "./auth/authenticate.js";
import { KeyCache } from "./auth/key-cache.js";
import { checkAgentUrl } from "./endpoints/address-guard.js";
import { newEndpointSecret } from "./endpoints/signature.js";
import type { Config } from "./config.js";
import { Agents } from "./domain/agents/service.js";
import { EndpointChecks } from "./domain/agents/endpoint-check.js";
import type { Fetch } from "./endpoints/guarded-fetch.js";
import { Conversations } from "./domain/asks/service.js";
import { keysById } from "./domain/backplane/repository.js";
import { Backplane } from "./domain/backplane/service.js";
import { Channels } from "./domain/channels/service.js";
import type { EventBus } from "./domain/events.js";
import { Groups } from "./domain/groups/service.js";
import { McpServers } from "./domain/mcp/service.js";
import { apiKeys } from "./domain/keys/repository.js";
import { AgentKeys, MasterKeys } from "./domain/keys/service.js";
import { SessionMessages } from "./domain/sessions/messages.js";
import { Sessions } from "./domain/sessions/service.js";
import { ShareLinks } from "./domain/sharing/service.js";
import { systemClock, type Clock } from "./domain/time.js";
import { Turns } from "./domain/turns/service.js";
import { Approvals } from "./domain/approvals/service.js";
import { users } from "./domain/users/repository.js";
import { knowledgeServices } from "./domain/knowledge/tools.js";
import { Workspaces } from "./domain/workspaces/service.js";
import type { AgentEndpoint } from "./turns/endpoint.js";
import type { TurnLog } from "./turns/log.js";
import type { SecretBox } from "./auth/secrets.js";
import { TurnRuntime } from "./turns/runtime.js";

export interface ServiceDeps {
  db: Knex;
  bus: EventBus;
  config: Config;
  log: Logger;
  /** Where running turns' events live: Redis in server mode, the process in the embedded default. */
  turnLog: TurnLog;
  /** How turns reach agents, one per agent protocol, in the order they are tried (turns/endpoint.ts). */
  endpoints: readonly AgentEndpoint[];
  clock?: Clock | undefined;
  /** The hub's public base URL, known once it listens (share links are built from it). */
  publicUrl: () => string;
  /** Seals and opens write-only secrets (model API keys, MCP server headers). */
  secrets: SecretBox;
  /** The guarded fetch (endpoints/guarded-fetch.ts): how services reach the outside outside turns (MCP servers' tool lists, "Test connection"). */
  fetch: Fetch;
  /** How many sockets serve an agent now, on every node. */
  servingSockets?: (workspaceId: string, agentId: string) => Promise<number>;
}

export function createServices(deps: ServiceDeps) {
  const tx = { db: deps.db, bus: deps.bus };
  const clock = deps.clock ?? systemClock;
  // API keys are authenticated from memory for at most KEY_CACHE_MS; every key.revoked clears them.
  const keyCache = new KeyCache(deps.config.keyCacheMs, () => clock.now().getTime());
  deps.bus.subscribe((e) => {
    if (e.type === "key.revoked") keyCache.forget(e.keyId);
  });
  const credentials: CredentialStore = keyCache.wrap({
    findLiveKey: (hash) => apiKeys.findLive(deps.db, hash),
    findLiveKeyById: (id) => keysById.findLive(deps.db, id),
    provisionUser: (claims) => users.provision(deps.db, claims),
  });
  /** For re-checking live sockets: which of these keys still work. */
  const liveKeyIds = (keyIds: string[]) => apiKeys.liveIds(deps.db, keyIds);
  const sessionMessages = new SessionMessages(tx, clock, deps.config.messageMaxBytes);
  const limits = { turnTimeoutMs: deps.config.agents.turnTimeoutMs, leaseMs: deps.config.agents.leaseMs };
  const approvals = new Approvals(tx, limits);
  const turnRuntime = new TurnRuntime({ tx, log: deps.turnLog, sessionMessages, logger: deps.log, limits, endpoints: deps.endpoints, approvals });
  const turns = new Turns(tx, sessionMessages, turnRuntime, limits);
  const sessions = new Sessions(tx, clock);
  const shareLinks = new ShareLinks(tx, clock, deps.publicUrl);
  const conversations = new Conversations(tx, clock, { turns, sessionMessages, sessions, shareLinks }, { tsConfig: deps.config.knowledgeTsConfig, maxAgentsPerAsk: deps.config.agents.maxPerAsk });
  // A group that drops agents stops their running turns in its conversations (once, on the node that committed it).
  deps.bus.subscribe((e) => {
    if (e.type === "group.updated") conversations.agentsDropped(e.groupId).catch((err) => deps.log.warn({ err, group: e.groupId }, "could not stop the turns of agents a group dropped"));
  });
  // The embedded default runs on one machine, where agents and MCP servers usually listen on localhost.
  const refusal = (url: string) =>
    checkAgentUrl(url, { allowPrivate: deps.config.agents.allowPrivate || !deps.config.databaseUrl, allowHttp: deps.config.agents.allowHttp || !deps.config.databaseUrl });
  const services = {
    credentials,
    keyCache,
    liveKeyIds,
    agents: new Agents(tx, {
      refusal,
      newSecret: newEndpointSecret,
      seal: (plain) => deps.secrets.seal(plain),
    }, keyCache),
    endpointChecks: new EndpointChecks({ db: deps.db, fetch: deps.fetch, secrets: deps.secrets, servingSockets: deps.servingSockets }),
    agentKeys: new AgentKeys(tx, keyCache),
    masterKeys: new MasterKeys(tx, keyCache),
    channels: new Channels(tx, keyCache),
    sessions,
    sessionMessages,
    turns,
    approvals,
    turnRuntime,
    conversations,
    shareLinks,
    groups: new Groups(tx, clock),
    mcpServers: new McpServers(tx, clock, { refusal, secrets: deps.secrets, fetch: deps.fetch }),
    workspaces: new Workspaces(deps.db),
    ...knowledgeServices(tx, clock, deps.config.knowledgeTsConfig, deps.log),
  };
  return { ...services, backplane: new Backplane(tx, services) };
}

export type Services = ReturnType<typeof createServices>;
