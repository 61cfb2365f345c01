/**
 * A conversation: an agent's session, or a group's conversation (ask the group). History loads
 * newest page first with "load earlier"; new messages and running turns arrive live through the
 * realtime client, which resumes with `since` after a reconnect, so nothing shows twice. A group's
 * answers to one question stand side by side, one column per agent.
 */
import type { Ask, LiveTurn, Message, Session } from "agenthub/client";
import type { RefObject } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { cannotChangeSession } from "../permissions.js";
import { go } from "../router.js";
import { MessageView } from "./message.js";
import { ShareDialog } from "./share.js";
import { ErrorNote } from "./error-note.js";
import { TurnApprovals, type ApprovalPlace } from "./approvals.js";

const PAGE = 50;
const STRATEGIES = ["auto", "all", "mentions", "match", "first", "round_robin"] as const;

/** What each strategy does, in a line (contract: "Group conversations"). */
export const STRATEGY_HELP: Record<(typeof STRATEGIES)[number], string> = {
  auto: "The agents you @mention answer; with no mention, every agent answers.",
  all: "Every agent of the group answers at once, side by side.",
  mentions: "Only the agents named with @agent-id in the question answer.",
  match: "The agents whose name and description best match the question answer.",
  first: "All agents start; the first to finish answers and the others are cancelled.",
  round_robin: "One agent answers, the next one in turn each time.",
};

/** The text of a message's content (a person's question), for asking it again. */
const textOf = (content: unknown): string =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((b: any) => (b?.type === "text" && typeof b.text === "string" ? b.text : "")).join("\n") : "";

export type Where = { kind: "agent"; agentId: string; sessionId: string } | { kind: "group"; groupId: string; sessionId: string; agentIds: string[] };

