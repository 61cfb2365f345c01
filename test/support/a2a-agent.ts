/**
 * A2A agents for tests, built with the official `@a2a-js/sdk` server (DefaultRequestHandler,
 * express handlers) on 127.0.0.1:0: each turn runs a script against small helpers that publish
 * the SDK's events. It records every call (the message, the request headers and raw body) and
 * every cancel it receives. `startHostileA2a` serves a genuine card whose JSON-RPC endpoint
 * answers whatever the test writes (a hostile agent cannot be built with the library).
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";
import { AGENT_CARD_PATH, Role, TaskState, type AgentCard, type Message, type Part, type Task } from "@a2a-js/sdk";
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type ExecutionEventBus } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import { waiters } from "./waiters.js";

export interface A2aCall {
  text: string;
  messageId: string;
  contextId: string;
  /** The task the message continues, as the client sent it ("" for a new one). */
  taskId: string;
  /** The task this call runs. */
  runs: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The message's parts as the agent received them (data parts carry an approval's outcome). */
  parts: Part[];
}

/** What a script does on one call. */
export interface A2aTurn {
  call: A2aCall;
  /** Publishes the task (required first, unless the answer is a Message). */
  start(): void;
  status(state: TaskState, text?: string): void;
  /** A status update whose message has these parts (an approval request is a data part). */
  statusParts(state: TaskState, parts: Part[]): void;
  artifact(text: string, options?: { append?: boolean; lastChunk?: boolean; artifactId?: string; parts?: Part[] }): void;
  /** Answers with a Message instead of a task. */
  reply(text: string): void;
  /** Resolves when the agent receives a cancel of this call's task. */
  cancelled: Promise<void>;
}

export type A2aScript = (turn: A2aTurn) => Promise<void> | void;

export interface A2aAgent {
  url: string;
  calls: A2aCall[];
  /** Task ids whose cancel the executor received. */
  cancels: string[];
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const text = (value: string): Part => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" });

/** A data part (structured JSON). */
export const data = (value: unknown): Part => ({ content: { $case: "data", value }, metadata: undefined, filename: "", mediaType: "application/json" });

function agentMessage(value: string | Part[], contextId: string, taskId = ""): Message {
  const parts = typeof value === "string" ? [text(value)] : value;
  return { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts, metadata: undefined, extensions: [], referenceTaskIds: [] };
}

function card(name: string, url: string, streaming: boolean): AgentCard {
  return {
    name,
    description: "A test agent",
    supportedInterfaces: [{ url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: undefined,
    version: "1.0.0",
    capabilities: { streaming, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text"],
    defaultOutputModes: ["text"],
    skills: [],
    signatures: [],
  };
}

function sentTaskId(raw: string | undefined): string {
  try {
    return JSON.parse(raw ?? "{}").params?.message?.taskId ?? "";
  } catch {
    return "";
  }
}

async function listen(app: express.Express): Promise<{ server: Server; base: string }> {
  const server = createServer(app);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export async function startA2aAgent(script: A2aScript, options: { streaming?: boolean; name?: string; cardUrl?: (base: string) => string } = {}): Promise<A2aAgent> {
  const calls: A2aCall[] = [];
  const cancels: string[] = [];
  const waiting = new Map<string, () => void>();
  const w = waiters();
  const rawBodies = new Map<string, string>();
  const app = express();
  app.use(express.json({ verify: (req, _res, buf) => void ((req as unknown as { rawBody: string }).rawBody = buf.toString("utf8")) }));
  const { server, base } = await listen(app);
  const executor = {
    async cancelTask(taskId: string) {
      cancels.push(taskId);
      waiting.get(taskId)?.();
      w.wake();
    },
    async execute(ctx: import("@a2a-js/sdk/server").RequestContext, bus: ExecutionEventBus) {
      const m = ctx.userMessage;
      const headers = (ctx.context.state.get("headers") ?? {}) as IncomingHttpHeaders;
      const call: A2aCall = {
        text: m.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join(""),
        messageId: m.messageId,
        contextId: ctx.contextId,
        taskId: sentTaskId(rawBodies.get(m.messageId)),
        runs: ctx.taskId,
        headers,
        rawBody: rawBodies.get(m.messageId) ?? "",
        parts: m.parts,
      };
      calls.push(call);
      w.wake();
      const { taskId, contextId } = ctx;
      const cancelled = new Promise<void>((resolve) => waiting.set(taskId, resolve));
      const task: Task = ctx.task ?? { id: taskId, contextId, status: undefined, artifacts: [], history: [m], metadata: undefined };
      await script({
        call,
        cancelled,
        start: () => bus.publish(AgentEvent.task({ ...task, status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() } })),
        status: (state, said) =>
          bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state, message: said === undefined ? undefined : agentMessage(said, contextId, taskId), timestamp: new Date().toISOString() }, metadata: undefined })),
        statusParts: (state, parts) =>
          bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state, message: agentMessage(parts, contextId, taskId), timestamp: new Date().toISOString() }, metadata: undefined })),
        artifact: (value, o = {}) =>
          bus.publish(
            AgentEvent.artifactUpdate({
              taskId,
              contextId,
              artifact: { artifactId: o.artifactId ?? "answer", name: "answer", description: "", parts: o.parts ?? [text(value)], metadata: undefined, extensions: [] },
              append: o.append ?? false,
              lastChunk: o.lastChunk ?? false,
              metadata: undefined,
            }),
          ),
        reply: (said) => bus.publish(AgentEvent.message(agentMessage(said, contextId))),
      });
      waiting.delete(taskId);
    },
  };
  const requestHandler = new DefaultRequestHandler(card(options.name ?? "Test A2A agent", options.cardUrl?.(base) ?? `${base}/`, options.streaming ?? true), new InMemoryTaskStore(), executor);
  app.use((req: Request, _res, next) => {
    const raw = (req as unknown as { rawBody?: string }).rawBody;
    const messageId = (req.body as { params?: { message?: { messageId?: string } } } | undefined)?.params?.message?.messageId;
    if (raw && messageId) rawBodies.set(messageId, raw);
    next();
  });
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: requestHandler }));
  app.use(jsonRpcHandler({ requestHandler, userBuilder: UserBuilder.noAuthentication }));
  return {
    url: base,
    calls,
    cancels,
    until: (predicate, what, timeoutMs = 10_000) => w.until(predicate, what, timeoutMs, () => `calls ${calls.length}, cancels ${JSON.stringify(cancels)}`),
    close: closer(server),
  };
}

/** A genuine card (served by the SDK) whose JSON-RPC endpoint `answer`s as the test writes it. */
export async function startHostileA2a(answer: (req: Request, res: Response) => void): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  const { server, base } = await listen(app);
  const hostile = card("Hostile agent", `${base}/rpc`, true);
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: async () => hostile }));
  app.post("/rpc", express.json(), answer);
  return { url: base, close: closer(server) };
}
