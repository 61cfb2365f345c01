/**
 * Routes of the A2A family ("The hub in the standard protocols"): every agent the caller may use
 * is an A2A agent at `/a2a/agents/{agentId}` (its card under `.well-known/agent-card.json`, its
 * JSON-RPC endpoint at the path itself). Like the rest of the API they take the credential as
 * `Authorization: Bearer` (401 without one, before the SDK sees the call) and answer 404 for an
 * agent the caller may not use (agents/policy.ts, through services.agents.get). The JSON-RPC
 * itself is the SDK's (jsonrpc.ts).
 */
import type { Context } from "koa";
import type { Principal } from "../../../auth/principal.js";
import { PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { ANSWERED, ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";
import { hubAgentCard, isLegacyVersion, wireCard } from "./card.js";
import { agentTaskStore, AgentTurnExecutor, followAgentTask, isTurnId } from "./executor.js";
import { followAsk, GroupAskExecutor, groupTaskStore, isAskId } from "./group.js";
import { answerJsonRpc, type StreamHooks } from "./jsonrpc.js";
import { TurnBuses } from "./relay.js";
import * as S from "./schema.js";

export interface A2aOptions {
  /** PUBLIC_URL: the base of the cards' endpoint URLs; unset, the request's origin. */
  publicUrl?: string | undefined;
  /** Bytes a slow stream reader may leave unread before it is cut (SOCKET_MAX_BUFFERED). */
  maxBufferedBytes?: number;
  hooks?: StreamHooks | undefined;
}

const AGENT = "/a2a/agents/{agentId}";
const GROUP = "/a2a/groups/{groupId}";
const MEMBER = "groups/policy.ts loadGroupFor(read): the group's members (and the master key)";
const USE = "agents/policy.ts loadAgentFor: the agent's team (viewer or editor), a group member through the group, the master key, the agent's own key";
const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;

export function a2aTable(s: Services, options: A2aOptions = {}): Route[] {
  const base = (ctx: Context) => options.publicUrl ?? ctx.origin;
  const agentCard = async (principal: Principal, agentId: string, ctx: Context) => {
    const agent = await s.agents.get(principal, agentId);
    return hubAgentCard({ kind: "agent", id: agent.id, name: agent.name, description: agent.description ?? agent.name, url: `${base(ctx)}/a2a/agents/${encodeURIComponent(agent.id)}` });
  };
  const groupCard = async (principal: Principal, groupId: string, ctx: Context) => {
    const group = await s.groups.get(principal, groupId);
    const description = `Ask the group "${group.name}": its agents (${group.agentIds.join(", ") || "none yet"}) answer; mention @agent-id to ask only some of them`;
    return hubAgentCard({ kind: "group", id: group.id, name: group.name, description, url: `${base(ctx)}/a2a/groups/${encodeURIComponent(group.id)}` });
  };
  const limits = { maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED, hooks: options.hooks };
  return [
    route({
      method: "get", path: "/a2a/agents", operationId: "listA2aAgents", tag: "A2A", summary: "The A2A cards of the agents the caller may use",
      description: "One card per agent, as `GET /a2a/agents/{agentId}/.well-known/agent-card.json` answers it (protocol 1.0 unless `A2A-Version` asks for 0.3), a page at a time.",
      security: ANY, policy: USE, query: PageQuery,
      answer: { status: 200, description: "`{cards, next_cursor}`", schema: S.A2aAgentCardPage },
      handle: async ({ principal, query, ctx }) => {
        const page = await s.agents.list(principal, query);
        const legacy = isLegacyVersion(ctx.get("A2A-Version") || undefined);
        const cards = page.agents.map((a) => hubAgentCard({ kind: "agent", id: a.id, name: a.name, description: a.description ?? a.name, url: `${base(ctx)}/a2a/agents/${encodeURIComponent(a.id)}` }));
        return { cards: await Promise.all(cards.map((c) => wireCard(c, legacy))), next_cursor: page.next_cursor };
      },
    }),
    route({
      method: "get", path: `${AGENT}/.well-known/agent-card.json`, operationId: "getA2aAgentCard", tag: "A2A", summary: "The agent's A2A card",
      description:
        "Protocol 1.0 (`supportedInterfaces`, with a 0.3 mirror) when `A2A-Version: 1.0` is sent, as `@a2a-js/sdk`'s card resolver does; without the header, the v0.3 card (`url`, with the 1.0 `supportedInterfaces` embedded), as the SDK's own server answers. Security scheme: Bearer (the same credentials as the API).",
      security: ANY, policy: USE,
      answer: { status: 200, description: "The agent card", schema: S.A2aAgentCard },
      handle: async ({ principal, params, ctx }) => {
        const card = await agentCard(principal, params.agentId!, ctx);
        ctx.set("Vary", "A2A-Version");
        return wireCard(card, isLegacyVersion(ctx.get("A2A-Version") || undefined));
      },
    }),
    route({
      method: "post", path: AGENT, operationId: "a2aAgentRpc", tag: "A2A", summary: "A2A JSON-RPC: send, stream, get, cancel and resubscribe to a task (a turn)",
      description:
        "The A2A JSON-RPC endpoint (protocol 1.0: `SendMessage`, `SendStreamingMessage`, `GetTask`, `CancelTask`, `SubscribeToTask`; with no `A2A-Version` header or 0.3: `message/send`, `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/resubscribe`). A message starts a turn: task id = turn id, `contextId` = session id (a session of this agent the caller may append to; otherwise a new session of the caller). The answer streams as appends to one text artifact (`answer`); the finished task carries it whole. JSON-RPC errors are answered 200, as the SDK does; no valid credential: 401 problem.",
      security: ANY, policy: `${USE}; turns as POST …/sessions/{sessionId}/turns (sessions/policy.ts loadSessionFor(append))`,
      answer: { status: 200, description: "A JSON-RPC response, or for streaming methods `text/event-stream` of JSON-RPC responses", stream: true },
      handle: async ({ principal, params, ctx }) => {
        const card = await agentCard(principal, params.agentId!, ctx);
        const agentId = params.agentId!;
        const store = agentTaskStore(s, agentId);
        const parts = { card, store, executor: new AgentTurnExecutor(s, agentId, store), buses: new TurnBuses(followAgentTask(s, agentId), isTurnId) };
        await answerJsonRpc(ctx, principal, parts, limits);
        return ANSWERED;
      },
    }),
    route({
      method: "get", path: `${GROUP}/.well-known/agent-card.json`, operationId: "getA2aGroupCard", tag: "A2A", summary: "The group's A2A card (the group as one agent)",
      description: "As an agent's card (`A2A-Version` chooses 1.0 or 0.3); its skill names the group's agents.",
      security: ANY, policy: MEMBER,
      answer: { status: 200, description: "The group's agent card", schema: S.A2aAgentCard },
      handle: async ({ principal, params, ctx }) => {
        ctx.set("Vary", "A2A-Version");
        return wireCard(await groupCard(principal, params.groupId!, ctx), isLegacyVersion(ctx.get("A2A-Version") || undefined));
      },
    }),
    route({
      method: "post", path: GROUP, operationId: "a2aGroupRpc", tag: "A2A", summary: "A2A JSON-RPC for a group: a message asks the group (task = ask)",
      description:
        "As an agent's endpoint, but a message is an ask of the group (POST …/conversations/{sessionId}/ask): task id = ask id, `contextId` = the group conversation (one the caller may append to; otherwise a new one). Each answering agent's text streams into its own artifact (`artifactId` = the agent's id); cancel cancels the ask.",
      security: ANY, policy: `${MEMBER}; asks as POST /api/groups/{groupId}/conversations/{sessionId}/ask`,
      answer: { status: 200, description: "A JSON-RPC response, or for streaming methods `text/event-stream` of JSON-RPC responses", stream: true },
      handle: async ({ principal, params, ctx }) => {
        const card = await groupCard(principal, params.groupId!, ctx);
        const groupId = params.groupId!;
        const store = groupTaskStore(s, groupId);
        await answerJsonRpc(ctx, principal, { card, store, executor: new GroupAskExecutor(s, groupId, store), buses: new TurnBuses(followAsk(s, groupId), isAskId) }, limits);
        return ANSWERED;
      },
    }),
  ];
}
