/** The agenthub web app: sign-in, a sidebar of conversations, and the views they open. */
import type { Agent, Channel, Group, Session } from "agenthub/client";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { describe, savedToken, signIn, signOut, takeReturn, type Hub } from "./hub.js";
import { go, href, useRoute, type Route } from "./router.js";
import "./styles.css";
import { AgentForm } from "./views/agents.js";
import { AgentPage } from "./views/agent-page.js";
import { ChannelForm, ChannelView } from "./views/channels.js";
import { Conversation } from "./views/conversation.js";
import { GroupForm, GroupView } from "./views/groups.js";
import { SharedPage } from "./views/share.js";
import { SignIn } from "./views/signin.js";
import { KnowledgePage } from "./views/knowledge.js";
import { ApprovalsPage, usePendingApprovals } from "./views/approvals.js";
import { isAdmin } from "./permissions.js";
import { ErrorNote } from "./views/error-note.js";
import { applySavedTheme, ThemeToggle } from "./theme.js";
import { SearchResults } from "./views/search.js";
import { loadUnread, saveUnread, tabTitle } from "./unread.js";

interface Directory {
  agents: Agent[];
  sessions: Map<string, Session[]>;
  groups: Group[];
  conversations: Map<string, Session[]>;
  channels: Channel[];
}

const empty: Directory = { agents: [], sessions: new Map(), groups: [], conversations: new Map(), channels: [] };

async function loadDirectory(hub: Hub): Promise<Directory> {
  const { rest } = hub;
  const [agents, groups, channels] = await Promise.all([rest.agents.list({ limit: 200 }), rest.groups.list({ limit: 200 }), rest.channels.list({ limit: 200 })]);
  const sessions = new Map(await Promise.all(agents.agents.map(async (a) => [a.id, (await rest.sessions.list(a.id, { limit: 50 })).sessions] as const)));
  const conversations = new Map(await Promise.all(groups.groups.map(async (g) => [g.id, (await rest.conversations.list(g.id, { limit: 50 })).sessions] as const)));
  return { agents: agents.agents, sessions, groups: groups.groups, conversations, channels: channels.channels };
}

function App() {
  const [hub, setHub] = useState<Hub | undefined>();
  const [restoring, setRestoring] = useState(() => !!savedToken());
  useEffect(() => {
    const token = savedToken();
    if (!token) return;
    signIn(token)
      .then(setHub)
      .catch(() => signOut(undefined))
      .finally(() => setRestoring(false));
  }, []);
  if (restoring) return <p class="loading">Signing in…</p>;
  if (!hub)
    return (
      <SignIn
        onSignedIn={(h) => {
          // Signed in from a shared link: back to it (now with "Clone").
          const back = takeReturn();
          if (back) location.assign(back);
          else setHub(h);
        }}
      />
    );
  return <Workspace hub={hub} onSignOut={() => void signOut(hub).then(() => setHub(undefined))} />;
}

