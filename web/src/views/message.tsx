/** One message as a whole turn: content, collapsible thinking, tool calls with input and output, sources as links. */
import type { LiveMessage, Message } from "agenthub/client";

type Shown = (Message | (LiveMessage & { seq?: number; createdAt?: string })) & { agentId?: string; userName?: string };

const json = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));

function Content({ content }: { content: unknown }) {
  if (typeof content === "string") return <div class="content">{content}</div>;
  if (Array.isArray(content)) {
    return (
      <div class="content">
        {content.map((block: any, i) => (
          <div key={i}>{block?.type === "text" && typeof block.text === "string" ? block.text : <pre>{json(block)}</pre>}</div>
        ))}
      </div>
    );
  }
  return null;
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
          <pre>{typeof step === "string" ? step : (step?.content ?? step?.text ?? json(step))}</pre>
        </div>
      ))}
    </details>
  );
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

export function MessageView({ message, live, agentNames, agentLabel }: { message: Shown; live?: boolean; agentNames?: Map<string, string>; agentLabel?: string }) {
  const m = message as any;
  const who = m.role === "user" ? (m.userName ?? "You") : m.role === "assistant" ? (m.agentId ? (agentNames?.get(m.agentId) ?? m.agentId) : (agentLabel ?? "Agent")) : m.role;
  const finish = m.finishReason && m.finishReason !== "stop" ? m.finishReason : undefined;
  return (
    <article class={`message ${m.role}${live ? " live" : ""}`} aria-busy={live ? "true" : undefined} data-agent={m.agentId} data-seq={m.seq}>
      <header>
        <span class="who">{who}</span>
        {live ? <span class="badge live-badge">streaming…</span> : null}
        {finish ? <span class={`badge ${finish === "error" ? "error" : ""}`}>{finish}</span> : null}
        {m.createdAt ? <time dateTime={m.createdAt}>{new Date(m.createdAt).toLocaleTimeString()}</time> : null}
      </header>
      <Thinking thinking={m.thinking} />
      <ToolCalls calls={m.toolCalls} />
      <Content content={m.content} />
      {m.error ? <p class="error-text">{String(m.error)}</p> : null}
      <Sources sources={m.sources} />
    </article>
  );
}
