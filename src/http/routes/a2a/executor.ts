/**
 * The SDK's AgentExecutor for one of the hub's agents: a message starts a turn (in the session
 * named by `contextId` when the caller may append to it, else in a new session of the caller),
 * publishes the task (task id = turn id, `contextId` = session id) and relays the turn's events
 * until it ends; a cancel cancels the turn. Who may do what is decided by the turn and session
 * services, as for REST.
 */
import { randomUUID } from "node:crypto";
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from "@a2a-js/sdk/server";
import { RequestMalformedError } from "@a2a-js/sdk/errors";
import type { Task } from "@a2a-js/sdk";
import type { Principal } from "../../../auth/principal.js";
import { emptySnapshot } from "../../../domain/turns/events.js";
import { NotFound } from "../../../errors.js";
import { Uuid } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { busPrincipal, followTurn, inContextOrNew, TrackedBus, titleOf, whenUnwatched, type TurnSource } from "./relay.js";
import { ANSWER_ARTIFACT, HubTaskStore, principalOf, statusOf, taskOfTurn, textOf } from "./tasks.js";


export const isTurnId = (id: string) => id.startsWith("trn_");

/** The agent's turns, as the caller may read them. */
export function agentTaskSource(s: Services, agentId: string): TurnSource {
  return { turns: s.turns, current: (principal, turnId) => s.turns.getById(principal, agentId, turnId) };
}

/** How an agent's task is followed: its one turn. */
export const followAgentTask = (s: Services, agentId: string) => followTurn(agentTaskSource(s, agentId));

/** The store of an agent's tasks: each read is the turn, by id, if the caller may read its session. */
export function agentTaskStore(s: Services, agentId: string): HubTaskStore {
  return new HubTaskStore(async (principal, taskId) => {
    if (!isTurnId(taskId)) throw new NotFound("Task");
    const turn = await s.turns.getById(principal, agentId, taskId);
    return { task: taskOfTurn(turn), at: { contextId: turn.session_id, turns: [{ turnId: turn.id, seq: turn.seq, hasText: !!turn.snapshot.content, artifactId: ANSWER_ARTIFACT }] } };
  });
}

export class AgentTurnExecutor implements AgentExecutor {
  constructor(
    private readonly s: Services,
    private readonly agentId: string,
    private readonly store: HubTaskStore,
  ) {}

  async execute(request: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const principal = principalOf(request.context);
    if (bus instanceof TrackedBus) bus.principal = principal;
    const message = request.userMessage;
    const content = textOf(message.parts);
    if (!content.trim()) throw new RequestMalformedError("The message has no text");
    const id = Uuid.safeParse(message.messageId).data ?? randomUUID();
    const { turn } = await this.startTurn(principal, request.contextId, content, id);
    const task: Task = {
      ...taskOfTurn({ ...turn, snapshot: emptySnapshot() }),
      status: statusOf(turn),
      history: [{ ...message, contextId: turn.session_id, taskId: turn.id }],
    };
    await this.store.save(task, request.context);
    bus.publish(AgentEvent.task(task));
    const left = whenUnwatched(bus);
    const at = { contextId: turn.session_id, turns: [{ turnId: turn.id, seq: 0, hasText: false, artifactId: ANSWER_ARTIFACT }] };
    await followAgentTask(this.s, this.agentId)(principal, turn.id, at, bus, left);
  }

  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    const principal = busPrincipal(bus);
    if (!principal) return;
    await this.s.turns.cancelById(principal, this.agentId, taskId);
  }

  /** In the session `contextId` names if the caller may append to it; otherwise in a new session of the caller. */
  private startTurn(principal: Principal, contextId: string, content: string, id: string) {
    return inContextOrNew(
      contextId,
      (sessionId) => this.s.turns.start(principal, this.agentId, sessionId, { content, id }),
      () => this.s.sessions.create(principal, this.agentId, { title: titleOf(content) }),
    );
  }

}
