/**
 * Which of a group's agents answer a question: the one routing decision of "ask the group",
 * pure but for `match`'s full-text ranking (knowledge search's, passed in).
 *
 * - The roster is the group's agents in the group's order, narrowed by `agentIds` (each must be
 *   an agent of the group: 422 otherwise). Agents whose server is INACTIVE take no turns and
 *   are left out.
 * - `@agent-id` in the question mentions an agent; mentions of agents outside the group are
 *   ignored and listed in the ask.
 * - strategy: `mentions` (the mentioned agents of the roster, in mention order; the default when
 *   the question mentions any), `all` (the roster; the default otherwise), `match` (the agents
 *   whose name and description match the question best: every agent ranked at least half as
 *   high as the best), `first` (the roster; the first to finish answers), `round_robin` (the
 *   roster's next agent after the one the conversation's previous round_robin ask went to).
 * - No agent to route to, or more than the cap (ASK_MAX_AGENTS): 422 naming why; nothing is stored.
 */
import type { z } from "zod";
import { Invalid } from "../../errors.js";
import type { AskBody } from "../../http/routes/groups/schema.js";

export const STRATEGIES = ["mentions", "all", "match", "first", "round_robin"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** An agent of the group as routing sees it. */
export interface AgentCard {
  id: string;
  name: string;
  description: string | null;
  /** false when its agent server is INACTIVE. */
  takesTurns: boolean;
}

/** What routing reads of an ask, as its schema parses it (`content`, `strategy?`, `agentIds?`). */
export type AskInput = Omit<z.output<typeof AskBody>, "id">;

export interface RouteContext {
  /** The group's agents, in the group's order. */
  group: AgentCard[];
  /** Ranks agents against the question (best first; only those that match at all). */
  rank(question: string, agents: AgentCard[]): Promise<Array<{ id: string; score: number }>>;
  /** The agent the conversation's previous round_robin ask went to, if any. */
  lastRoundRobin: string | undefined;
  /** The most agents one ask may go to. */
  max: number;
}

export interface Route {
  strategy: Strategy;
  agentIds: string[];
  ignoredMentions: string[];
}

/** Distinct `@agent-id` mentions, lower-cased, in order (an `@` inside a word, as in an email address, is not one). */
export function mentionsIn(content: string): string[] {
  const found = [...content.matchAll(/(?<![\w@.])@([a-z0-9][a-z0-9_-]{0,63})/gi)].map((m) => m[1]!.toLowerCase().replace(/[-_]+$/, ""));
  return [...new Set(found)];
}

export async function routeAsk(input: AskInput, ctx: RouteContext): Promise<Route> {
  const inGroup = new Set(ctx.group.map((a) => a.id));
  const narrowed = input.agentIds ? [...new Set(input.agentIds)] : undefined;
  const strangers = (narrowed ?? []).filter((id) => !inGroup.has(id));
  if (strangers.length) throw Invalid.field("agentIds", `not agents of this group: ${strangers.join(", ")}`);
  const roster = ctx.group.filter((a) => a.takesTurns && (!narrowed || narrowed.includes(a.id)));
  const inRoster = new Set(roster.map((a) => a.id));

  const mentions = mentionsIn(input.content);
  const ignoredMentions = mentions.filter((id) => !inGroup.has(id));
  const mentioned = mentions.filter((id) => inRoster.has(id));
  const strategy = input.strategy ?? (mentioned.length ? "mentions" : "all");

  if (!roster.length) {
    throw Invalid.field(narrowed ? "agentIds" : "strategy", "no agent of the group can answer: the group's agents (as narrowed by agentIds) take no turns (their servers are INACTIVE)");
  }
  const agentIds = await choose(strategy, input.content, roster, mentioned, ctx);
  if (!agentIds.length) throw Invalid.field(strategy === "mentions" ? "content" : "strategy", noneBecause(strategy));
  if (agentIds.length > ctx.max) {
    throw Invalid.field("agentIds", `this ask would go to ${agentIds.length} agents; at most ${ctx.max} may answer one ask (narrow it with agentIds or @mentions)`);
  }
  return { strategy, agentIds, ignoredMentions };
}

async function choose(strategy: Strategy, content: string, roster: AgentCard[], mentioned: string[], ctx: RouteContext): Promise<string[]> {
  switch (strategy) {
    case "mentions":
      return mentioned;
    case "all":
    case "first":
      return roster.map((a) => a.id);
    case "match": {
      const ranked = await ctx.rank(content, roster);
      const best = ranked[0]?.score ?? 0;
      return ranked.filter((r) => r.score > 0 && r.score >= best / 2).map((r) => r.id);
    }
    case "round_robin": {
      const last = roster.findIndex((a) => a.id === ctx.lastRoundRobin);
      return [roster[(last + 1) % roster.length]!.id];
    }
  }
}

function noneBecause(strategy: Strategy): string {
  return strategy === "mentions"
    ? "the question mentions no agent of the group (write @agent-id), so strategy mentions has no one to ask"
    : "no agent's name or description matches the question, so strategy match has no one to ask; try all or name agents";
}