function Workspace({ hub, onSignOut }: { hub: Hub; onSignOut: () => void }) {
  const route = useRoute();
  const [dir, setDir] = useState<Directory>(empty);
  const [error, setError] = useState<string | undefined>();
  // Unread markers persist per user in this browser (unread.ts); the tab's title counts them.
  const [unread, setUnread] = useState<Set<string>>(() => loadUnread(hub.me));
  const [online, setOnline] = useState(true);
  const [search, setSearch] = useState("");
  const [navOpen, setNavOpen] = useState(false);
  const openId = route.view === "session" || route.view === "conversation" ? route.sessionId : route.view === "channel" ? route.channelId : undefined;

  const refresh = () =>
    loadDirectory(hub)
      .then((d) => {
        setDir(d);
        setError(undefined);
        // Markers of what is gone (deleted, left) or never listed here do not count.
        const known = new Set([...d.sessions.values(), ...d.conversations.values()].flat().map((x) => x.id).concat(d.channels.map((c) => c.id)));
        setUnread((u) => ([...u].every((id) => known.has(id)) ? u : new Set([...u].filter((id) => known.has(id)))));
      })
      .catch((err) => setError(describe(err)));

  useEffect(() => {
    void refresh();
    const mark = (id: string) => setUnread((u) => (id === currentOpen() || u.has(id) ? u : new Set(u).add(id)));
    // New groups and channels, joins and leaves, on any node: the sidebar reloads (coalesced).
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refreshSoon = () => {
      if (pending === undefined) pending = setTimeout(() => ((pending = undefined), void refresh()), 100);
    };
    const offs = [
      hub.live.on("group:updated", refreshSoon),
      hub.live.on("channel:updated", refreshSoon),
      hub.live.on("session:message", ({ sessionId }) => mark(sessionId)),
      hub.live.on("channel:message", (m) => mark(m.channelId)),
      hub.live.on("ask:updated", ({ ask }) => mark((ask as { session_id: string }).session_id)),
      hub.live.on("session:updated", () => void refresh()),
      hub.live.on("group:session", () => void refresh()),
      hub.live.on("connect", () => setOnline(true)),
      hub.live.on("disconnect", () => setOnline(false)),
    ];
    return () => {
      clearTimeout(pending);
      offs.forEach((off) => off());
    };
  }, []);

  useEffect(() => {
    saveUnread(hub.me, unread);
    document.title = tabTitle(unread.size);
  }, [unread]);

  // The channels are watched from now, for unread markers (a channel's own view replays history).
  useEffect(() => {
    // From the count the directory was loaded with: a post made since (a new channel's first) is not missed.
    for (const ch of dir.channels.slice(0, 50)) {
      if (hub.live.position("channel", ch.id) === undefined) void hub.live.watchChannel(ch.id, { since: ch.messageCount }).catch(() => undefined);
    }
  }, [dir.channels.map((c) => c.id).join()]);

  useEffect(() => {
    if (openId) setUnread((u) => (u.has(openId) ? new Set([...u].filter((x) => x !== openId)) : u));
    setNavOpen(false);
  }, [openId]);
  const currentOpen = () => {
    const r = location.hash;
    return r.split("/").pop();
  };

  const agentNames = useMemo(() => new Map(dir.agents.map((a) => [a.id, a.name])), [dir.agents]);
  const pending = usePendingApprovals(hub);
  const me = hub.me;
  const newSession = async (agentId: string) => {
    try {
      const s = await hub.rest.sessions.create(agentId, {});
      void refresh();
      go({ view: "session", agentId, sessionId: s.id });
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <div class="layout">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button type="button" class="nav-toggle" aria-controls="sidebar" aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
          Menu
        </button>
        <a class="brand" href="#/">
          agenthub
        </a>
        <span class={`status ${online ? "online" : "offline"}`} role="status">
          {online ? "Live" : "Reconnecting…"}
        </span>
        {me.kind === "user" ? (
          <a
            href={href({ view: "approvals" })}
            class="approvals-link"
            aria-current={route.view === "approvals" ? "page" : undefined}
            aria-label={`Approvals: ${pending.approvals.length} pending`}
          >
            Approvals{pending.approvals.length ? <span class="badge count">{pending.approvals.length}</span> : null}
          </a>
        ) : null}
        {isAdmin(me) ? (
          <a href={href({ view: "knowledge" })} aria-current={route.view === "knowledge" ? "page" : undefined}>
            Knowledge
          </a>
        ) : null}
        <ThemeToggle />
        <span class="me">{me.kind === "user" ? me.name || me.email : me.kind}</span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Sidebar hub={hub} dir={dir} agentNames={agentNames} search={search} setSearch={setSearch} unread={unread} openId={openId} open={navOpen} onNewSession={newSession} />
      <main id="main" tabIndex={-1}>
        <ErrorNote error={error} />
        <View hub={hub} route={route} dir={dir} agentNames={agentNames} refresh={refresh} pending={pending} />
      </main>
    </div>
  );
}

function Sidebar(props: {
  hub: Hub;
  dir: Directory;
  agentNames: Map<string, string>;
  search: string;
  setSearch: (s: string) => void;
  unread: Set<string>;
  openId: string | undefined;
  open: boolean;
  onNewSession: (agentId: string) => void;
}) {
  const { hub, dir, agentNames, search, setSearch, unread, openId, open, onNewSession } = props;
  const q = search.trim();
  const item = (id: string, title: string, link: string) => (
    <li key={id}>
      <a href={link} aria-current={openId === id ? "page" : undefined} class={unread.has(id) ? "unread" : undefined}>
        {title}
        {unread.has(id) ? <span class="dot" aria-label="new activity" /> : null}
      </a>
    </li>
  );
  return (
    <nav id="sidebar" class={`sidebar${open ? " open" : ""}`} aria-label="Conversations">
      <label class="search">
        <span class="sr-only">Search conversations and channels</span>
        <input type="search" placeholder="Search titles and messages" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
      </label>
      {q ? (
        <SearchResults hub={hub} q={q} channels={dir.channels} agentNames={agentNames} groupNames={new Map(dir.groups.map((g) => [g.id, g.name]))} />
      ) : (
        <Directories dir={dir} item={item} onNewSession={onNewSession} />
      )}
    </nav>
  );
}

/** The sidebar's lists: sessions by agent, group conversations by group, team channels. */
function Directories({ dir, item, onNewSession }: { dir: Directory; item: (id: string, title: string, link: string) => preact.JSX.Element; onNewSession: (agentId: string) => void }) {
  return (
    <>
      <section aria-labelledby="nav-sessions">
        <h2 id="nav-sessions">Sessions</h2>
        {dir.agents.map((a) => {
          const sessions = dir.sessions.get(a.id) ?? [];
          return (
            <div class="nav-group" key={a.id}>
              <h3>
                <a href={href({ view: "agent", agentId: a.id })} aria-label={`Settings of ${a.name}`}>
                  {a.name}
                </a>{" "}
                <button type="button" class="small" aria-label={`New session with ${a.name}`} onClick={() => onNewSession(a.id)}>
                  +
                </button>
              </h3>
              <ul>{sessions.map((s) => item(s.id, s.title, href({ view: "session", agentId: a.id, sessionId: s.id })))}</ul>
            </div>
          );
        })}
        <a class="add" href={href({ view: "new-agent" })}>
          + New agent
        </a>
      </section>
      <section aria-labelledby="nav-groups">
        <h2 id="nav-groups">Groups</h2>
        {dir.groups.map((g) => (
          <div class="nav-group" key={g.id}>
            <h3>
              <a href={href({ view: "group", groupId: g.id })}>{g.name}</a>
            </h3>
            <ul>{(dir.conversations.get(g.id) ?? []).map((c) => item(c.id, c.title, href({ view: "conversation", groupId: g.id, sessionId: c.id })))}</ul>
          </div>
        ))}
        <a class="add" href={href({ view: "new-group" })}>
          + New group
        </a>
      </section>
      <section aria-labelledby="nav-channels">
        <h2 id="nav-channels">Team channels</h2>
        <ul>{dir.channels.map((c) => item(c.id, `# ${c.name}`, href({ view: "channel", channelId: c.id })))}</ul>
        <a class="add" href={href({ view: "new-channel" })}>
          + New channel
        </a>
      </section>
    </>
  );
}

function View(props: { hub: Hub; route: Route; dir: Directory; agentNames: Map<string, string>; refresh: () => void; pending: ReturnType<typeof usePendingApprovals> }) {
  const { hub, route, dir, agentNames, refresh, pending } = props;
  switch (route.view) {
    case "session":
      return <Conversation key={route.sessionId} hub={hub} where={{ kind: "agent", agentId: route.agentId, sessionId: route.sessionId }} agentNames={agentNames} onChanged={refresh} />;
    case "conversation": {
      const group = dir.groups.find((g) => g.id === route.groupId);
      return (
        <Conversation
          key={route.sessionId}
          hub={hub}
          where={{ kind: "group", groupId: route.groupId, sessionId: route.sessionId, agentIds: group?.agentIds ?? [] }}
          agentNames={agentNames}
          onChanged={refresh}
        />
      );
    }
    case "group":
      return <GroupView hub={hub} groupId={route.groupId} agents={dir.agents} onChanged={refresh} />;
    case "new-group":
      return (
        <section aria-labelledby="new-group-title">
          <h2 id="new-group-title">New group</h2>
          <GroupForm
            hub={hub}
            agents={dir.agents}
            onSaved={(g) => {
              refresh();
              go({ view: "group", groupId: g.id });
            }}
          />
        </section>
      );
    case "channel":
      return <ChannelView key={route.channelId} hub={hub} channelId={route.channelId} agents={dir.agents} />;
    case "new-channel":
      return (
        <section aria-labelledby="new-channel-title">
          <h2 id="new-channel-title">New team channel</h2>
          <ChannelForm hub={hub} onCreated={refresh} />
        </section>
      );
    case "new-agent":
      return (
        <section aria-labelledby="new-agent-title">
          <h2 id="new-agent-title">New agent</h2>
          <AgentForm hub={hub} onCreated={refresh} />
        </section>
      );
    case "agent":
      return <AgentPage key={route.agentId} hub={hub} agentId={route.agentId} onChanged={refresh} />;
    case "knowledge":
      return <KnowledgePage hub={hub} />;
    case "approvals": {
      const titles = new Map([...dir.sessions.values(), ...dir.conversations.values()].flat().map((s) => [s.id, s.title]));
      return <ApprovalsPage hub={hub} pending={pending} agentNames={agentNames} groupNames={new Map(dir.groups.map((g) => [g.id, g.name]))} sessionTitles={titles} />;
    }
    case "home":
      return <Home hub={hub} dir={dir} refresh={refresh} />;
  }
}

function Home({ hub, dir, refresh }: { hub: Hub; dir: Directory; refresh: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  async function tryDemo() {
    setBusy(true);
    setError(undefined);
    try {
      const res = await fetch("/api/local/demo-agent", { method: "POST", headers: { authorization: `Bearer ${savedToken()}` } });
      const body = (await res.json()) as { agent_id?: string; detail?: string };
      if (!res.ok || !body.agent_id) throw new Error(body.detail ?? `The demo agent could not be made (the hub answered ${res.status})`);
      const session = await hub.rest.sessions.create(body.agent_id, { title: "Trying the demo agent" });
      refresh();
      go({ view: "session", agentId: body.agent_id, sessionId: session.id });
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="home" aria-labelledby="home-title">
      <h2 id="home-title">Welcome{hub.me.kind === "user" ? `, ${hub.me.name || hub.me.email}` : ""}</h2>
      <p>
        Pick a session, a group conversation or a team channel on the left. {dir.agents.length ? null : "You have no agent yet."} Agents answer live: thinking, tool calls, sources and the answer
        stream in as they come.
      </p>
      <div class="actions">
        <button type="button" class="primary" onClick={tryDemo} disabled={busy}>
          Try the demo agent
        </button>
        <a class="button" href={href({ view: "new-agent" })}>
          Create an agent
        </a>
      </div>
      <p class="muted">The demo agent needs no model: it runs inside this hub when it is the embedded default; elsewhere run `npx agenthub agent demo --key …`.</p>
      <ErrorNote error={error} />
    </section>
  );
}

applySavedTheme();
const shared = /^\/shared\/([^/]+)$/.exec(location.pathname);
render(shared ? <SharedPage token={decodeURIComponent(shared[1]!)} /> : <App />, document.getElementById("app")!);
