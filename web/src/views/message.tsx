/**
 * One message as a whole turn: content (Markdown), collapsible thinking, tool calls with input and
 * output, sources as links, and for a failed or cancelled turn why, in words, with a retry.
 */
import type { LiveMessage, Message } from "agenthub/client";
import { href } from "../router.js";
import { Markdown } from "./markdown.js";
import { ApprovalTrail } from "./approvals.js";

type Shown = (Message | (LiveMessage & { seq?: number; createdAt?: string })) & { agentId?: string; userName?: string };

const json = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));

function Content({ content, live }: { content: unknown; live: boolean }) {
  if (typeof content === "string") return content ? <Markdown text={content} live={live} /> : null;
  if (Array.isArray(content)) {
    return (
      <div class="content">
        {content.map((block: any, i) => (block?.type === "text" && typeof block.text === "string" ? <Markdown key={i} text={block.text} live={live} /> : <pre key={i}>{json(block)}</pre>))}
      </div>
    );
  }
  return null;
}

/** Why a turn did not finish, in words: the turn's `error` (live, or kept in the stored answer's metadata). */
export function outcomeOf(m: { finishReason?: unknown; error?: unknown; metadata?: unknown }, turnError?: string): { kind: "failed" | "cancelled"; why: string } | undefined {
  const stored = (m.metadata as { error?: unknown } | undefined)?.error;
  const error = turnError ?? (typeof m.error === "string" ? m.error : undefined) ?? (typeof stored === "string" ? stored : undefined);
  if (m.finishReason === "cancelled") return { kind: "cancelled", why: "The turn was cancelled before the agent finished; what it had sent is kept." };
  if (m.finishReason === "error" || error) return { kind: "failed", why: error ? sentence(error) : "The agent stopped without saying why." };
  return undefined;
}

const sentence = (s: string) => {
  const t = s.trim();
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
};

/** What no socket or server behind the agent looks like (the hub's words for it). */
const NOTHING_CONNECTED = /no socket serving|no server_url|socket went away|socket disconnected|no A2A URL/i;

