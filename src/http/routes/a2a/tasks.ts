/**
 * A2A tasks are the hub's turns: task id = turn id, `contextId` = session id. This file says how
 * a turn reads as a Task, and gives the SDK's request handler a TaskStore over turns, so a task
 * started on one hub process reads the same on every other (the SDK's in-memory store is per
 * process). Within one request the store keeps what the SDK's ResultManager saves (its running
 * view of the task: the answer as appended so far) and its first read; a new request reads the
 * turn itself.
 */
import { Role, TaskState, type Artifact, type ListTasksRequest, type ListTasksResponse, type Message, type Part, type Task } from "@a2a-js/sdk";
import { UnsupportedOperationError } from "@a2a-js/sdk/errors";
import type { ServerCallContext, TaskStore, User } from "@a2a-js/sdk/server";
import type { Principal } from "../../../auth/principal.js";
import type { TurnSnapshot } from "../../../domain/turns/events.js";
import type { TurnView } from "../../../domain/turns/repository.js";
import { NotFound } from "../../../errors.js";

/** The one text artifact a task's answer streams into. */
export const ANSWER_ARTIFACT = "answer";

/** The SDK's view of who calls: the hub's principal, as authenticated before the SDK runs. */
export class HubUser implements User {
  constructor(readonly principal: Principal) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    const p = this.principal;
    return p.kind === "user" ? `user:${p.userId}` : p.kind === "agent" ? `key:${p.keyId}` : `master:${p.keyId}`;
  }
}

export function principalOf(context: ServerCallContext | undefined): Principal {
  const user = context?.user;
  if (!(user instanceof HubUser)) throw new Error("A2A call without the hub's authentication");
  return user.principal;
}

export const textPart = (value: string): Part => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" });

export const textOf = (parts: readonly Part[] | undefined): string => (parts ?? []).map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");

export function answerArtifact(text: string, name = ANSWER_ARTIFACT): Artifact {
  return { artifactId: name, name, description: "The answer", parts: [textPart(text)], metadata: undefined, extensions: [] };
}

export function agentMessage(text: string, taskId: string, contextId: string): Message {
  return { messageId: `${taskId}:status`, contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

/** A turn's status as a task state. A turn waiting for people (approvals) is still working. */
export function stateOf(status: string): TaskState {
  switch (status) {
    case "queued":
      return TaskState.TASK_STATE_SUBMITTED;
    case "completed":
      return TaskState.TASK_STATE_COMPLETED;
    case "failed":
      return TaskState.TASK_STATE_FAILED;
    case "cancelled":
      return TaskState.TASK_STATE_CANCELED;
    default:
      return TaskState.TASK_STATE_WORKING;
  }
}

export const isTerminal = (s: TaskState) => s === TaskState.TASK_STATE_COMPLETED || s === TaskState.TASK_STATE_FAILED || s === TaskState.TASK_STATE_CANCELED;

/** The task's status as the turn has it; a failed turn says why. */
export function statusOf(turn: Pick<TurnView, "id" | "session_id" | "status" | "error" | "ended_at" | "started_at" | "created_at">): { state: TaskState; message: Message | undefined; timestamp: string } {
  const state = stateOf(turn.status);
  const why = turn.status === "failed" ? (turn.error ?? "The turn failed") : undefined;
  return { state, message: why === undefined ? undefined : agentMessage(why, turn.id, turn.session_id), timestamp: turn.ended_at ?? turn.started_at ?? turn.created_at };
}

/** A turn, with its answer so far, as a task (no history: the session's messages are its history). */
export function taskOfTurn(turn: TurnView & { snapshot: TurnSnapshot }): Task {
  return {
    id: turn.id,
    contextId: turn.session_id,
    status: statusOf(turn),
    artifacts: turn.snapshot.content ? [answerArtifact(turn.snapshot.content)] : [],
    history: [],
    metadata: { agentId: turn.agent_id, messageId: turn.message_id },
  };
}

/** Consecutive text parts of each artifact as one (an answer appended in chunks reads whole). */
export function joined(task: Task): Task {
  const artifacts = task.artifacts.map((a) => (a.parts.every((p) => p.content?.$case === "text") && a.parts.length > 1 ? { ...a, parts: [textPart(textOf(a.parts))] } : a));
  return { ...task, artifacts };
}

/** Where a reader of one turn stands: its relay starts after `seq`, into the artifact `artifactId`. */
export interface TurnPoint {
  turnId: string;
  seq: number;
  hasText: boolean;
  artifactId: string;
}

/** Where a reader of a task stands once the store has read it: its session and each of its turns. */
export interface ReadPoint {
  contextId: string;
  turns: TurnPoint[];
}

/** A value both sides of one request wait for: the store sets it when it reads a task, a relay awaits it. */
export class Deferred<T> {
  value: T | undefined;
  readonly promise: Promise<T>;
  private settle!: (v: T) => void;
  constructor() {
    this.promise = new Promise<T>((resolve) => (this.settle = resolve));
  }
  resolve(v: T): void {
    if (this.value !== undefined) return;
    this.value = v;
    this.settle(v);
  }
}

export function readPoint(context: ServerCallContext, taskId: string): Deferred<ReadPoint> {
  const key = `agenthub.a2a.read:${taskId}`;
  let cell = context.state.get(key) as Deferred<ReadPoint> | undefined;
  if (!cell) context.state.set(key, (cell = new Deferred<ReadPoint>()));
  return cell;
}

/** How a store reads one of its tasks (a turn of an agent, or a group's ask), with the point it is at. */
export type TaskReader = (principal: Principal, taskId: string) => Promise<{ task: Task; at: ReadPoint }>;

/** The SDK's TaskStore over the hub's turns (or asks): `load` reads the turn, `save` lasts one request. */
export class HubTaskStore implements TaskStore {
  constructor(private readonly read: TaskReader) {}

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const kept = context.state.get(savedKey(taskId)) as Task | undefined;
    if (kept) return joined(structuredClone(kept));
    try {
      const { task, at } = await this.read(principalOf(context), taskId);
      // The rest of the request builds on this read: a relay goes on from its point, and the
      // SDK's ResultManager appends those events to this very task (never to a later read).
      readPoint(context, taskId).resolve(at);
      context.state.set(savedKey(taskId), structuredClone(task));
      return task;
    } catch (err) {
      if (err instanceof NotFound) return undefined;
      throw err;
    }
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    context.state.set(savedKey(task.id), structuredClone(task));
  }

  async list(_params: ListTasksRequest, _context: ServerCallContext): Promise<ListTasksResponse> {
    throw new UnsupportedOperationError("ListTasks is not offered: a task is a turn of a session; list sessions with GET /api/agents/{agentId}/sessions");
  }
}

const savedKey = (taskId: string) => `agenthub.a2a.saved:${taskId}`;
