/**
 * A scriptable socket-mode agent for tests: connects with an agent key, emits `agent:serve`
 * (again after each reconnect), records every `turn:request` and `turn:cancel`, and answers
 * each turn as its script says: events (with optional delays), a disconnect before the first
 * event or after N, a malformed event, or nothing at all.
 *
 *   const agent = startSocketAgent(hub.url, key, { kind: "events", events: scriptedAnswer("Hello there") });
 *   await agent.served;
 *   … start a turn …
 *   await agent.until(() => agent.requests.length === 1, "a turn request");
 *   await agent.close();
 */
import { io, type Socket } from "socket.io-client";
import type { TurnRequest } from "../../src/realtime/protocol.js";
import { waiters } from "./waiters.js";

/** One event to send: the event itself (`{type, …}`), or `{event, delayMs}` to wait before sending it. */
export type ScriptStep = Record<string, unknown> | { event: unknown; delayMs?: number };

export type TurnScript =
  /** Sends the events in order (each after its delay), then stops. */
  | { kind: "events"; events: ScriptStep[]; onCancel?: CancelBehaviour }
  /** Sends the first `after` events (0: none), then disconnects the socket; `reconnect` connects and serves again. */
  | { kind: "disconnect"; after: number; events?: ScriptStep[]; reconnect?: boolean }
  /**
   * Sends the first `after` events (default 0), then one malformed `agent:event`, then the rest.
   * `event` is sent as `{turnId, event}` (default `{type: "content_delta", delta: 42}`); `payload`,
   * when given, is sent as the whole `agent:event` argument instead.
   */
  | { kind: "malformed"; after?: number; events?: ScriptStep[]; event?: unknown; payload?: unknown }
  /** Never answers (the hub's timeouts are under test). */
  | { kind: "silent" };

/**
 * What to do on `turn:cancel`: `end` (default) stops the script and sends `message_end
 * {finishReason: "cancelled"}` and `done`; `ignore` goes on with the script; `stop` stops it
 * and sends nothing.
 */
export type CancelBehaviour = "end" | "ignore" | "stop";

