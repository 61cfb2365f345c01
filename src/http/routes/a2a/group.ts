/**
 * A group as one A2A agent: a message is an ask of the group (task id = ask id, `contextId` =
 * the group conversation: one the caller may append to, else a new one), routed as the ask
 * route routes it (`@agent-id` mentions, else every agent of the group). Each answering agent's
 * text streams into an artifact of its own (`artifactId` = the agent's id); the task completes
 * when the ask has, as completed if any agent completed, cancelled if all were, else failed.
 */
import { randomUUID } from "node:crypto";
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from "@a2a-js/sdk/server";
import { RequestMalformedError } from "@a2a-js/sdk/errors";
import { TaskState, type Task } from "@a2a-js/sdk";
import type { Principal } from "../../../auth/principal.js";
import type { AskView } from "../../../domain/asks/repository.js";
import { isActive, type TurnView } from "../../../domain/turns/repository.js";
import { NotFound } from "../../../errors.js";
import { Uuid } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { busPrincipal, inContextOrNew, relayTurn, TrackedBus, titleOf, whenUnwatched, workingOnce, type Follow, type TurnSource } from "./relay.js";
import { agentMessage, answerArtifact, HubTaskStore, principalOf, textOf, type ReadPoint } from "./tasks.js";


export const isAskId = (id: string) => id.startsWith("ask_");

function groupTurns(s: Services, groupId: string): TurnSource {
  return { turns: s.turns, current: (principal, turnId, contextId) => s.conversations.getTurn(principal, groupId, contextId, turnId) };
}

/** The ask's state from its turns: working while any runs; then completed if any agent completed, cancelled if all were, else failed. */
function askStatus(askId: string, contextId: string, turns: Array<Pick<TurnView, "status" | "error" | "agent_id">>, running: boolean) {
  const timestamp = new Date().toISOString();
  if (running || turns.some((t) => isActive(t.status))) {
    const state = turns.every((t) => t.status === "queued") ? TaskState.TASK_STATE_SUBMITTED : TaskState.TASK_STATE_WORKING;
    return { state, message: undefined, timestamp };
  }
  if (turns.some((t) => t.status === "completed")) return { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp };
  if (turns.length && turns.every((t) => t.status === "cancelled")) return { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp };
  const why = turns.map((t) => `${t.agent_id}: ${t.error ?? t.status}`).join("; ") || "No agent answered";
  return { state: TaskState.TASK_STATE_FAILED, message: agentMessage(why, askId, contextId), timestamp };
}

const askMetadata = (groupId: string, ask: AskView) => ({ groupId, strategy: ask.strategy, agents: ask.agents });

/** How a group's task is followed: each turn of the ask into its agent's artifact, then the ask's end. */
export function followAsk(s: Services, groupId: string): Follow {
  const source = groupTurns(s, groupId);
  return async (principal, taskId, at, bus, stop) => {
    const task = { taskId, contextId: at.contextId, working: workingOnce(bus, taskId, at.contextId) };
    const ended = await Promise.all(at.turns.map((point) => relayTurn(source, principal, task, point, bus, stop)));
    if (ended.some((t) => !t)) return;
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId: at.contextId, status: askStatus(taskId, at.contextId, ended as TurnView[], false), metadata: undefined }));
  };
}

/** The store of a group's tasks: each read is the ask with its turns' answers so far. */
export function groupTaskStore(s: Services, groupId: string): HubTaskStore {
  return new HubTaskStore(async (principal, taskId) => {
    if (!isAskId(taskId)) throw new NotFound("Task");
    const ask = await s.conversations.askById(principal, groupId, taskId);
    const turns = await Promise.all(ask.agents.filter((a) => a.turnId).map((a) => s.conversations.getTurn(principal, groupId, ask.session_id, a.turnId!)));
    const task: Task = {
      id: ask.id,
      contextId: ask.session_id,
      status: askStatus(ask.id, ask.session_id, turns, false),
      artifacts: turns.filter((t) => t.snapshot.content).map((t) => answerArtifact(t.snapshot.content, t.agent_id)),
      history: [],
      metadata: askMetadata(groupId, ask),
    };
    const at: ReadPoint = { contextId: ask.session_id, turns: turns.map((t) => ({ turnId: t.id, seq: t.seq, hasText: !!t.snapshot.content, artifactId: t.agent_id })) };
    return { task, at };
  });
}

export class GroupAskExecutor implements AgentExecutor {
  constructor(
    private readonly s: Services,
    private readonly groupId: string,
    private readonly store: HubTaskStore,
  ) {}

  async execute(request: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const principal = principalOf(request.context);
    if (bus instanceof TrackedBus) bus.principal = principal;
    const message = request.userMessage;
    const content = textOf(message.parts);
    if (!content.trim()) throw new RequestMalformedError("The message has no text");
    const id = Uuid.safeParse(message.messageId).data ?? randomUUID();
    const { ask } = await this.ask(principal, request.contextId, content, id);
    const turns = ask.agents.filter((a) => a.turnId).map((a) => ({ status: a.status, error: undefined, agent_id: a.agentId }));
    const task: Task = {
      id: ask.id,
      contextId: ask.session_id,
      status: askStatus(ask.id, ask.session_id, turns, ask.status === "running"),
      artifacts: [],
      history: [{ ...message, contextId: ask.session_id, taskId: ask.id }],
      metadata: askMetadata(this.groupId, ask),
    };
    await this.store.save(task, request.context);
    bus.publish(AgentEvent.task(task));
    const at: ReadPoint = { contextId: ask.session_id, turns: ask.agents.filter((a) => a.turnId).map((a) => ({ turnId: a.turnId!, seq: 0, hasText: false, artifactId: a.agentId })) };
    const left = whenUnwatched(bus);
    await followAsk(this.s, this.groupId)(principal, ask.id, at, bus, left);
  }

  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    const principal = busPrincipal(bus);
    if (!principal) return;
    await this.s.conversations.cancelAskById(principal, this.groupId, taskId);
  }

  /** In the conversation `contextId` names if the caller may append to it; otherwise in a new conversation. */
  private ask(principal: Principal, contextId: string, content: string, id: string) {
    return inContextOrNew(
      contextId,
      (sessionId) => this.s.conversations.ask(principal, this.groupId, sessionId, { content, id }),
      () => this.s.conversations.create(principal, this.groupId, { title: titleOf(content) }),
    );
  }

}
