/**
 * What an A2A agent answers, as turn events (domain/turns/events.ts): each `StreamResponse` of a
 * streaming call (or the one Task or Message of a non-streaming call) gives the events to record
 * and, once the task reaches a final or interrupted state, how the turn ends.
 *
 * - Artifact updates are the answer: their text parts are `content_delta`s (a new artifact after
 *   some content starts on a new paragraph); file parts are rendered as a line naming the file
 *   (a link when it has a URL, never its bytes); data parts go to the answer's metadata
 *   (`metadata.a2a.data`), bounded in count and size.
 * - A status message while the task is `submitted` or `working` is progress, not the answer
 *   (agents say "Looking up the rates…" there): it is recorded as one thinking step, "Working",
 *   closed when the task leaves that state.
 * - `completed`: the status message's text, if any, ends the answer. A Message instead of a task
 *   is a whole answer. `input-required`: the agent's question is the answer (the turn completes,
 *   with `metadata.a2a = {state: "input-required", taskId}`, and the next turn in the session
 *   continues that task). `failed` / `rejected` / `auth-required`: the turn fails with the
 *   agent's text as the reason. `canceled`: the turn is cancelled.
 * - `input-required` whose status message holds an approval request (a data part
 *   `{type: "approval_request", approvalId, title, detail?, input?, assignees?, quorum?,
 *   expiresInSec?}`, see `approvalIn`): the agent asks people, and the turn goes on. The message's
 *   text is part of the answer, `asking` holds the request, and the endpoint (turns/a2a.ts) asks
 *   people, sends the outcome as the continuation message of the same task and feeds its answer
 *   here again (`resumed`); the turn's answer stays one.
 */
import { TaskState, type Artifact, type Message, type Part, type StreamResponse, type Task, type TaskStatus } from "@a2a-js/sdk";
import { ApprovalRequest } from "../domain/turns/events.js";
import { bounded } from "./a2a-client.js";

/** A turn event, as the recorder validates it. */
export type TurnEvent = { type: string } & Record<string, unknown>;
export type A2aEnding = { status: "completed" } | { status: "failed"; error: string } | { status: "cancelled" };

/** Deltas are cut to this many characters (an event holds at most 64 KiB). */
const DELTA_CHARS = 8_000;
/** Data parts kept in the answer's metadata, and the JSON size of each. */
const MAX_DATA_PARTS = 16;
const MAX_DATA_BYTES = 8 * 1024;
const THINKING_ID = "a2a-working";

export class A2aAnswer {
  taskId: string | undefined;
  ending: A2aEnding | undefined;
  /** The approval the task is waiting for (`input-required` with an approval request), until `resumed`. */
  asking: ApprovalRequest | undefined;
  private readonly artifacts = new Set<string>();
  private hasContent = false;
  private working: { since: number } | undefined;
  private readonly data: unknown[] = [];
  private state: string | undefined;

  /** The events one stream response gives; `ending` is set once the task is over. */
  take(response: StreamResponse): TurnEvent[] {
    const payload = response.payload;
    if (!payload || this.ending || this.asking) return [];
    switch (payload.$case) {
      case "task":
        return this.task(payload.value);
      case "message":
        return [...this.closeWorking(), ...this.message(payload.value, "content"), ...this.end({ status: "completed" })];
      case "statusUpdate":
        this.taskId ||= payload.value.taskId;
        return payload.value.status ? this.status(payload.value.status) : [];
      case "artifactUpdate":
        this.taskId ||= payload.value.taskId;
        return payload.value.artifact ? this.artifact(payload.value.artifact, payload.value.append) : [];
      default:
        return [];
    }
  }

  /** A whole task (first in a stream, or the answer of a non-streaming call). */
  private task(task: Task): TurnEvent[] {
    this.taskId ||= task.id;
    const events = (task.artifacts ?? []).flatMap((a) => this.artifact(a, false));
    return task.status ? [...events, ...this.status(task.status)] : events;
  }

  private status(status: TaskStatus): TurnEvent[] {
    const message = status.message;
    switch (status.state) {
      case TaskState.TASK_STATE_SUBMITTED:
      case TaskState.TASK_STATE_WORKING:
        return message ? this.progress(message) : [];
      case TaskState.TASK_STATE_COMPLETED:
        return [...this.closeWorking(), ...(message ? this.message(message, "content") : []), ...this.end({ status: "completed" })];
      case TaskState.TASK_STATE_INPUT_REQUIRED: {
        const approval = message ? approvalIn(message.parts) : undefined;
        if (approval && "problem" in approval) return this.failed(undefined, `the A2A agent asked for an approval the hub cannot take: ${approval.problem}`);
        if (approval) {
          this.asking = approval.request;
          return [...this.closeWorking(), ...this.message({ ...message!, parts: message!.parts.filter((p) => p !== approval.part) }, "content")];
        }
        this.state = "input-required";
        return [...this.closeWorking(), ...(message ? this.message(message, "content") : []), ...this.end({ status: "completed" })];
      }
      case TaskState.TASK_STATE_CANCELED:
        return [...this.closeWorking(), ...this.end({ status: "cancelled" })];
      case TaskState.TASK_STATE_FAILED:
        return this.failed(message, "the A2A agent's task failed");
      case TaskState.TASK_STATE_REJECTED:
        return this.failed(message, "the A2A agent rejected the task");
      case TaskState.TASK_STATE_AUTH_REQUIRED:
        return this.failed(message, "the A2A agent asks for an authentication the hub does not give agents");
      default:
        return [];
    }
  }

