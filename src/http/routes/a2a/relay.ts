/**
 * A turn's events, as the SDK's execution event bus carries them: each `content_delta` is an
 * append to the one text artifact, the turn's end is the task's last status. The events come
 * from the turn log (every process's) after a read point, then from this process's feed; seqs
 * drop the overlap, so each chunk is published once and in order, on whichever node reads.
 *
 * Buses: a send runs on a bus of its own request (`TrackedBus`); a resubscribe or a cancel of a
 * turn gets a `FeedBus`, which relays the turn from the point the task store read it at, so
 * any node can follow a task any other node started.
 */
import { NotFound } from "../../../errors.js";
import { AgentEvent, DefaultExecutionEventBus, type ExecutionEventBus, type ExecutionEventBusManager, type ServerCallContext } from "@a2a-js/sdk/server";
import type { TurnFeedItem, Turns } from "../../../domain/turns/service.js";
import type { TurnView } from "../../../domain/turns/repository.js";
import type { Principal } from "../../../auth/principal.js";
import { answerArtifact, isTerminal, principalOf, readPoint, stateOf, statusOf, type ReadPoint, type TurnPoint } from "./tasks.js";

/** Every event a turn can have, read from the log at once. */
const LOG_READ_LIMIT = 100_000;
/** A relay re-reads the turn this often, in case its end reached no listener of this process. */
const RECHECK_MS = 5_000;

/** What a relay needs of the hub: the turn's log, feed and state. */
export interface TurnSource {
  turns: Pick<Turns, "listen" | "eventsAfter">;
  /** The turn now (its status), as the caller may read it; `contextId` is its session. */
  current(principal: Principal, turnId: string, contextId: string): Promise<TurnView>;
}

/**
 * Follows a task from a read point on a bus until it ends (publishing its last status) or its
 * reader leaves (`stop`). An agent's task follows one turn; a group's, each turn of the ask.
 */
export type Follow = (principal: Principal, taskId: string, at: ReadPoint, bus: ExecutionEventBus, stop: Promise<void>) => Promise<void>;

/** A bus that knows whether anyone still listens, so a relay stops when its reader has gone. */
export class TrackedBus extends DefaultExecutionEventBus {
  /** Who started or follows the task: a cancel of the task acts as them. */
  principal: Principal | undefined;
  private listening = 0;
  private readonly whenIdle = new Set<() => void>();

  onIdle(fn: () => void): () => void {
    this.whenIdle.add(fn);
    return () => this.whenIdle.delete(fn);
  }

  override on(eventName: "event" | "finished", listener: (...args: never[]) => void): this {
    if (eventName === "event") this.listening++;
    return super.on(eventName as "event", listener as never);
  }

  override off(eventName: "event" | "finished", listener: (...args: never[]) => void): this {
    super.off(eventName as "event", listener as never);
    if (eventName === "event" && --this.listening <= 0) for (const fn of [...this.whenIdle]) fn();
    return this;
  }
}

/**
 * Publishes one turn's chunks after `point.seq` on `bus` as appends to `point.artifactId` of task
 * `taskId`; `working` runs at its first event. Answers the turn once it has ended, or undefined
 * when the reader left first (`stop`). The turn goes on either way.
 */
export async function relayTurn(
  source: TurnSource,
  principal: Principal,
  task: { taskId: string; contextId: string; working: () => void },
  point: TurnPoint,
  bus: ExecutionEventBus,
  stop: Promise<void>,
): Promise<TurnView | undefined> {
  const { taskId, contextId } = task;
  const turnId = point.turnId;
  let last = point.seq;
  let hasText = point.hasText;
  const queue: TurnFeedItem[] = [];
  let wake: (() => void) | undefined;
  let stopped = false;
  void stop.then(() => {
    stopped = true;
    wake?.();
  });
  const unlisten = source.turns.listen(turnId, (item) => {
    queue.push(item);
    wake?.();
  });
  const deliver = (seq: number, event: { type?: string; delta?: unknown }) => {
    if (seq <= last) return;
    last = seq;
    task.working();
    if (event.type !== "content_delta" || typeof event.delta !== "string" || !event.delta) return;
    const artifact = answerArtifact(event.delta, point.artifactId);
    bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact, append: hasText, lastChunk: false, metadata: undefined }));
    hasText = true;
  };
  const catchUp = async () => {
    for (const e of await source.turns.eventsAfter(turnId, last, LOG_READ_LIMIT)) deliver(e.seq, e.event as { type?: string });
  };
  const ended = async (turn: TurnView) => {
    await catchUp();
    return turn;
  };
  try {
    await catchUp();
    let turn = await source.current(principal, turnId, contextId);
    if (isTerminal(stateOf(turn.status))) return await ended(turn);
    while (!stopped) {
      const item = queue.shift();
      if (item?.kind === "event") deliver(item.seq, item.event as { type?: string });
      else if (item?.kind === "ended") return await ended(item.turn);
      else {
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), RECHECK_MS);
          wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        wake = undefined;
        if (!timedOut || stopped) continue;
        await catchUp();
        turn = await source.current(principal, turnId, contextId);
        if (isTerminal(stateOf(turn.status))) return await ended(turn);
      }
    }
    return undefined;
  } finally {
    unlisten();
  }
}

