/**
 * Reads an agent server's answer: SSE parsed by eventsource-parser, each event's data a JSON
 * object whose `type` is the SSE event name, until `done`. Bounded in bytes (per event and per
 * stream) and in silence (comments count as life); the time the consumer takes is not counted
 * as the agent's silence.
 */
import type { IncomingMessage } from "node:http";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { AgentCallError, type Call } from "./agent-call.js";

/** One SSE event: its data object with `type` set from the SSE event name. */
export type HttpAgentEvent = { type: string } & Record<string, unknown>;

export interface StreamLimits {
  /** Longest silence between events. */
  idleMs: number;
  /** One SSE event's data, in bytes. */
  maxEventBytes: number;
  /** The whole answer, in bytes. */
  maxStreamBytes: number;
}

/** The answer's events, until `done`; throws AgentCallError, or the call's failure once it was cut. */
export async function* readEvents(call: Call, res: IncomingMessage, limits: StreamLimits): AsyncGenerator<HttpAgentEvent, void, undefined> {
  const { idleMs, maxEventBytes, maxStreamBytes } = limits;
  const tooLarge = () => new AgentCallError(`an event larger than ${maxEventBytes} bytes`, false);
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => call.cut(new AgentCallError(`no event for ${idleMs} ms`, !call.sawBody)), idleMs);
  };

  const messages: EventSourceMessage[] = [];
  let lively = false; // an event or a comment (keep-alive) arrived in this chunk
  let parseFailure: AgentCallError | undefined;
  const parser = createParser({
    onEvent: (m) => {
      messages.push(m);
      lively = true;
    },
    onComment: () => {
      lively = true;
    },
    // Bounds what the parser buffers for one unfinished event (characters <= bytes in UTF-8);
    // the exact byte bound is checked per event below.
    maxBufferSize: maxEventBytes + 1024,
    onError: (e) => {
      if (e.type === "max-buffer-size-exceeded") parseFailure ??= tooLarge();
      // unknown fields and bad retry values are ignored, as the SSE spec says
    },
  });
  const decoder = new TextDecoder(); // stream mode: a UTF-8 character split across chunks survives
  let bytes = 0;

  armIdle();
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      // A cut (abort, timeout) is final even if the response still holds buffered bytes.
      if (call.failure) throw call.failure;
      call.sawBody = true;
      bytes += chunk.length;
      if (bytes > maxStreamBytes) throw new AgentCallError(`a stream longer than ${maxStreamBytes} bytes`, false);
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (parseFailure) throw parseFailure;
      if (!lively) continue;
      lively = false;
      clearTimeout(idle); // the time the consumer takes is not the agent's silence
      for (const m of messages.splice(0)) {
        const event = toEvent(m, maxEventBytes, tooLarge);
        yield event;
        if (call.failure) throw call.failure; // cut while the consumer held the event
        if (event.type === "done") return;
      }
      armIdle();
    }
  } catch (err) {
    throw call.failure ?? streamFailure(err, call.sawBody);
  } finally {
    clearTimeout(idle);
  }
  if (call.failure) throw call.failure;
  throw new AgentCallError("the agent server's stream ended before done", !call.sawBody);
}

function toEvent(m: EventSourceMessage, maxEventBytes: number, tooLarge: () => AgentCallError): HttpAgentEvent {
  if (Buffer.byteLength(m.data) > maxEventBytes) throw tooLarge();
  const name = (m.event ?? "untyped").slice(0, 50);
  let data: unknown = {};
  if (m.data.trim() !== "") {
    try {
      data = JSON.parse(m.data);
    } catch {
      throw new AgentCallError(`a malformed ${name} event (its data is not JSON)`, false);
    }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new AgentCallError(`a malformed ${name} event (its data is not a JSON object)`, false);
  }
  const fields = data as Record<string, unknown>;
  // The SDK names the event only in `event:`; without one, a `type` in the data is kept.
  const type = m.event ?? (typeof fields.type === "string" ? fields.type : "message");
  return { ...fields, type };
}

function streamFailure(err: unknown, sawBody: boolean): AgentCallError {
  if (err instanceof AgentCallError) return err;
  const e = err as NodeJS.ErrnoException;
  return new AgentCallError(`the agent server's stream broke (${e?.code ?? e?.message ?? String(err)})`, !sawBody);
}
