/** A group: its conversations (ask the group), its shared sessions, and its settings (agents, members). */
import type { Agent, Group, Session, WorkspaceMember } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { cannotChangeGroup } from "../permissions.js";
import { go } from "../router.js";
import { ErrorNote, FieldError, fieldErrorId, formErrors, noErrors, type FormErrors } from "./error-note.js";

const GROUP_FIELDS = ["name", "agentIds", "allowed_users", "allowed_groups"] as const;

/** The fields a refusal names that belong to the form's lists (`agentIds.0`, `allowed_users.2`). */
const fieldsOf = (err: unknown): string[] =>
  ((err as { errors?: Array<{ field: string }> }).errors ?? []).map((e) => e.field).filter((f) => GROUP_FIELDS.some((g) => f.startsWith(`${g}.`)));

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
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const invalid = (f: string) => (errors.fields.has(f) ? { "aria-invalid": true, "aria-describedby": fieldErrorId(f) } : {});

  async function save(e: Event) {
    e.preventDefault();
    setErrors(noErrors);
    try {
      const body = { name: name.trim(), agentIds: picked, allowed_users: lines(users), allowed_groups: lines(groups) };
      onSaved(group ? await hub.rest.groups.replace(group.id, body) : await hub.rest.groups.create(body));
    } catch (err) {
      // Errors of one entry (`allowed_users.1`) stand by the list they are in.
      const shown = formErrors(err, [...GROUP_FIELDS, ...fieldsOf(err)]);
      const fields = new Map<string, string>();
      for (const [field, message] of shown.fields) {
        const list = field.split(".")[0]!;
        fields.set(list, fields.has(list) ? `${fields.get(list)}; ${message}` : message);
      }
      setErrors({ fields, rest: shown.rest });
    }
  }

  return (
    <form class="panel form" onSubmit={save} aria-label={group ? "Edit the group" : "Create a group"}>
      <label>
        Name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} {...invalid("name")} />
        <FieldError errors={errors} field="name" />
      </label>
      <fieldset {...invalid("agentIds")}>
        <legend>Agents (at least two)</legend>
        {agents.map((a) => (
          <label key={a.id} class="check">
            <input type="checkbox" checked={picked.includes(a.id)} onChange={(e) => setPicked(e.currentTarget.checked ? [...picked, a.id] : picked.filter((p) => p !== a.id))} />
            {a.name} <code>{a.id}</code>
          </label>
        ))}
        <FieldError errors={errors} field="agentIds" />
      </fieldset>
      <label>
        Members by email (one per line)
        <textarea value={users} onInput={(e) => setUsers(e.currentTarget.value)} rows={3} {...invalid("allowed_users")} />
        <FieldError errors={errors} field="allowed_users" />
      </label>
      <label>
        Members by identity-provider group (one per line)
        <textarea value={groups} onInput={(e) => setGroups(e.currentTarget.value)} rows={2} {...invalid("allowed_groups")} />
        <FieldError errors={errors} field="allowed_groups" />
      </label>
      <ErrorNote error={errors.rest} />
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
  const [people, setPeople] = useState<WorkspaceMember[]>([]);

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
    // Names for the creator (the list of people may be refused: then the group shows emails only).
    hub.rest.agents
      .workspaceTeam(hub.me.workspace_id, { limit: 200 })
      .then((t) => setPeople(t.members))
      .catch(() => undefined);
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
  const refusal = cannotChangeGroup(hub.me, group);
  const me = hub.me.kind === "user" ? hub.me : undefined;
  const creator = group.created_by === null ? undefined : people.find((p) => p.user_id === group.created_by);
  const creatorLabel = me && group.created_by === me.user_id ? "you" : creator ? `${creator.name || creator.email}` : group.created_by === null ? "a key" : `user ${group.created_by}`;
  return (
    <section aria-labelledby="group-title">
      <header class="view-header">
        <h2 id="group-title">{group.name}</h2>
        <div class="actions">
          {refusal ? <p class="muted refusal">{refusal}.</p> : null}
          {refusal ? null : (
            <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
              Edit group
            </button>
          )}
          {refusal ? null : (
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
          )}
        </div>
      </header>
      <div class="panel group-roster">
        <div>
          <h3>Agents</h3>
          <ul class="list">
            {group.agentIds.map((id) => (
              <li key={id}>
                {names.get(id) ?? id} <code>{id}</code>
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h3>Members</h3>
          <ul class="list members">
            <li>
              {creatorLabel} <span class="badge">created the group</span>
            </li>
            {group.allowed_users.map((email) => (
              <li key={email}>
                {people.find((p) => p.email.toLowerCase() === email.toLowerCase())?.name || email} <span class="muted">{email}</span>
                {me && me.email.toLowerCase() === email.toLowerCase() ? <span class="badge">you</span> : null}
              </li>
            ))}
            {group.allowed_groups.map((g) => (
              <li key={`g:${g}`}>
                everyone in <strong>{g}</strong> <span class="muted">(identity-provider group)</span>
              </li>
            ))}
          </ul>
          <p class="muted">Members ask the group's agents here, even when they are not on an agent's team.</p>
        </div>
      </div>
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
