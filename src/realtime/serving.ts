/**
 * Agents that answer turns over a socket. A key with `turns:serve` emits `agent:serve` and joins
 * its agent's serving room; a turn for that agent goes to one serving socket on any node (picked
 * at random among them, so load spreads), as `turn:request`. Its `agent:event`s are recorded by
 * the node the socket is on. A socket that goes away before its turn's first event hands the
 * turn to another serving socket; one that goes away mid-turn fails it, keeping what arrived.
 * A socket answers only the turns that were dispatched to it (each `turn:request` written to it,
 * whichever node sent it, is noted as it leaves): any other `agent:event` is dropped after an
 * in-memory check, so a flood of made-up turn ids costs the hub no database lookup.
 */
import type { Logger } from "pino";
import { mayServeSession } from "../domain/sessions/policy.js";
import { servedAgent } from "../domain/turns/policy.js";
import { Invalid } from "../errors.js";
import { parse } from "../schemas.js";
import type { RunningTurn, TurnContext } from "../turns/endpoint.js";
import type { TurnRuntime } from "../turns/runtime.js";
import { z } from "zod";
import type { HubServer, HubSocket } from "./protocol.js";
import { rooms } from "./rooms.js";

/** How often a dispatched turn with no event yet checks its socket is still there. */
const FIRST_EVENT_CHECK_MS = 1000;
/** A serving socket that sends nothing for this long after a turn:request fails the turn. */
const FIRST_EVENT_TIMEOUT_MS = 30_000;
/** Serving sockets tried for one turn before it fails. */
const MAX_ATTEMPTS = 3;

/** Turns one socket remembers as dispatched to it (the oldest are forgotten first past this). */
const MAX_DISPATCHED = 1000;
/** A socket's dropped `agent:event`s are logged at most this often (with their count), and at disconnect. */
const IGNORED_LOG_MS = 10_000;

const AgentEventMessage = z.object({ turnId: z.string().min(1).max(100), event: z.unknown() });

/** What a serving socket reports to: the turn runtime of its node. */
type Recording = Pick<TurnRuntime, "record" | "finish">;

/** `agent:serve` and `agent:event` on a socket. */
export function handleServing(socket: HubSocket, turns: Recording, log: Logger) {
  const answering = new Set<string>();
  /** Turns dispatched to this socket and not known to be over, oldest first. */
  const dispatched = new Set<string>();
  const noteDispatched = (event: string, payload: unknown) => {
    // A settled approval hands its turn back to the agent's serving sockets (the one that asked may have gone with its node).
    const settled = event === "turn:approval" && (payload as { approval?: { status?: unknown } } | undefined)?.approval?.status !== "pending";
    if (event !== "turn:request" && !settled) return;
    const turnId = (payload as { turnId?: unknown } | undefined)?.turnId;
    if (typeof turnId !== "string") return;
    dispatched.add(turnId);
    if (dispatched.size > MAX_DISPATCHED) dispatched.delete(dispatched.values().next().value!);
  };
  let ignored = 0;
  let lastLogged = 0;
  const logIgnored = () => {
    if (ignored) log.warn({ ignoredAgentEvents: ignored }, "dropped agent:events for turns not dispatched to this socket");
    ignored = 0;
    lastLogged = Date.now();
  };
  socket.on("disconnect", () => {
    logIgnored();
    // A turn waiting for people is not over: the decision goes to whichever socket serves the agent then.
    for (const turnId of answering) {
      void turns.finish(turnId, { status: "failed", error: "the agent's socket disconnected mid-turn" }, { unlessWaiting: true });
    }
  });
  return {
    serve(): { ok: true } {
      const agentId = servedAgent(socket.data.principal);
      // Only serving sockets are sent turn:request, so only they watch what they are sent: every
      // other socket's broadcasts (its channels, sessions) pay nothing for this.
      if (!socket.listenersAnyOutgoing().includes(noteDispatched)) socket.onAnyOutgoing(noteDispatched);
      socket.join(rooms.serving(socket.data.principal.workspaceId, agentId));
      return { ok: true };
    },
    async event(payload: unknown): Promise<void> {
      let message: z.output<typeof AgentEventMessage>;
      try {
        message = parse(AgentEventMessage, payload, "payload");
        servedAgent(socket.data.principal);
      } catch (err) {
        log.debug({ err: (err as Invalid).detail }, "ignored an agent:event");
        return;
      }
      // Only a socket serving the turn's agent may answer it; record() checks the turn is its agent's and live.
      const p = socket.data.principal;
      const agentId = servedAgent(p);
      if (!socket.rooms.has(rooms.serving(p.workspaceId, agentId))) return;
      if (!dispatched.has(message.turnId)) {
        ignored++;
        if (Date.now() - lastLogged >= IGNORED_LOG_MS) logIgnored();
        return;
      }
      answering.add(message.turnId);
      const goesOn = await turns.record(message.turnId, message.event, { workspaceId: p.workspaceId, agentId });
      if (!goesOn) {
        // Over (or never its agent's): later events for it are dropped here, not looked up.
        answering.delete(message.turnId);
        dispatched.delete(message.turnId);
      }
    },
  };
}

