/**
 * The turn runtime (src/turns/runtime.ts) with an agent protocol of the test's own: one
 * `AgentEndpoint` is all a protocol needs to run turns end to end; the endpoint of the agent's
 * protocol runs its turns; every end-of-turn hook runs, in the order added.
 * The runtime is built here beside the hub's, over the hub's Postgres and event bus.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { TurnView } from "../../src/domain/turns/repository.js";
import { Turns } from "../../src/domain/turns/service.js";
import type { AgentEndpoint } from "../../src/turns/endpoint.js";
import { memoryTurnLog } from "../../src/turns/log.js";
import { Approvals } from "../../src/domain/approvals/service.js";
import { TurnRuntime } from "../../src/turns/runtime.js";
import { api } from "../support/api.js";
import { makeAgent, makeSession, uniq } from "../support/factories.js";
import { useHub } from "../support/hub.js";
import { masterOf } from "../support/principals.js";

const hub = useHub();
const LIMITS = { turnTimeoutMs: 20_000, leaseMs: 30_000 };

/** A protocol in a few lines: answers "echo: <message>" for agents with no endpoint (socket agents). */
const echo: AgentEndpoint = {
  protocol: "socket",
  async run(context, turn) {
    if (!(await turn.begin())) return;
    const events = [
      { type: "message_start", model: "echo" },
      { type: "content_delta", delta: `echo: ${String(context.trigger.content)}` },
      { type: "message_end", finishReason: "stop" },
      { type: "done" },
    ];
    for (const event of events) if (!(await turn.record(event))) return;
  },
};

function runtimeWith(endpoints: AgentEndpoint[]) {
  const tx = { db: hub.db, bus: hub.bus };
  const { sessionMessages } = hub.services;
  const runtime = new TurnRuntime({ tx, log: memoryTurnLog(), sessionMessages, logger: pino({ level: "silent" }), limits: LIMITS, endpoints, approvals: new Approvals(tx, LIMITS) });
  return { runtime, turns: new Turns(tx, sessionMessages, runtime, LIMITS) };
}

/** Starts a turn on a new session of a new agent named `name`; resolves with the turn once it ended. */
async function runTurn(turns: Turns, name: string, content = "hello"): Promise<{ ended: TurnView; sessionId: string }> {
  const master = api(hub.url, hub.ws.masterKey);
  const agentId = await makeAgent(master, uniq("agent"), name);
  const session = await makeSession(master, agentId);
  let turnId: string | undefined;
  const seen: TurnView[] = [];
  let wake: (() => void) | undefined;
  const stop = hub.bus.subscribe((e) => {
    if (e.type !== "turn.ended") return;
    seen.push(e.turn as TurnView);
    wake?.();
  });
  try {
    const started = await turns.start(masterOf(hub.ws.id), agentId, session.id, { content });
    turnId = started.turn.id;
    const mine = () => seen.find((t) => t.id === turnId);
    while (!mine()) await new Promise<void>((resolve) => (wake = resolve));
    return { ended: mine()!, sessionId: session.id };
  } finally {
    stop();
  }
}

describe("the turn runtime", () => {
  it("runs a turn end to end through an endpoint of the test's own, storing the answer", async () => {
    const { turns } = runtimeWith([echo]);
    const { ended, sessionId } = await runTurn(turns, "Echo", "hi there");
    expect(ended.status).toBe("completed");
    const read = await turns.get(masterOf(hub.ws.id), undefined, sessionId, ended.id);
    expect(read.snapshot.content).toBe("echo: hi there");
    expect(read.seq).toBe(4); // three events and the closing done
    const stored = await hub.services.sessionMessages.after(sessionId, 1, 10);
    expect(stored).toEqual([expect.objectContaining({ id: ended.message_id, role: "assistant", content: "echo: hi there" })]);
  });

  it("hands a turn to the endpoint of its agent's protocol; a protocol the hub does not run fails the turn", async () => {
    const never: AgentEndpoint = { protocol: "a2a", run: () => Promise.reject(new Error("not this one")) };
    expect((await runTurn(runtimeWith([never, echo]).turns, "Echo")).ended.status).toBe("completed");
    const { ended } = await runTurn(runtimeWith([never]).turns, "Echo");
    expect(ended).toMatchObject({ status: "failed", error: "this hub does not run agents of protocol socket" });
  });

  it("fails a turn whose endpoint throws, with a reason the asker can read", async () => {
    const broken: AgentEndpoint = { protocol: "socket", run: () => Promise.reject(new Error("boom")) };
    const { ended } = await runTurn(runtimeWith([broken]).turns, "Echo");
    expect(ended).toMatchObject({ status: "failed", error: "the hub could not run the turn" });
  });

  it("runs every end-of-turn hook in the turn's ending transaction, in the order they were added", async () => {
    const { runtime, turns } = runtimeWith([echo]);
    const calls: string[] = [];
    runtime.onEnd(async (trx, _emit, ended) => {
      const row = await trx("turns").where({ id: ended.id }).first("status");
      calls.push(`first ${ended.id} ${row.status}`);
    });
    turns.onEnd(async (_trx, _emit, ended) => void calls.push(`second ${ended.id}`));
    const { ended } = await runTurn(turns, "Echo");
    expect(calls).toEqual([`first ${ended.id} completed`, `second ${ended.id}`]);
  });
});
