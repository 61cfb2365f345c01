/**
 * The turn runtime: what runs turns in this process once the use cases (domain/turns/service.ts)
 * have stored them. It hands each turn to the endpoint of its agent's protocol (`AgentEndpoint`,
 * given at construction), records the events that reach this process (recorder.ts), renews the
 * leases of the turns it records and fails turns whose process stopped (their lease lapsed),
 * cancels, and feeds readers (feed.ts). It is not domain/: it owns timers, in-process state and
 * the reach to agents; what a turn's end stores is still the domain's (domain/turns/ending.ts).
 */
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import { agents } from "../domain/agents/repository.js";
import type { TxDeps } from "../domain/events.js";
import type { MessageView, SessionMessages } from "../domain/sessions/messages.js";
import { messages, type Session } from "../domain/sessions/repository.js";
import type { TurnSnapshot } from "../domain/turns/events.js";
import { isActive, turns, type Turn } from "../domain/turns/repository.js";
import type { TurnEndHook, TurnFeedItem, TurnOutcome, TurnRunner } from "../domain/turns/runner.js";
import { protocolOf } from "../domain/agents/endpoint.js";
import type { ApprovalView } from "../domain/approvals/repository.js";
import type { Approvals } from "../domain/approvals/service.js";
import type { ApprovalRequest } from "../domain/turns/events.js";
import { ApprovalWaits } from "./approvals.js";
import type { AgentEndpoint, RunningTurn } from "./endpoint.js";
import { TurnFeed } from "./feed.js";
import type { TurnLog, TurnLogEntry } from "./log.js";
import { KEEP_LOG_MS, TurnRecorder, publishTurn, type FinishOptions } from "./recorder.js";

/** History a turn's agent is given. */
export const HISTORY_MESSAGES = 50;
/** At most this many cancels are remembered (each for as long as a finished turn's log is kept). */
const MAX_REMEMBERED_CANCELS = 10_000;
/** How often each process looks for approvals past their time. */
const APPROVAL_SWEEP_MS = 1000;

export interface TurnRuntimeDeps {
  tx: TxDeps;
  log: TurnLog;
  sessionMessages: SessionMessages;
  logger: Logger;
  limits: {
    /** The longest a whole turn may take, whoever runs it. */
    turnTimeoutMs: number;
    /** A running turn's lease, renewed every third of it by the process working on it. */
    leaseMs: number;
  };
  /** One endpoint per agent protocol: the agent's protocol picks the one that runs its turns. */
  endpoints: readonly AgentEndpoint[];
  /** What turns ask people (domain/approvals): stored, decided, expired. */
  approvals: Pick<Approvals, "request" | "expireDue">;
}

export class TurnRuntime implements TurnRunner {
  readonly feed: TurnFeed;
  private readonly recorder: TurnRecorder;
  private readonly endHooks: TurnEndHook[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** Local listeners of cancels (an HTTP call to abort). */
  private readonly cancelHandlers = new Map<string, () => void>();
  /** Cancels that reached this process (turn id -> when), oldest first, bounded. */
  private readonly cancels = new Map<string, number>();
  /** The time limit of each turn this process began; paused while the turn waits for people. */
  private readonly deadlines = new Map<string, NodeJS.Timeout | undefined>();
  private readonly waits = new ApprovalWaits();

  constructor(private readonly deps: TurnRuntimeDeps) {
    this.feed = new TurnFeed(deps.log);
    this.recorder = new TurnRecorder({
      tx: deps.tx,
      log: deps.log,
      feed: this.feed,
      sessionMessages: deps.sessionMessages,
      logger: deps.logger,
      endHooks: this.endHooks,
      wasCancelled: (turnId) => this.cancels.has(turnId),
      stop: (turn) => this.stop(turn),
      approvals: deps.approvals,
    });
  }

  /** Starts renewing leases and failing lapsed turns (once the hub is up); close() stops. */
  start(): void {
    const every = this.deps.limits.leaseMs / 3;
    const renew = setInterval(() => void this.renewLeases(), every);
    const sweep = setInterval(() => void this.failLapsed(), every);
    const expire = setInterval(() => void this.expireApprovals(), APPROVAL_SWEEP_MS);
    renew.unref();
    sweep.unref();
    expire.unref();
    this.timers.push(renew, sweep, expire);
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const t of this.deadlines.values()) clearTimeout(t);
    this.deadlines.clear();
  }

  /** Adds `hook` to those run in every turn's ending transaction (asks.ts), after those added before. */
  onEnd(hook: TurnEndHook): void {
    this.endHooks.push(hook);
  }

