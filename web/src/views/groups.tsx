/** A group: its conversations (ask the group), its shared sessions, and its settings (agents, members). */
import type { Agent, Group, Session } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { go } from "../router.js";
import { ErrorNote } from "./error-note.js";

const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

export function GroupForm({ hub, agents, group, onSaved }: { hub: Hub; agents: Agent[]; group?: Group; onSaved: (g: Group) => void }) {
  const [name, setName] = useState(group?.name ?? "");
  const [picked, setPicked] = useState<string[]>(group?.agentIds ?? []);
  const [users, setUsers] = useState((group?.allowed_users ?? []).join("\n"));
  const [groups, setGroups] = useState((group?.allowed_groups ?? []).join("\n"));
  const [error, setError] = useState<string | undefined>();

  async function save(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      const body = { name: name.trim(), agentIds: picked, allowed_users: lines(users), allowed_groups: lines(groups) };
      onSaved(group ? await hub.rest.groups.replace(group.id, body) : await hub.rest.groups.create(body));
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <form class="panel form" onSubmit={save} aria-label={group ? "Edit the group" : "Create a group"}>
      <label>
        Name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} />
      </label>
      <fieldset>
        <legend>Agents (at least two)</legend>
        {agents.map((a) => (
          <label key={a.id} class="check">
            <input type="checkbox" checked={picked.includes(a.id)} onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, a.id] : picked.filter((p) => p !== a.id))} />
            {a.name} <code>{a.id}</code>
          </label>
        ))}
      </fieldset>
      <label>
        Members by email (one per line)
        <textarea value={users} onInput={(e) => setUsers(e.currentTarget.value)} rows={3} />
      </label>
      <label>
        Members by identity-provider group (one per line)
        <textarea value={groups} onInput={(e) => setGroups(e.currentTarget.value)} rows={2} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" class="primary">
        {group ? "Save group" : "Create group"}
      </button>
    </form>
  );
}

export function GroupView({ hub, groupId, agents, onChanged }: { hub: Hub; groupId: string; agents: Agent[]; onChanged: () => void }) {
  const [group, setGroup] = useState<Group | undefined>();
  const [conversations, setConversations] = useState<Session[]>([]);
  const [shared, setShared] = useState<Session[]>([]);
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState("");
  const [error, setError] = useState<string | undefined>();

  async function load() {
    try {
      setGroup(await hub.rest.groups.get(groupId));
      setConversations((await hub.rest.conversations.list(groupId, { limit: 100 })).sessions);
      setShared((await hub.rest.groups.sessions(groupId, { limit: 100 })).sessions);
    } catch (err) {
      setError(describe(err));
    }
  }
  useEffect(() => {
    setEditing(false);
    void load();
    const offs = [
      hub.live.on("group:session", (e) => e.groupId === groupId && void load()),
      // Changed, deleted or left on any node: show it as it is now, or say it is gone.
      hub.live.on("group:updated", (e) => {
        if (e.groupId !== groupId) return;
        if (e.action === "deleted" || e.action === "left") {
          setGroup(undefined);
          setError(e.action === "deleted" ? "This group was deleted." : "You are no longer a member of this group.");
        } else void load();
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [groupId]);

  async function start(e: Event) {
    e.preventDefault();
    try {
      const c = await hub.rest.conversations.create(groupId, title.trim() ? { title: title.trim() } : {});
      onChanged();
      go({ view: "conversation", groupId, sessionId: c.id });
    } catch (err) {
      setError(describe(err));
    }
  }

  if (!group) return <section class="panel">{error ? <ErrorNote error={error} /> : "Loading…"}</section>;
  const names = new Map(agents.map((a) => [a.id, a.name]));
  const isCreator = hub.me.kind === "user" && group.created_by === hub.me.user_id;
  return (
    <section aria-labelledby="group-title">
      <header class="view-header">
        <h2 id="group-title">{group.name}</h2>
        <div class="actions">
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Edit group
          </button>
          <button
            type="button"
            class="danger"
            onClick={async () => {
              if (!confirm(`Delete the group ${group.name} and its conversations?`)) return;
              try {
                await hub.rest.groups.remove(groupId);
                onChanged();
                go({ view: "home" });
              } catch (err) {
                setError(describe(err));
              }
            }}
          >
            Delete
          </button>
        </div>
      </header>
      <p class="muted">
        Agents: {group.agentIds.map((id) => names.get(id) ?? id).join(", ")} · Members: {isCreator ? "you (the creator)" : "its creator"}
        {group.allowed_users.length ? `, ${group.allowed_users.join(", ")}` : ""}
        {group.allowed_groups.length ? `, groups ${group.allowed_groups.join(", ")}` : ""}
      </p>
      <ErrorNote error={error} />
      {editing ? (
        <GroupForm
          hub={hub}
          agents={agents}
          group={group}
          onSaved={(g) => {
            setGroup(g);
            setEditing(false);
            onChanged();
          }}
        />
      ) : null}
      <div class="panel">
        <h3>Conversations</h3>
        <form class="inline" onSubmit={start}>
          <label>
            <span class="sr-only">New conversation title</span>
            <input placeholder="New conversation title (optional)" value={title} onInput={(e) => setTitle(e.currentTarget.value)} maxLength={200} />
          </label>
          <button type="submit" class="primary">
            New conversation
          </button>
        </form>
        <ul class="list">
          {conversations.map((c) => (
            <li key={c.id}>
              <a href={`#/groups/${encodeURIComponent(groupId)}/conversations/${c.id}`}>{c.title}</a> <span class="muted">{c.message_count} messages</span>
            </li>
          ))}
        </ul>
      </div>
      <div class="panel">
        <h3>Shared sessions</h3>
        {shared.length ? (
          <ul class="list">
            {shared.map((s) => (
              <li key={s.id}>
                <a href={`#/agents/${encodeURIComponent(s.agent_id ?? "")}/sessions/${s.id}`}>{s.title}</a> <span class="muted">with {names.get(s.agent_id ?? "") ?? s.agent_id}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No session is shared with this group yet.</p>
        )}
      </div>
    </section>
  );
}