export interface SocketAgent {
  socket: Socket;
  /** Resolves when an `agent:serve` ack is `{ok: true}`; rejects on a refused connection or serve. */
  served: Promise<void>;
  /** Every `agent:serve` ack, in order (one per connect). */
  serveAcks: unknown[];
  /** Every `turn:request` payload received, in order. */
  requests: TurnRequest[];
  /** Every `turn:cancel` payload received, in order. */
  cancels: Array<{ turnId: string }>;
  /** Every `agent:event` argument sent, in order. */
  sent: unknown[];
  /** The `connect_error` messages seen. */
  connectErrors: string[];
  /** Resolves when `predicate` holds (checked on every received or sent event). */
  until(predicate: () => boolean, what?: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** How long a scripted disconnect waits after the last event sent, so the hub reads it first. */
export const DISCONNECT_GAP_MS = 100;

/** `script` is one script for every turn, or a function choosing it per turn (`index` from 0). */
export function startSocketAgent(
  url: string,
  key: string,
  script: TurnScript | ((request: TurnRequest, index: number) => TurnScript),
): SocketAgent {
  const socket = io(url, { path: "/socket.io", transports: ["websocket"], auth: { token: key }, forceNew: true, reconnection: false });
  const requests: TurnRequest[] = [];
  const cancels: Array<{ turnId: string }> = [];
  const sent: unknown[] = [];
  const serveAcks: unknown[] = [];
  const connectErrors: string[] = [];
  const waiting = waiters();
  const wake = () => waiting.wake();
  /** Turns still running their script: set to stop them. */
  const running = new Map<string, { stopped: boolean; onCancel: CancelBehaviour }>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  let resolveServed!: () => void;
  let rejectServed!: (err: Error) => void;
  const served = new Promise<void>((resolve, reject) => {
    resolveServed = resolve;
    rejectServed = reject;
  });
  served.catch(() => {}); // a test that never awaits it must not fail on an unhandled rejection

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const send = (payload: unknown) => {
    if (!socket.connected) return;
    sent.push(payload);
    socket.emit("agent:event", payload);
    wake();
  };

  socket.on("connect", () => {
    socket.timeout(10_000).emit("agent:serve", {}, (err: Error | null, ack: unknown) => {
      serveAcks.push(err ? { timeout: true } : ack);
      if (!err && (ack as { ok?: unknown } | undefined)?.ok === true) resolveServed();
      else rejectServed(new Error(`agent:serve refused: ${err ? err.message : JSON.stringify(ack)}`));
      wake();
    });
  });
  socket.on("connect_error", (err: Error) => {
    connectErrors.push(err.message);
    rejectServed(new Error(`connect_error: ${err.message}`));
    wake();
  });
  socket.on("disconnect", () => {
    for (const turn of running.values()) turn.stopped = true;
    running.clear();
    wake();
  });

  socket.on("turn:cancel", (payload: { turnId: string }) => {
    cancels.push(payload);
    const turn = running.get(payload?.turnId);
    if (turn && turn.onCancel !== "ignore") {
      turn.stopped = true;
      running.delete(payload.turnId);
      if (turn.onCancel === "end") {
        send({ turnId: payload.turnId, event: { type: "message_end", finishReason: "cancelled" } });
        send({ turnId: payload.turnId, event: { type: "done" } });
      }
    }
    wake();
  });

  socket.on("turn:request", (request: TurnRequest) => {
    const index = requests.length;
    requests.push(request);
    wake();
    const chosen = typeof script === "function" ? script(request, index) : script;
    void run(request.turnId, chosen);
  });

  async function run(turnId: string, s: TurnScript): Promise<void> {
    if (s.kind === "silent") return;
    const turn = { stopped: false, onCancel: s.kind === "events" ? (s.onCancel ?? "end") : ("end" as CancelBehaviour) };
    running.set(turnId, turn);
    const events = s.kind === "events" ? s.events : (s.events ?? scriptedAnswer("A partial answer that will not finish."));
    type Action = { kind: "send"; payload: unknown; delayMs: number } | { kind: "disconnect" };
    const actions: Action[] = events.map((step) => {
      const wrapped = step && typeof step === "object" && "event" in step && !("type" in step);
      const event = wrapped ? (step as { event: unknown }).event : step;
      const delayMs = wrapped ? ((step as { delayMs?: number }).delayMs ?? 0) : 0;
      return { kind: "send", payload: { turnId, event }, delayMs };
    });
    if (s.kind === "disconnect") actions.splice(Math.max(0, s.after), Infinity, { kind: "disconnect" });
    if (s.kind === "malformed") {
      const payload = "payload" in s ? s.payload : { turnId, event: s.event ?? { type: "content_delta", delta: 42 } };
      actions.splice(Math.max(0, s.after ?? 0), 0, { kind: "send", payload, delayMs: 0 });
    }
    for (const action of actions) {
      if (turn.stopped || closed) return;
      if (action.kind === "disconnect") {
        running.delete(turnId);
        // Socket.IO's server drops events read in the same tick as the disconnect packet
        // (it dispatches them on the next tick, to a socket no longer connected): let them land.
        await delay(DISCONNECT_GAP_MS);
        if (closed) return;
        socket.disconnect();
        if (s.kind === "disconnect" && s.reconnect) socket.connect();
        return;
      }
      if (action.delayMs > 0) await delay(action.delayMs);
      if (turn.stopped || closed) return;
      send(action.payload);
    }
    running.delete(turnId);
  }

  return {
    socket,
    served,
    serveAcks,
    requests,
    cancels,
    sent,
    connectErrors,
    until(predicate, what = "condition", timeoutMs = 10_000) {
      return waiting.until(predicate, what, timeoutMs, () => `socket agent: requests ${requests.length}, cancels ${cancels.length}, sent ${sent.length}`);
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const turn of running.values()) turn.stopped = true;
      running.clear();
      if (!socket.connected) {
        socket.disconnect();
        return;
      }
      await new Promise<void>((resolve) => {
        socket.once("disconnect", () => resolve());
        socket.disconnect();
      });
    },
  };
}

/**
 * A complete, valid answer: message_start, the text as content_delta chunks of `wordsPerChunk`
 * words (each after `delayMs`), content_end, message_end (stop, tokens counted as words), done.
 */
export function scriptedAnswer(text: string, options: { wordsPerChunk?: number; delayMs?: number; model?: string } = {}): ScriptStep[] {
  const per = Math.max(1, options.wordsPerChunk ?? 3);
  const tokens = text.match(/\s*\S+/g) ?? [];
  const steps: ScriptStep[] = [{ type: "message_start", role: "assistant", model: options.model ?? "test-agent" }];
  for (let i = 0; i < tokens.length; i += per) {
    const event = { type: "content_delta", delta: tokens.slice(i, i + per).join("") };
    steps.push(options.delayMs ? { event, delayMs: options.delayMs } : event);
  }
  const outputTokens = tokens.length;
  steps.push(
    { type: "content_end" },
    { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 0, outputTokens, totalTokens: outputTokens } },
    { type: "done" },
  );
  return steps;
}
