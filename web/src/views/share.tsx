/** Share links (create with an expiry, copy, revoke) and the shared, read-only view at /shared/{token}. */
import type { Message, SharedSession } from "agenthub/client";
import { AgentHubClient } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, rememberReturn, savedToken, type Hub } from "../hub.js";
import type { Where } from "./conversation.js";
import { MessageView } from "./message.js";
import { ThemeToggle } from "../theme.js";
import { ErrorNote } from "./error-note.js";
import { GiveAccess } from "./give-access.js";

export function ShareDialog({ hub, where, onClose }: { hub: Hub; where: Where; onClose: () => void }) {
  const [hours, setHours] = useState(24);
  const [link, setLink] = useState<{ url: string; expires_at: string } | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const create = () =>
    where.kind === "agent"
      ? hub.rest.shares.create(where.agentId, where.sessionId, { expires_in_hours: hours })
      : hub.rest.conversations.share(where.groupId, where.sessionId, { expires_in_hours: hours });
  const revoke = () => (where.kind === "agent" ? hub.rest.shares.revoke(where.agentId, where.sessionId) : hub.rest.conversations.revokeShare(where.groupId, where.sessionId));
  const run = (fn: () => Promise<void>) => () => fn().catch((err) => setNote(describe(err)));

  return (
    <div class="dialog" role="region" aria-label="Share this conversation">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            setLink(await create());
            setNote(undefined);
          })();
        }}
      >
        <label>
          Link expires in{" "}
          <select value={hours} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            {[1, 24, 72, 168].map((h) => (
              <option key={h} value={h}>
                {h === 1 ? "1 hour" : h === 168 ? "7 days" : `${h} hours`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary">
          Create link
        </button>
        <button
          type="button"
          class="danger"
          onClick={run(async () => {
            await revoke();
            setLink(undefined);
            setNote("Every link to this conversation is revoked.");
          })}
        >
          Revoke all links
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </form>
      {link ? (
        <div class="share-link">
          <label>
            Share link (read-only; expires {new Date(link.expires_at).toLocaleString()})
            <input readOnly value={link.url} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button
            type="button"
            onClick={run(async () => {
              await navigator.clipboard.writeText(link.url);
              setNote("Copied.");
            })}
          >
            Copy
          </button>
        </div>
      ) : null}
      {note ? <p role="status">{note}</p> : null}
      {link && where.kind === "agent" ? <GiveAccess hub={hub} agentId={where.agentId} /> : null}
    </div>
  );
}

/** `/shared/{token}`: the read-only view anyone with the link sees; a signed-in user may clone it. */
export function SharedPage({ token }: { token: string }) {
  const [view, setView] = useState<SharedSession | undefined>();
  const [messages, setMessages] = useState<Message[]>([]);
  const [error, setError] = useState<string | undefined>();
  const signedIn = savedToken();
  const anon = new AgentHubClient({ url: location.origin });

  async function page(cursor?: string) {
    try {
      const v = await anon.shares.view(token, cursor ? { cursor, limit: 50 } : { limit: 50 });
      setView(v);
      setMessages((m) => [...m, ...v.messages]);
    } catch (err) {
      setError(describe(err));
    }
  }
  useEffect(() => void page(), [token]);

  async function clone() {
    try {
      const client = new AgentHubClient({ url: location.origin, token: signedIn ?? "" });
      const copy = await client.shares.clone(token);
      location.href = copy.agent_id ? `/#/agents/${encodeURIComponent(copy.agent_id)}/sessions/${copy.id}` : `/#/groups/${encodeURIComponent(copy.group_id ?? "")}/conversations/${copy.id}`;
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <main class="shared" id="main">
      <header class="view-header">
        <h1>{view?.title ?? "Shared conversation"}</h1>
        <p class="muted">
          {view?.agent ? <>With {view.agent.name}</> : view?.group ? <>In the group {view.group.name}</> : null}
          {view ? <> · read-only · link expires {new Date(view.expires_at).toLocaleString()}</> : null}
        </p>
        <div class="actions">
          <ThemeToggle />
          {signedIn ? (
            <button type="button" class="primary" onClick={clone} disabled={!view}>
              Clone into my conversations
            </button>
          ) : (
            <a href="/" onClick={() => rememberReturn(location.pathname)}>
              Sign in to clone it
            </a>
          )}
        </div>
      </header>
      <ErrorNote error={error} />
      <div class="messages" role="log" aria-label="Messages">
        {messages.map((m) => (
          <MessageView key={m.id} message={m} agentLabel={view?.agent?.name ?? "The agent"} userLabel={view?.group ? "A member" : "The owner"} />
        ))}
        {view?.next_cursor ? (
          <button type="button" class="load-earlier" onClick={() => page(view.next_cursor!)}>
            Load more
          </button>
        ) : null}
      </div>
    </main>
  );
}