export function Conversation({ hub, where, agentNames, onChanged }: { hub: Hub; where: Where; agentNames: Map<string, string>; onChanged: () => void }) {
  const { rest, live } = hub;
  const sessionId = where.sessionId;
  const [session, setSession] = useState<Session | undefined>();
  const [messages, setMessages] = useState<Message[]>([]);
  const [earlier, setEarlier] = useState(false);
  const [turns, setTurns] = useState<LiveTurn[]>([]);
  const [ask, setAsk] = useState<Ask | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [renaming, setRenaming] = useState(false);
  const [sharing, setSharing] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);

  const api = useMemo(
    () =>
      where.kind === "agent"
        ? {
            get: () => rest.sessions.get(where.agentId, sessionId),
            messages: (q: { after_seq?: number; limit?: number }) => rest.messages.list(where.agentId, sessionId, q),
            rename: (title: string) => rest.sessions.rename(where.agentId, sessionId, title),
            remove: () => rest.sessions.remove(where.agentId, sessionId),
          }
        : {
            get: () => rest.conversations.get(where.groupId, sessionId),
            messages: (q: { after_seq?: number; limit?: number }) => rest.conversations.messages(where.groupId, sessionId, q),
            rename: (title: string) => rest.conversations.rename(where.groupId, sessionId, title),
            remove: () => rest.conversations.remove(where.groupId, sessionId),
          },
    [where.kind, sessionId],
  );

  const merge = (incoming: Message[]) =>
    setMessages((current) => {
      const bySeq = new Map(current.map((m) => [m.seq, m]));
      for (const m of incoming) bySeq.set(m.seq, m);
      return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    });

  useEffect(() => {
    let stopped = false;
    setMessages([]);
    setTurns([]);
    setAsk(undefined);
    setError(undefined);
    const offs = [
      live.on("session:message", ({ sessionId: id, message }) => id === sessionId && merge([message as Message])),
      live.on("session:updated", ({ sessionId: id, change, session: s }) => {
        if (id !== sessionId) return;
        if (change === "deleted") go({ view: "home" });
        else setSession(s as Session);
      }),
      live.on("ask:updated", ({ ask: a }) => (a as Ask).session_id === sessionId && setAsk(a as Ask)),
      live.turns.onUpdate(() => setTurns(live.turns.list(sessionId))),
    ];
    (async () => {
      try {
        const s = await api.get();
        if (stopped) return;
        setSession(s);
        // A chat opens ready to type in (unless the person is typing somewhere else, e.g. the search).
        if (!(document.activeElement instanceof HTMLInputElement || document.activeElement instanceof HTMLTextAreaElement)) composer.current?.focus();
        const from = Math.max(0, s.message_count - PAGE);
        const page = await api.messages({ after_seq: from, limit: PAGE });
        if (stopped) return;
        merge(page.messages);
        setEarlier(from > 0);
        const last = page.messages.at(-1)?.seq ?? from;
        await live.watchSession(sessionId, { since: last });
        if (!stopped) setTurns(live.turns.list(sessionId));
      } catch (err) {
        if (!stopped) setError(describe(err));
      }
    })();
    return () => {
      stopped = true;
      for (const off of offs) off();
      void live.unwatchSession(sessionId).catch(() => undefined);
    };
  }, [sessionId]);

  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [messages.length, turns.map((t) => t.message.content.length).join()]);

  async function loadEarlier() {
    const first = messages[0]?.seq ?? 1;
    const from = Math.max(0, first - 1 - PAGE);
    try {
      const page = await api.messages({ after_seq: from, limit: first - 1 - from });
      merge(page.messages);
      setEarlier(from > 0);
    } catch (err) {
      setError(describe(err));
    }
  }

  const stored = new Set(messages.map((m) => m.id));
  const running = turns.filter((t) => !t.ended && !(t.message.id && stored.has(t.message.id)));
  // Why the turns that ended while watched failed (turn:ended), by the id their answer is stored under.
  const turnErrors = new Map(turns.filter((t) => t.ended && t.turn?.error).map((t) => [t.turn!.message_id, t.turn!.error!]));
  const refusal = session ? cannotChangeSession(hub.me, session) : undefined;
  const place: ApprovalPlace = where.kind === "agent" ? { kind: "agent", agentId: where.agentId } : { kind: "group", groupId: where.groupId };
  /** A running turn's approvals (live from turn:approval), under its answer so far. */
  const approvalsOf = (t: LiveTurn) => <TurnApprovals hub={hub} approvals={t.approvals} place={place} session={session} />;

  /** Asks again what a failed or cancelled answer was answering: the person's message before it, as a new turn. */
  const retryOf = (answer: Message) => {
    const question = [...messages].reverse().find((m) => m.role === "user" && m.seq < answer.seq);
    const content = question ? textOf(question.content).trim() : "";
    if (!content) return undefined;
    return () =>
      void act(() =>
        where.kind === "agent"
          ? rest.turns.start(where.agentId, sessionId, { content })
          : rest.conversations.ask(where.groupId, sessionId, { content, strategy: "all", agentIds: [(answer as { agentId?: string }).agentId ?? ""].filter(Boolean) }),
      )();
  };
  const act = (fn: () => Promise<unknown>) => async () => {
    setError(undefined);
    try {
      await fn();
      onChanged();
    } catch (err) {
      setError(describe(err));
    }
  };

  async function cancel() {
    setError(undefined);
    try {
      if (where.kind === "agent") await Promise.all(running.map((t) => rest.turns.cancel(where.agentId, sessionId, t.turnId)));
      else if (ask) await rest.conversations.cancelAsk(where.groupId, sessionId, ask.id);
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <section class="conversation" aria-labelledby="conversation-title">
      <header class="view-header">
        {renaming && session ? (
          <RenameForm
            title={session.title}
            onDone={async (title) => {
              setRenaming(false);
              if (title && title !== session.title) await act(() => api.rename(title))();
            }}
          />
        ) : (
          <h2 id="conversation-title">{session?.title ?? "…"}</h2>
        )}
        <div class="actions">
          {refusal ? <p class="muted refusal">{refusal}.</p> : null}
          {refusal ? null : (
            <button type="button" onClick={() => setRenaming(true)} disabled={!session}>
              Rename
            </button>
          )}
          {where.kind === "agent" && session && !refusal ? (
            <button type="button" onClick={act(() => (session.archived ? rest.sessions.restore(where.agentId, sessionId) : rest.sessions.archive(where.agentId, sessionId)))}>
              {session.archived ? "Restore" : "Archive"}
            </button>
          ) : null}
          {refusal ? null : (
            <button type="button" onClick={() => setSharing(!sharing)} aria-expanded={sharing}>
              Share
            </button>
          )}
          {refusal ? null : (
            <button
              type="button"
              class="danger"
              onClick={() => {
                if (confirm("Delete this conversation and all its messages?")) void act(async () => (await api.remove(), go({ view: "home" })))();
              }}
            >
              Delete
            </button>
          )}
        </div>
      </header>
      {sharing ? <ShareDialog hub={hub} where={where} onClose={() => setSharing(false)} /> : null}
      <ErrorNote error={error} />
      <div class="messages" role="log" aria-live="polite" aria-label="Messages">
        {earlier ? (
          <button type="button" class="load-earlier" onClick={loadEarlier}>
            Load earlier messages
          </button>
        ) : null}
        {where.kind === "group" ? (
          <GroupedMessages messages={messages} running={running} agentNames={agentNames} ask={ask} turnErrors={turnErrors} retryOf={retryOf} approvalsOf={approvalsOf} />
        ) : null}
        {where.kind === "agent" ? (
          <>
            {messages.map((m) => (
              <MessageView
                key={m.id}
                message={m}
                agentId={where.agentId}
                agentLabel={agentNames.get(where.agentId) ?? where.agentId}
                turnError={turnErrors.get(m.id)}
                onRetry={running.length ? undefined : retryOf(m)}
              />
            ))}
            {running.map((t) => (
              <div key={t.turnId} class="running-turn">
                <MessageView message={t.message} live waiting={isWaiting(t)} agentId={where.agentId} agentLabel={agentNames.get(where.agentId) ?? where.agentId} />
                {approvalsOf(t)}
              </div>
            ))}
          </>
        ) : null}
        <div ref={bottom} />
      </div>
      <Composer hub={hub} where={where} running={running.length > 0} onCancel={cancel} agentNames={agentNames} input={composer} />
    </section>
  );
}