function Outcome({ outcome, agentId, agentLabel, onRetry }: { outcome: { kind: "failed" | "cancelled"; why: string }; agentId?: string | undefined; agentLabel: string; onRetry?: (() => void) | undefined }) {
  return (
    <div class={`outcome ${outcome.kind}`}>
      <p class={outcome.kind === "failed" ? "error-text" : "muted"}>
        <strong>{outcome.kind === "failed" ? `${agentLabel} could not answer.` : "Cancelled."}</strong> {outcome.why}
        {outcome.kind === "failed" && agentId && NOTHING_CONNECTED.test(outcome.why) ? (
          <>
            {" "}
            Nothing is connected to answer for it: <a href={href({ view: "agent", agentId })}>see how to connect {agentLabel}</a>.
          </>
        ) : null}
      </p>
      {onRetry ? (
        <button type="button" class="small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

function Thinking({ thinking }: { thinking: unknown }) {
  if (thinking === undefined || thinking === null || (Array.isArray(thinking) && thinking.length === 0)) return null;
  const steps = Array.isArray(thinking) ? thinking : [thinking];
  return (
    <details class="thinking">
      <summary>Thinking ({steps.length} {steps.length === 1 ? "step" : "steps"})</summary>
      {steps.map((step: any, i) => (
        <div key={i} class="step">
          {step?.title ? <strong>{step.title}</strong> : null}
          <StepText text={typeof step === "string" ? step : (step?.content ?? step?.text ?? json(step))} />
        </div>
      ))}
    </details>
  );
}

/** A thinking step: Markdown when it is text (agents think in Markdown too), else as it came. */
function StepText({ text }: { text: unknown }) {
  return typeof text === "string" ? <Markdown text={text} class="step-text" /> : <pre>{json(text)}</pre>;
}

function ToolCalls({ calls }: { calls: unknown[] | undefined }) {
  if (!calls?.length) return null;
  return (
    <div class="tools">
      {calls.map((call: any, i) => (
        <details key={call?.id ?? call?.toolCallId ?? i} class="tool">
          <summary>
            Tool call: <code>{call?.name ?? "tool"}</code>
            {call?.error ? <span class="badge error">error</span> : call?.output === undefined ? <span class="badge">running</span> : null}
          </summary>
          <div class="io">
            <h4>Input</h4>
            <pre>{json(call?.input ?? {})}</pre>
            {call?.output !== undefined ? (
              <>
                <h4>Output</h4>
                <pre>{json(call.output)}</pre>
              </>
            ) : null}
            {call?.error ? <p class="error-text">{json(call.error)}</p> : null}
          </div>
        </details>
      ))}
    </div>
  );
}

function Sources({ sources }: { sources: Array<Record<string, any>> | undefined }) {
  if (!sources?.length) return null;
  return (
    <div class="sources">
      <h4>Sources</h4>
      <ol>
        {sources.map((s, i) => {
          const url = typeof s.url === "string" && /^https?:\/\//.test(s.url) ? s.url : undefined;
          const label = s.title ?? s.id ?? `source ${i + 1}`;
          return (
            <li key={s.id ?? i}>
              {url ? (
                <a href={url} target="_blank" rel="noopener noreferrer">
                  {label}
                </a>
              ) : (
                <span>{label}</span>
              )}
              {s.snippet ? <span class="snippet"> — {s.snippet}</span> : null}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

export function MessageView(props: {
  message: Shown;
  live?: boolean;
  agentNames?: Map<string, string>;
  agentLabel?: string;
  /** The agent of an agent's session (a group's answers name theirs). */
  agentId?: string;
  /** Who wrote a person's message when the reader is not them (the shared view: "the owner"). */
  userLabel?: string;
  /** The turn's `error` when it ended while watched. */
  turnError?: string | undefined;
  /** Re-sends the question this answered, as a new turn. */
  onRetry?: (() => void) | undefined;
  /** A live turn waits for people (an approval is pending). */
  waiting?: boolean;
}) {
  const { message, live = false, waiting = false, agentNames, agentLabel, userLabel, turnError, onRetry } = props;
  const m = message as any;
  const agentId: string | undefined = m.agentId ?? props.agentId;
  const agentName = m.agentId ? (agentNames?.get(m.agentId) ?? m.agentId) : (agentLabel ?? "The agent");
  const who = m.role === "user" ? (m.userName ?? userLabel ?? "You") : m.role === "assistant" ? agentName : m.role;
  const outcome = m.role === "assistant" ? outcomeOf(m, turnError) : undefined;
  return (
    <article class={`message ${m.role}${live ? " live" : ""}${outcome ? ` ${outcome.kind}` : ""}`} aria-busy={live ? "true" : undefined} data-agent={m.agentId} data-seq={m.seq}>
      <header>
        <span class="who">{who}</span>
        {live ? <span class="badge live-badge">{waiting ? "waiting for approval" : "streaming…"}</span> : null}
        {outcome ? <span class={`badge ${outcome.kind === "failed" ? "error" : ""}`}>{outcome.kind}</span> : null}
        {m.finishReason && m.finishReason !== "stop" && !outcome ? <span class="badge">{m.finishReason}</span> : null}
        {m.createdAt ? <time dateTime={m.createdAt}>{new Date(m.createdAt).toLocaleTimeString()}</time> : null}
      </header>
      <Thinking thinking={m.thinking} />
      <ToolCalls calls={m.toolCalls} />
      <Content content={m.content} live={live} />
      {outcome ? <Outcome outcome={outcome} agentId={agentId} agentLabel={agentName} onRetry={live ? undefined : onRetry} /> : null}
      <Sources sources={m.sources} />
      {live ? null : <ApprovalTrail approvals={m.approvals} />}
    </article>
  );
}
