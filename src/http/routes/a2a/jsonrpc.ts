/**
 * One JSON-RPC call of A2A, answered by the SDK's own transport handlers (protocol 1.0, or the
 * v0.3 compat layer when the request's `A2A-Version` says so or is absent, as the SDK's express
 * handler decides) over a DefaultRequestHandler made for the called agent: the SDK does the
 * JSON-RPC, its errors and its task lifecycle; the hub gives it the card, the executor, a task
 * store over turns and a bus manager that follows turns on any node. Streams are written as the
 * SDK writes them (`data: <JSON-RPC response>`), bounded: a reader that lets more than
 * `maxBufferedBytes` pile up is cut (the turn goes on; it can resubscribe).
 */
import { PassThrough } from "node:stream";
import type { Context } from "koa";
import type { AgentCard } from "@a2a-js/sdk";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { DefaultRequestHandler, JsonRpcTransportHandler, ServerCallContext, validateVersion, type AgentExecutor, type ExecutionEventBusManager, type TaskStore } from "@a2a-js/sdk/server";
import type { Principal } from "../../../auth/principal.js";
import { isLegacyVersion } from "./card.js";
import { HubUser } from "./tasks.js";

/** Hooks for the protocol stream metrics (observability/metrics.ts). */
export interface StreamHooks {
  opened(): void;
  closed(): void;
  slowReader(): void;
}

export interface RpcParts {
  card: AgentCard;
  store: TaskStore;
  executor: AgentExecutor;
  buses: ExecutionEventBusManager;
}

type RpcAnswer = { jsonrpc: string; id: string | number | null; result?: unknown; error?: unknown };

/** Comment lines keep proxies from closing a quiet stream (SSE readers skip them). */
const KEEP_ALIVE_MS = 15_000;

export async function answerJsonRpc(ctx: Context, principal: Principal, parts: RpcParts, limits: { maxBufferedBytes: number; hooks: StreamHooks | undefined }): Promise<void> {
  const header = ctx.get("A2A-Version") || undefined;
  const legacy = isLegacyVersion(header);
  const mapError = legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError : JsonRpcTransportHandler.mapToJSONRPCError;
  const body = (ctx.request as { body?: unknown }).body;
  const id = (body as { id?: string | number } | undefined)?.id ?? null;
  const context = new ServerCallContext({ user: new HubUser(principal), requestedVersion: header, state: new Map<string, unknown>([["headers", ctx.headers]]) });
  let answer: RpcAnswer | AsyncGenerator<RpcAnswer, void, undefined>;
  try {
    validateVersion(context.requestedVersion, parts.card, "JSONRPC");
    const handler = new DefaultRequestHandler(parts.card, parts.store, parts.executor, parts.buses);
    const transport = legacy ? new LegacyJsonRpcTransportHandler(handler) : new JsonRpcTransportHandler(handler);
    answer = (await transport.handle((body ?? "") as Record<string, unknown>, context)) as typeof answer;
  } catch (err) {
    ctx.status = 200;
    ctx.body = { jsonrpc: "2.0", id, error: mapError(err) };
    return;
  }
  if (!(Symbol.asyncIterator in (answer as object))) {
    ctx.status = 200;
    ctx.body = answer;
    return;
  }
  await writeStream(ctx, answer as AsyncGenerator<RpcAnswer, void, undefined>, { id, mapError, ...limits });
}

async function writeStream(
  ctx: Context,
  events: AsyncGenerator<RpcAnswer, void, undefined>,
  o: { id: string | number | null; mapError: (err: unknown) => unknown; maxBufferedBytes: number; hooks: StreamHooks | undefined },
): Promise<void> {
  let first: IteratorResult<RpcAnswer, void>;
  try {
    first = await events.next();
  } catch (err) {
    ctx.status = 200;
    ctx.body = { jsonrpc: "2.0", id: o.id, error: o.mapError(err) };
    return;
  }
  const stream = new PassThrough();
  let closed = false;
  const keepAlive = setInterval(() => !closed && stream.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    void events.return(undefined).catch(() => undefined);
    stream.end();
    o.hooks?.closed();
  };
  const write = (text: string): boolean => {
    if (closed) return false;
    // What the reader has not taken yet: both sides of the PassThrough (Koa pipes it into the response).
    if (stream.writableLength + stream.readableLength > o.maxBufferedBytes) {
      o.hooks?.slowReader();
      close();
      return false;
    }
    stream.write(text);
    return true;
  };
  o.hooks?.opened();
  ctx.req.on("close", close);
  ctx.status = 200;
  ctx.set({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
  ctx.body = stream;
  void (async () => {
    try {
      if (!first.done && !write(`data: ${JSON.stringify(first.value)}\n\n`)) return;
      for (;;) {
        const next = await events.next();
        if (next.done || !write(`data: ${JSON.stringify(next.value)}\n\n`)) return;
      }
    } catch (err) {
      write(`event: error\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: o.id, error: o.mapError(err) })}\n\n`);
    } finally {
      close();
    }
  })();
}