  /** After their transaction committed: announces the turns and hands each to its agent's endpoint, at once. */
  launch(started: Turn[], session: Session, trigger: MessageView, asker: Principal): void {
    for (const turn of started) {
      publishTurn(this.deps.tx, turn, session, "turn.started");
      void this.dispatch(turn, session, trigger, asker);
    }
  }

  /**
   * Ends an active turn as cancelled, here and now: its log is closed first, so the answer
   * stored is exactly what was logged before the cancel, on whichever process records it.
   * Then whoever runs it is told to stop (an HTTP call is aborted, a serving socket gets
   * `turn:cancel`). Should the end fail here (Postgres away), the process running the turn
   * ends it when the cancel reaches it, and the lease sweep after that.
   */
  async stop(turn: Turn): Promise<void> {
    if (!isActive(turn.status)) return;
    try {
      await this.deps.log.close(turn.id);
      await this.recorder.finish(turn.id, { status: "cancelled" });
    } finally {
      this.deps.tx.bus.publish({ type: "turn.cancel", workspaceId: turn.workspace_id, agentId: turn.agent_id, turnId: turn.id });
    }
  }

  /** One event from an agent, by turn id (a serving socket's, on whichever node it is connected): see TurnRecorder.record. */
  record(turnId: string, raw: unknown, from?: { workspaceId: string; agentId: string }): Promise<boolean> {
    return this.recorder.record(turnId, raw, from);
  }

  /** Ends a turn once, whichever process asks first. */
  finish(turnId: string, outcome: TurnOutcome, options?: FinishOptions): Promise<void> {
    return this.recorder.finish(turnId, outcome, options);
  }

  /**
   * An approval of a turn changed, on any process (the realtime router feeds every node's): a
   * wait here for its outcome ends, and the time limit of a turn begun here pauses while the turn
   * waits and starts afresh when it runs on.
   */
  approvalChanged(turnId: string, approval: ApprovalView): void {
    this.waits.settled(turnId, approval);
    if (!this.deadlines.has(turnId)) return;
    clearTimeout(this.deadlines.get(turnId));
    this.deadlines.set(turnId, approval.status === "pending" ? undefined : this.deadline(turnId));
  }

