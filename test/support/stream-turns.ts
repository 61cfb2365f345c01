/**
 * For the protocol stream tests (test/protocols/hub-agui, hub-ui-message): a socket agent whose
 * slow scripted turn has thinking, a tool call and a streamed answer, and a fetch that passes
 * an answer through unchanged while noting the SSE `id:` of every complete event (what a
 * client would send back as `Last-Event-ID`), and can cut the connection after N events.
 */
import type { ScriptStep } from "./socket-agent.js";

export const ANSWER = "The logs show a spike at noon, caused by the nightly batch job running late on node seven.";

/** thinking, a tool call and its result, then ANSWER in one-word deltas `delayMs` apart. */
export function richAnswer(delayMs = 40): ScriptStep[] {
  const words = ANSWER.match(/\s*\S+/g) ?? [];
  return [
    { type: "message_start", role: "assistant", model: "test-agent" },
    { type: "thinking_start", thinkingId: "th1", title: "Reading the logs" },
    { type: "thinking_delta", thinkingId: "th1", delta: "Look at noon." },
    { type: "thinking_end", thinkingId: "th1", status: "completed", durationMs: 3 },
    { type: "tool_call_start", toolCallId: "call-1", name: "search_logs", input: { q: "noon" } },
    { type: "tool_call_end", toolCallId: "call-1", output: { hits: 3 }, durationMs: 2 },
    ...words.map((delta) => ({ event: { type: "content_delta", delta }, delayMs })),
    { type: "content_end" },
    { type: "message_end", finishReason: "stop", tokenUsage: { inputTokens: 1, outputTokens: words.length, totalTokens: words.length + 1 } },
    { type: "done" },
  ];
}

/**
 * A fetch that notes each complete SSE event's `id:` in `ids` and passes the answer on whole
 * events at a time. With `cutAfter`, once that many events with an id went through, it cuts the
 * connection (the request is aborted; the client's stream just stops): the client
 * then has exactly the events up to `ids.at(-1)`.
 */
export function idRecordingFetch(ids: string[], cutAfter?: number): typeof fetch {
  return async (input, init) => {
    const abort = new AbortController();
    init?.signal?.addEventListener("abort", () => abort.abort(init.signal?.reason));
    const res = await fetch(input, { ...init, signal: abort.signal });
    if (!res.body || !(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) return res;
    let text = "";
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let seen = 0;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          text += decoder.decode(chunk, { stream: true });
          const events = text.split("\n\n");
          text = events.pop() ?? "";
          for (const e of events) {
            controller.enqueue(encoder.encode(`${e}\n\n`));
            const id = /(?:^|\n)id: (.*)/.exec(e)?.[1];
            if (!id) continue;
            ids.push(id);
            if (cutAfter !== undefined && ++seen >= cutAfter) {
              // What was passed on reaches the client; then the stream ends as a dropped connection's would.
              controller.terminate();
              abort.abort();
              return;
            }
          }
        },
      }),
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