  /** The approval was settled and its outcome sent: the task's next answer continues this one. */
  resumed(): void {
    this.asking = undefined;
  }

  private failed(message: Message | undefined, what: string): TurnEvent[] {
    const said = message ? textOf(message.parts) : "";
    return [...this.closeWorking(), ...this.end({ status: "failed", error: said ? `${what}: ${bounded(said)}` : what })];
  }

  private progress(message: Message): TurnEvent[] {
    const text = textOf(message.parts);
    if (!text) return this.message(message, "data");
    const events: TurnEvent[] = [];
    if (!this.working) {
      this.working = { since: Date.now() };
      events.push({ type: "thinking_start", thinkingId: THINKING_ID, title: "Working" });
    }
    for (const delta of cut(`${text}\n`)) events.push({ type: "thinking_delta", thinkingId: THINKING_ID, delta });
    return [...events, ...this.message(message, "data")];
  }

  private closeWorking(): TurnEvent[] {
    if (!this.working) return [];
    const durationMs = Math.max(0, Date.now() - this.working.since);
    this.working = undefined;
    return [{ type: "thinking_end", thinkingId: THINKING_ID, status: "completed", durationMs }];
  }

  private artifact(artifact: Artifact, append: boolean): TurnEvent[] {
    const isNew = !this.artifacts.has(artifact.artifactId);
    this.artifacts.add(artifact.artifactId);
    const events = this.content(renderParts(artifact.parts), isNew && !append);
    return [...events, ...this.keepData(artifact.parts)];
  }

  /** A message's parts: text and files as content (or only its data parts, for progress). */
  private message(message: Message, as: "content" | "data"): TurnEvent[] {
    const events = as === "content" ? this.content(renderParts(message.parts), true) : [];
    return [...events, ...this.keepData(message.parts)];
  }

  private content(text: string, startsBlock: boolean): TurnEvent[] {
    if (!text) return [];
    const full = startsBlock && this.hasContent ? `\n\n${text}` : text;
    this.hasContent = true;
    return cut(full).map((delta) => ({ type: "content_delta", delta }));
  }

  private keepData(parts: Part[]): TurnEvent[] {
    let added = false;
    for (const part of parts ?? []) {
      if (part.content?.$case !== "data" || this.data.length >= MAX_DATA_PARTS) continue;
      const json = JSON.stringify(part.content.value ?? null) ?? "null";
      this.data.push(Buffer.byteLength(json) <= MAX_DATA_BYTES ? part.content.value : { omitted: `a data part of ${Buffer.byteLength(json)} bytes` });
      added = true;
    }
    return added ? [this.metadata()] : [];
  }

  private end(ending: A2aEnding): TurnEvent[] {
    this.ending = ending;
    if (ending.status !== "completed") return [];
    const events: TurnEvent[] = this.state ? [this.metadata()] : [];
    return [...events, { type: "message_end", finishReason: "stop" }];
  }

  private metadata(): TurnEvent {
    const a2a: Record<string, unknown> = {};
    if (this.taskId) a2a.taskId = this.taskId;
    if (this.state) a2a.state = this.state;
    if (this.data.length) a2a.data = this.data;
    return { type: "metadata_update", metadata: { a2a } };
  }
}

/**
 * The approval request among a status message's parts: the first data part whose value has
 * `type: "approval_request"`, checked as the hub checks any agent's (domain/turns/events.ts);
 * undefined when there is none, the reason when it is malformed.
 */
export function approvalIn(parts: Part[] | undefined): { request: ApprovalRequest; part: Part } | { problem: string } | undefined {
  const part = (parts ?? []).find((p) => p.content?.$case === "data" && (p.content.value as { type?: unknown } | null)?.type === "approval_request");
  if (!part || part.content?.$case !== "data") return undefined;
  const parsed = ApprovalRequest.safeParse(part.content.value);
  if (parsed.success) return { request: parsed.data, part };
  const issue = parsed.error.issues[0];
  return { problem: `${issue?.path.join(".") || "approval_request"}: ${bounded(issue?.message ?? "malformed")}` };
}

/** The text parts of a message, joined. */
export function textOf(parts: Part[] | undefined): string {
  return (parts ?? [])
    .map((p) => (p.content?.$case === "text" ? p.content.value : ""))
    .filter(Boolean)
    .join("\n");
}

/** Text parts as they are, file parts as a line naming the file; data parts are not text. */
function renderParts(parts: Part[] | undefined): string {
  const out: string[] = [];
  for (const part of parts ?? []) {
    const c = part.content;
    if (c?.$case === "text") out.push(c.value);
    else if (c?.$case === "url") out.push(`[${label(part)}](${c.value.slice(0, 2000)})`);
    else if (c?.$case === "raw") out.push(`[${label(part)}, ${c.value.length} bytes, not shown]`);
  }
  return out.join("");
}

function label(part: Part): string {
  const name = bounded(part.filename || "file").replace(/[[\]]/g, "");
  return part.mediaType ? `${name} (${bounded(part.mediaType)})` : name;
}

function cut(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(i + DELTA_CHARS, text.length);
    // Never between the two halves of a surrogate pair (a lone half cannot be stored).
    if (end < text.length && /[\ud800-\udbff]/.test(text[end - 1]!)) end--;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}