/** How many sockets serve an agent now, on every node ("Test connection" of a socket agent). */
export function servingSocketCount(io: HubServer) {
  return async (workspaceId: string, agentId: string): Promise<number> => (await io.in(rooms.serving(workspaceId, agentId)).fetchSockets()).length;
}

/** Hands turns to serving sockets (the socket endpoint's dispatch, turns/serving-socket.ts); false when no socket serves the agent. */
export function socketDispatch(io: HubServer, log: Logger) {
  return async function dispatch(context: TurnContext, running: RunningTurn, attempt = 1, tried: string[] = []): Promise<boolean> {
    const { turn } = context;
    const room = rooms.serving(turn.workspace_id, turn.agent_id);
    const present = (await io.in(room).fetchSockets()).filter((s) => !tried.includes(s.id));
    const serving = present.filter((s) => mayServeSession(s.data.principal, context.session.readers));
    if (!serving.length && present.length && attempt === 1) {
      await running.finish({ status: "failed", error: "no socket serving the agent may read this session (the serving keys are bound to another role)" });
      return true;
    }
    if (!serving.length) return false;
    const chosen = serving[Math.floor(Math.random() * serving.length)]!;
    if (attempt === 1) await running.begin();
    io.to(chosen.id).emit("turn:request", {
      turnId: turn.id,
      sessionId: turn.session_id,
      messageId: turn.message_id,
      message: { id: context.trigger.id, role: context.trigger.role, content: context.trigger.content, ...authorFields(context.trigger) },
      history: context.history,
    });
    // Until the first event: a socket that went away hands the turn to another; silence fails it.
    const started = Date.now();
    const check = setInterval(() => {
      void (async () => {
        try {
          if (await running.hasEvents()) return clearInterval(check);
          const still = (await io.in(room).fetchSockets()).some((s) => s.id === chosen.id);
          if (still && Date.now() - started < FIRST_EVENT_TIMEOUT_MS) return;
          clearInterval(check);
          if (!still && attempt < MAX_ATTEMPTS && (await dispatch(context, running, attempt + 1, [...tried, chosen.id]))) return;
          await running.finish({ status: "failed", error: still ? `the agent's socket sent nothing for ${FIRST_EVENT_TIMEOUT_MS / 1000} s` : "the agent's socket went away before answering" });
        } catch (err) {
          log.warn({ err, turn: turn.id }, "could not follow a dispatched turn");
        }
      })();
    }, FIRST_EVENT_CHECK_MS);
    check.unref();
    return true;
  };
}

/** Who asked, in a group's conversation (absent elsewhere). */
function authorFields(m: { userId?: number | undefined; userName?: string | undefined }): { userId?: number; userName?: string } {
  return { ...(m.userId !== undefined ? { userId: m.userId } : {}), ...(m.userName !== undefined ? { userName: m.userName } : {}) };
}