/** A group's conversation: each question, then its answers side by side (one column per agent). */
function GroupedMessages(props: {
  messages: Message[];
  running: LiveTurn[];
  agentNames: Map<string, string>;
  ask: Ask | undefined;
  turnErrors: Map<string, string>;
  retryOf: (answer: Message) => (() => void) | undefined;
  approvalsOf: (t: LiveTurn) => any;
}) {
  const { messages, running, agentNames, ask, turnErrors, retryOf, approvalsOf } = props;
  const rounds: Array<{ question?: Message; answers: Array<{ key: string; node: any }> }> = [];
  for (const m of messages) {
    if (m.role === "user" || !rounds.length) rounds.push({ question: m.role === "user" ? m : undefined, answers: [] });
    if (m.role !== "user")
      rounds.at(-1)!.answers.push({ key: m.id, node: <MessageView message={m} agentNames={agentNames} turnError={turnErrors.get(m.id)} onRetry={running.length || ask?.status === "running" ? undefined : retryOf(m)} /> });
  }
  const last = rounds.at(-1);
  if (last)
    for (const t of running)
      last.answers.push({
        key: t.turnId,
        node: (
          <>
            <MessageView message={{ ...t.message, agentId: t.turn?.agent_id } as any} live waiting={isWaiting(t)} agentNames={agentNames} />
            {approvalsOf(t)}
          </>
        ),
      });
  return (
    <>
      {rounds.map((r, i) => (
        <div class="round" key={r.question?.id ?? i}>
          {r.question ? <MessageView message={r.question} agentNames={agentNames} /> : null}
          {i === rounds.length - 1 && ask && ask.message_id === r.question?.id ? <AskStatus ask={ask} agentNames={agentNames} /> : null}
          {r.answers.length ? (
            <div class="answers" style={{ "--columns": String(Math.min(r.answers.length, 3)) }}>
              {r.answers.map((a) => (
                <div key={a.key}>{a.node}</div>
              ))}
            </div>
          ) : null}
        </div>
      ))}
    </>
  );
}

