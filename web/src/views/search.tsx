/**
 * The sidebar's search: titles and message content of every session and group conversation the
 * person may read (GET /api/sessions/search, on the hub), plus channels by name. Says so when
 * nothing matches.
 */
import type { Channel, SessionSearchPage } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { href } from "../router.js";
import "./people.css";

const DEBOUNCE_MS = 250;

export function SearchResults({ hub, q, channels, agentNames, groupNames }: { hub: Hub; q: string; channels: Channel[]; agentNames: Map<string, string>; groupNames: Map<string, string> }) {
  const [page, setPage] = useState<SessionSearchPage | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(true);
  useEffect(() => {
    let current = true;
    setBusy(true);
    const timer = setTimeout(() => {
      hub.rest.sessions
        .search({ q, limit: 20 })
        .then((p) => current && (setPage(p), setError(undefined)))
        .catch((err) => current && setError(describe(err)))
        .finally(() => current && setBusy(false));
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [q]);

  const lower = q.toLowerCase();
  const matchingChannels = channels.filter((c) => c.name.toLowerCase().includes(lower));
  const results = page?.results ?? [];
  return (
    <section aria-labelledby="nav-search" class="search-results">
      <h2 id="nav-search">Search results</h2>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
      {busy && !page ? <p class="muted">Searching…</p> : null}
      {!busy && !error && !results.length && !matchingChannels.length ? (
        <p class="muted" role="status">
          No results for “{q}”.
        </p>
      ) : null}
      <ul>
        {results.map(({ session: s, match }) => (
          <li key={s.id}>
            <a href={s.agent_id ? href({ view: "session", agentId: s.agent_id, sessionId: s.id }) : href({ view: "conversation", groupId: s.group_id ?? "", sessionId: s.id })}>
              {s.title}
              <span class="muted"> · {s.agent_id ? (agentNames.get(s.agent_id) ?? s.agent_id) : (groupNames.get(s.group_id ?? "") ?? "group")}</span>
              {match ? <span class="snippet">{match.snippet}</span> : null}
            </a>
          </li>
        ))}
        {matchingChannels.map((c) => (
          <li key={c.id}>
            <a href={href({ view: "channel", channelId: c.id })}># {c.name}</a>
          </li>
        ))}
      </ul>
      {page?.next_cursor ? <p class="muted">More match: refine the search to narrow them.</p> : null}
    </section>
  );
}
