/** The routing decision of "ask the group" (domain/asks/routing.ts), without a database. */
import { describe, expect, it } from "vitest";
import { mentionsIn, routeAsk, type AgentCard, type RouteContext } from "../../src/domain/asks/routing.js";
import { Invalid } from "../../src/errors.js";

const card = (id: string, takesTurns = true): AgentCard => ({ id, name: id, description: null, takesTurns });
const ctx = (over: Partial<RouteContext> = {}): RouteContext => ({
  group: [card("ops"), card("billing"), card("docs")],
  rank: async () => [],
  lastRoundRobin: undefined,
  max: 8,
  ...over,
});

describe("mentions", () => {
  it("finds @agent-id mentions, distinct, lower-cased, in order, and not inside email addresses", () => {
    expect(mentionsIn("@Ops, ask @billing. Then @ops again; mail erin@example.com or @docs-")).toEqual(["ops", "billing", "docs"]);
    expect(mentionsIn("no one")).toEqual([]);
  });
});

describe("routeAsk", () => {
  it("defaults to mentions when an agent of the roster is named, else to all", async () => {
    expect(await routeAsk({ content: "@docs and @ghost" }, ctx())).toEqual({ strategy: "mentions", agentIds: ["docs"], ignoredMentions: ["ghost"] });
    expect(await routeAsk({ content: "@ghost hello" }, ctx())).toEqual({ strategy: "all", agentIds: ["ops", "billing", "docs"], ignoredMentions: ["ghost"] });
  });

  it("narrows by agentIds in the group's order, and refuses agents outside the group", async () => {
    expect((await routeAsk({ content: "hi", agentIds: ["docs", "ops"] }, ctx())).agentIds).toEqual(["ops", "docs"]);
    await expect(routeAsk({ content: "hi", agentIds: ["ops", "ghost"] }, ctx())).rejects.toBeInstanceOf(Invalid);
  });

  it("leaves out agents whose server is INACTIVE, and says so when none is left", async () => {
    const group = [card("ops", false), card("billing")];
    expect((await routeAsk({ content: "hi" }, ctx({ group }))).agentIds).toEqual(["billing"]);
    await expect(routeAsk({ content: "hi", agentIds: ["ops"] }, ctx({ group }))).rejects.toThrow(/INACTIVE/);
  });

  it("matches the best-ranked agents (at least half the best score)", async () => {
    const rank = async () => [{ id: "billing", score: 0.4 }, { id: "docs", score: 0.25 }, { id: "ops", score: 0.1 }];
    expect((await routeAsk({ content: "refund", strategy: "match" }, ctx({ rank }))).agentIds).toEqual(["billing", "docs"]);
    await expect(routeAsk({ content: "zebra", strategy: "match" }, ctx())).rejects.toThrow(/matches the question/);
  });

  it("goes round the roster after the previous round_robin agent", async () => {
    const next = async (last?: string) => (await routeAsk({ content: "hi", strategy: "round_robin" }, ctx({ lastRoundRobin: last }))).agentIds;
    expect(await next()).toEqual(["ops"]);
    expect(await next("ops")).toEqual(["billing"]);
    expect(await next("docs")).toEqual(["ops"]);
    expect(await next("removed-agent")).toEqual(["ops"]);
  });

  it("refuses an ask routed to more agents than the cap", async () => {
    await expect(routeAsk({ content: "hi" }, ctx({ max: 2 }))).rejects.toThrow(/at most 2 may answer one ask/);
    expect((await routeAsk({ content: "hi", strategy: "first", agentIds: ["ops", "docs"] }, ctx({ max: 2 }))).agentIds).toEqual(["ops", "docs"]);
  });
});