/** The turn waits for people: one of its approvals is pending. */
const isWaiting = (t: LiveTurn) => t.approvals.some((a) => a.status === "pending");

function AskStatus({ ask, agentNames }: { ask: Ask; agentNames: Map<string, string> }) {
  return (
    <p class="ask-status" aria-label="Who is answering">
      <span class="badge">{ask.strategy}</span>
      {ask.agents.map((a) => (
        <span key={a.agentId} class={`badge ${a.status}`}>
          {agentNames.get(a.agentId) ?? a.agentId}: {a.status}
        </span>
      ))}
      {ask.ignored_mentions.length ? <span class="muted"> (not in this group: {ask.ignored_mentions.map((m) => `@${m}`).join(", ")})</span> : null}
    </p>
  );
}

function RenameForm({ title, onDone }: { title: string; onDone: (title: string | undefined) => void }) {
  const [value, setValue] = useState(title);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    field.current?.focus();
    field.current?.select();
  }, []);
  return (
    <form
      class="rename"
      onSubmit={(e) => {
        e.preventDefault();
        onDone(value.trim());
      }}
    >
      <label>
        <span class="sr-only">Title</span>
        <input ref={field} value={value} onInput={(e) => setValue(e.currentTarget.value)} maxLength={200} onKeyDown={(e) => e.key === "Escape" && onDone(undefined)} />
      </label>
      <button type="submit">Save</button>
    </form>
  );
}

function Composer(props: {
  hub: Hub;
  where: Where;
  running: boolean;
  onCancel: () => void;
  agentNames: Map<string, string>;
  input: RefObject<HTMLTextAreaElement | null>;
}) {
  const { hub, where, running, onCancel, agentNames, input } = props;
  // A refused message is said here, beside the box it came from.
  const [error, onError] = useState<string | undefined>();
  const [text, setText] = useState("");
  const [strategy, setStrategy] = useState<(typeof STRATEGIES)[number]>("auto");
  const [picked, setPicked] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  async function send() {
    const content = text.trim();
    if (!content || busy) return;
    setBusy(true);
    onError(undefined);
    try {
      if (where.kind === "agent") await hub.rest.turns.start(where.agentId, where.sessionId, { content });
      else
        await hub.rest.conversations.ask(where.groupId, where.sessionId, {
          content,
          ...(strategy === "auto" ? {} : { strategy }),
          ...(picked.length ? { agentIds: picked } : {}),
        });
      setText("");
    } catch (err) {
      onError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      {where.kind === "group" ? (
        <div class="ask-options">
          <label>
            Strategy{" "}
            <select value={strategy} aria-describedby="strategy-help" onChange={(e) => setStrategy(e.currentTarget.value as (typeof STRATEGIES)[number])}>
              {STRATEGIES.map((s) => (
                <option key={s} value={s}>
                  {s === "auto" ? "auto (@mentions, else all)" : s}
                </option>
              ))}
            </select>
          </label>
          <p id="strategy-help" class="muted strategy-help">
            {STRATEGY_HELP[strategy]}
          </p>
          <fieldset>
            <legend>Only these agents (optional)</legend>
            {where.agentIds.map((id) => (
              <label key={id} class="check">
                <input type="checkbox" checked={picked.includes(id)} onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, id] : picked.filter((p) => p !== id))} />
                {agentNames.get(id) ?? id}
              </label>
            ))}
          </fieldset>
        </div>
      ) : null}
      <label class="message-input">
        <span class="sr-only">{where.kind === "agent" ? "Message the agent" : "Ask the group"}</span>
        <textarea
          ref={input}
          value={text}
          placeholder={where.kind === "agent" ? "Message the agent (Enter sends, Shift+Enter for a new line)" : "Ask the group; @agent-id mentions an agent"}
          rows={2}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
      </label>
      <ErrorNote error={error} />
      <div class="composer-buttons">
        <button type="submit" class="primary" disabled={busy || !text.trim()}>
          {where.kind === "agent" ? "Send" : "Ask"}
        </button>
        {running ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