/** Publishes the task's `working` status once, at the first event of any of its turns. */
export function workingOnce(bus: ExecutionEventBus, taskId: string, contextId: string): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: stateOf("running"), message: undefined, timestamp: new Date().toISOString() }, metadata: undefined }));
  };
}

/** An agent's task: its one turn, then the turn's end as the task's last status. */
export function followTurn(source: TurnSource): Follow {
  return async (principal, taskId, at, bus, stop) => {
    const task = { taskId, contextId: at.contextId, working: workingOnce(bus, taskId, at.contextId) };
    const ended = await relayTurn(source, principal, task, at.turns[0]!, bus, stop);
    if (ended) bus.publish(AgentEvent.statusUpdate({ taskId, contextId: at.contextId, status: statusOf(ended), metadata: undefined }));
  };
}

/** A bus that follows a task (resubscribe, cancel): it relays from where the task store read it. */
class FeedBus extends TrackedBus {
  private started = false;

  constructor(
    private readonly follow: Follow,
    principal: Principal,
    private readonly taskId: string,
    private readonly at: Promise<ReadPoint>,
  ) {
    super();
    this.principal = principal;
  }

  override on(eventName: "event" | "finished", listener: (...args: never[]) => void): this {
    super.on(eventName, listener);
    if (eventName === "event" && !this.started) {
      this.started = true;
      const left = new Promise<void>((resolve) => this.onIdle(resolve));
      void Promise.race([this.at, left])
        .then((at) => (at ? this.follow(this.principal!, this.taskId, at, this, left) : undefined))
        .catch(() => undefined)
        .finally(() => this.finished());
    }
    return this;
  }
}

/**
 * The SDK's bus manager for one request: sends get a tracked bus of their own; a turn's id
 * (resubscribe, cancel) gets a bus that follows the turn from the feed, on any node.
 */
export class TurnBuses implements ExecutionEventBusManager {
  private readonly buses = new Map<string, TrackedBus>();

  constructor(
    private readonly follow: Follow,
    private readonly isTaskId: (id: string) => boolean,
  ) {}

  createOrGetByTaskId(taskId: string): ExecutionEventBus {
    let bus = this.buses.get(taskId);
    if (!bus) this.buses.set(taskId, (bus = new TrackedBus()));
    return bus;
  }

  getByTaskId(taskId: string, context?: ServerCallContext): ExecutionEventBus | undefined {
    if (!context || !this.isTaskId(taskId)) return this.buses.get(taskId);
    return new FeedBus(this.follow, principalOf(context), taskId, readPoint(context, taskId).promise);
  }

  cleanupByTaskId(taskId: string): void {
    this.buses.get(taskId)?.removeAllListeners();
    this.buses.delete(taskId);
  }
}

/** Resolves when nobody listens to the task's bus any more (a TrackedBus; never for another bus). */
export function whenUnwatched(bus: ExecutionEventBus): Promise<void> {
  return bus instanceof TrackedBus ? new Promise<void>((resolve) => bus.onIdle(resolve)) : new Promise<void>(() => undefined);
}

/** A new session's (or conversation's) title: the first words of the message. */
export const titleOf = (content: string) => content.trim().slice(0, 80);

/**
 * Starts the work in the session `contextId` names when the caller may use it there (a session id
 * they may not use is taken as no context); otherwise in a new one that `create` makes.
 */
export async function inContextOrNew<T>(contextId: string, start: (sessionId: string) => Promise<T>, create: () => Promise<{ id: string }>): Promise<T> {
  if (contextId.startsWith("ses_")) {
    try {
      return await start(contextId);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
  }
  return start((await create()).id);
}

/** Who a task's bus acts for (set when the task started or was followed on this node). */
export const busPrincipal = (bus: ExecutionEventBus): Principal | undefined => (bus instanceof TrackedBus ? bus.principal : undefined);
