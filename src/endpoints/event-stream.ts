/**
 * Reads the answer of an agent called through the guarded fetch (guarded-fetch.ts) for the
 * protocols whose answer is one HTTP response: an SSE event stream (AG-UI, ADK's `/run_sse`) or
 * one JSON body. The guarded fetch already bounds the whole body in bytes and the silence between
 * chunks; here each event is bounded in bytes and the stream in events, and what is not JSON is
 * refused with a reason fit to show as the turn's error.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** A malformed, oversized or unusable answer: the reason is shown as the turn's error. */
export class AgentAnswerError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "AgentAnswerError";
  }
}

export interface EventStreamLimits {
  /** One event's data, in bytes. */
  maxEventBytes: number;
  /** Events in one answer (comments not counted). */
  maxEvents: number;
}

/** Each SSE event's data parsed as JSON, in order; throws AgentAnswerError, or the body's own failure (an abort, the byte bound). */
export async function* sseJson(body: ReadableStream<Uint8Array>, limits: EventStreamLimits): AsyncGenerator<unknown, void, undefined> {
  const pending: EventSourceMessage[] = [];
  let failure: AgentAnswerError | undefined;
  const parser = createParser({
    onEvent: (m) => void pending.push(m),
    // Bounds what the parser holds of one unfinished event (characters <= bytes in UTF-8).
    maxBufferSize: limits.maxEventBytes + 1024,
    onError: (e) => {
      if (e.type === "max-buffer-size-exceeded") failure ??= new AgentAnswerError(`the agent sent an event larger than ${limits.maxEventBytes} bytes`);
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let count = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure) throw failure;
      for (const m of pending.splice(0)) {
        if (++count > limits.maxEvents) throw new AgentAnswerError(`the agent sent more than ${limits.maxEvents} events`);
        if (Buffer.byteLength(m.data) > limits.maxEventBytes) throw new AgentAnswerError(`the agent sent an event larger than ${limits.maxEventBytes} bytes`);
        if (m.data.trim() === "") continue;
        yield parseJson(m.data, "an event whose data is not JSON");
      }
    }
  } finally {
    // Stops the body (and so the connection) however the reading ended: a consumer that
    // returned early, a failure, or the end.
    await reader.cancel().catch(() => {});
  }
}

/** The whole body as JSON, at most `maxBytes`. */
export async function readJson(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<unknown> {
  if (!body) throw new AgentAnswerError("the agent answered JSON without a body");
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw new AgentAnswerError(`the agent answered more than ${maxBytes} bytes of JSON`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return parseJson(Buffer.concat(chunks).toString("utf8"), "a body that is not JSON");
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AgentAnswerError(`the agent sent ${what}`);
  }
}

/** Up to `chars` of a refused answer's body, on one line, read briefly and at most 4 KiB. */
export async function excerpt(res: Response, chars = 300): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < 4096) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // what arrived is enough
  } finally {
    await reader.cancel().catch(() => {});
  }
  const text = Buffer.concat(chunks).subarray(0, 4096).toString("utf8").replace(/\s+/g, " ").trim();
  return text.length > chars ? `${text.slice(0, chars)}…` : text;
}
