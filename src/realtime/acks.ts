/**
 * Answers a client event's ack: the handler's result, or its error as the same problem body
 * REST answers with (`{ok: false, error}`). An unexpected error is logged, never sent.
 */
import type { Logger } from "pino";
import { AppError } from "../errors.js";
import { toProblem } from "../problem.js";
import type { WatchResult } from "./delivery.js";

type Ack = (response: unknown) => void;

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