  /** Asks people on the turn's behalf and waits for their outcome (a cancel ends the wait with `signal`'s reason). */
  private async askPeople(turnId: string, request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalView> {
    const wait = this.waits.wait(turnId, request.approvalId, signal);
    // A cancel rejects `settled` before anyone awaits it; the caller hears it from askPeople.
    wait.settled.catch(() => {});
    const asked = await this.recorder.requestApproval(turnId, request).catch((err: unknown) => {
      wait.drop();
      throw err;
    });
    if (!asked) {
      wait.drop();
      throw new Error("the turn is over");
    }
    if (asked.status !== "pending") {
      wait.drop();
      return asked;
    }
    return wait.settled;
  }

  /**
   * A cancel of the turn reached this process (the realtime router hears every node's). It is
   * remembered for a while too: the agent's answer to it may reach this process before this
   * process has started recording the turn.
   */
  cancelRequested(turnId: string): void {
    const recorded = this.recorder.markCancelling(turnId);
    this.cancels.set(turnId, Date.now());
    for (const [id, at] of this.cancels) {
      if (this.cancels.size <= MAX_REMEMBERED_CANCELS && Date.now() - at < KEEP_LOG_MS) break;
      this.cancels.delete(id);
    }
    this.cancelHandlers.get(turnId)?.();
    // The canceller ended the turn before telling anyone: this ends it here only if that failed,
    // and stops this process recording (and renewing the lease of) a turn that is over.
    if (recorded) void this.recorder.finish(turnId, { status: "cancelled" });
  }

  /** A turn's event or end reached this process (the realtime router feeds every node's); an end drops its time limit here. */
  received(turnId: string, item: TurnFeedItem): void {
    if (item.kind === "ended" && this.deadlines.has(turnId)) {
      clearTimeout(this.deadlines.get(turnId));
      this.deadlines.delete(turnId);
    }
    this.feed.received(turnId, item);
  }

  listen(turnId: string, listener: (item: TurnFeedItem) => void): () => void {
    return this.feed.listen(turnId, listener);
  }

  eventsAfter(turnId: string, afterSeq: number, limit: number): Promise<TurnLogEntry[]> {
    return this.feed.eventsAfter(turnId, afterSeq, limit);
  }

  snapshot(turnId: string): Promise<{ seq: number; snapshot: TurnSnapshot }> {
    return this.feed.snapshot(turnId);
  }

  /** The turn is worked on by this process from now: it records its events, renews its lease, and bounds its time. */
  private async begin(turnId: string): Promise<Turn | undefined> {
    const { limits } = this.deps;
    const turn = await turns.markRunning(this.deps.tx.db, turnId, limits.leaseMs);
    if (!turn) return undefined;
    await this.recorder.track(turn);
    this.deadlines.set(turnId, this.deadline(turnId));
    return turn;
  }

  /** Fails the turn once it has run for the longest a turn may take (time waiting for people does not count). */
  private deadline(turnId: string): NodeJS.Timeout {
    const { turnTimeoutMs } = this.deps.limits;
    const limit = setTimeout(() => {
      // Paused, not forgotten: a turn that waits for people runs on with a fresh limit once they decide.
      this.deadlines.set(turnId, undefined);
      void this.finish(turnId, { status: "failed", error: `the turn took longer than ${turnTimeoutMs / 1000} s` }, { unlessWaiting: true })
        .then(() => turns.byId(this.deps.tx.db, turnId))
        .then((t) => t?.status !== "waiting" && this.deadlines.get(turnId) === undefined && this.deadlines.delete(turnId))
        .catch(() => undefined);
    }, turnTimeoutMs);
    limit.unref();
    return limit;
  }

  /** Runs `handler` when a cancel of the turn reaches this process (until the turn ends here). */
  private whenCancelled(turnId: string, handler: () => void): () => void {
    this.cancelHandlers.set(turnId, handler);
    return () => this.cancelHandlers.delete(turnId);
  }

  /** The turn as its endpoint reports on it. */
  private running(turnId: string): RunningTurn {
    return {
      id: turnId,
      begin: () => this.begin(turnId),
      record: (raw) => this.record(turnId, raw),
      finish: (outcome) => this.finish(turnId, outcome),
      whenCancelled: (handler) => this.whenCancelled(turnId, handler),
      askPeople: (request, signal) => this.askPeople(turnId, request, signal),
      hasEvents: async () => (await this.deps.log.read(turnId, 0, 1)).length > 0 || (await turns.byId(this.deps.tx.db, turnId))?.status === "waiting",
    };
  }

  private async dispatch(turn: Turn, session: Session, trigger: MessageView, asker: Principal): Promise<void> {
    const { db } = this.deps.tx;
    try {
      const agent = await agents.find(db, turn.workspace_id, turn.agent_id);
      const endpoint = agent && this.deps.endpoints.find((e) => e.protocol === protocolOf(agent));
      if (!agent || !endpoint) return void (await this.finish(turn.id, { status: "failed", error: agent ? `this hub does not run agents of protocol ${protocolOf(agent)}` : "the agent is gone" }));
      const before = Math.max(0, trigger.seq - 1 - HISTORY_MESSAGES);
      const history = await messages.after(db, session.id, before, Math.min(HISTORY_MESSAGES, trigger.seq - 1));
      void endpoint.run({ turn, agent, session, trigger, history, asker }, this.running(turn.id)).catch((err) => {
        this.deps.logger.error({ err, turn: turn.id, endpoint: endpoint.protocol }, "a turn's endpoint failed");
        void this.finish(turn.id, { status: "failed", error: "the hub could not run the turn" });
      });
    } catch (err) {
      this.deps.logger.error({ err, turn: turn.id }, "could not dispatch a turn");
      await this.finish(turn.id, { status: "failed", error: "the hub could not start the turn" });
    }
  }

  private async renewLeases(): Promise<void> {
    const { tx, limits, logger } = this.deps;
    for (const id of this.recorder.ids()) await turns.renew(tx.db, id, limits.leaseMs).catch((err) => logger.warn({ err, turn: id }, "could not renew a turn's lease"));
  }

  private async expireApprovals(): Promise<void> {
    try {
      while ((await this.deps.approvals.expireDue()) > 0);
    } catch (err) {
      this.deps.logger.warn({ err }, "could not expire approvals");
    }
  }

  /** Turns whose process stopped (lease lapsed) are failed here, keeping what their log holds. */
  private async failLapsed(): Promise<void> {
    try {
      for (const turn of await turns.lapsed(this.deps.tx.db, 100)) {
        if (this.recorder.isRecording(turn.id)) continue;
        await this.finish(turn.id, { status: "failed", error: "the hub process running this turn stopped" });
      }
    } catch (err) {
      this.deps.logger.warn({ err }, "could not look for lapsed turns");
    }
  }
}
