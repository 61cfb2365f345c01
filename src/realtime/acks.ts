/**
 * Answers a client event's ack: the handler's result, or its error as the same problem body
 * REST answers with (`{ok: false, error}`). An unexpected error is logged, never sent.
 */
import type { Logger } from "pino";
import { AppError } from "../errors.js";
import { toProblem } from "../problem.js";
import type { WatchResult } from "./delivery.js";

type Ack = (response: unknown) => void;

/**
 * A client event's arguments as (payload, ack): Socket.IO puts the ack last, whatever the
 * client sent before it (nothing, one payload, or several).
 */
export function payloadAndAck(args: unknown[]): { payload: unknown; ack: unknown } {
  const last = args[args.length - 1];
  return typeof last === "function" ? { payload: args.length > 1 ? args[0] : undefined, ack: last } : { payload: args[0], ack: undefined };
}

export function answer(ack: unknown, log: Logger, work: () => Promise<object | WatchResult>): void {
  const reply: Ack = typeof ack === "function" ? (ack as Ack) : () => {};
  work().then(
    (res) => {
      if ("after" in res && "ack" in res) {
        reply(res.ack);
        res.after();
      } else reply(res);
    },
    (err) => {
      if (!(err instanceof AppError)) log.error({ err }, "socket handler failed");
      reply({ ok: false, error: toProblem(err, 0).problem });
    },
  );
}
