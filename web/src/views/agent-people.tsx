/**
 * Who works on an agent and with what: its team (viewers use it, editors change it; editors add
 * people by the email they signed in with and remove them) and its keys (editors: create with
 * scopes, the key shown once with a copy button; revoke). Actions a person may not take are not
 * offered.
 */
import type { AgentKey, CreatedAgentKey, TeamMember } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { CopyButton, ErrorNote, FieldError, formErrors, noErrors, type FormErrors } from "./error-note.js";

type Level = "viewer" | "editor";

export function TeamPanel({ hub, agentId, editable }: { hub: Hub; agentId: string; editable: boolean }) {
  const [members, setMembers] = useState<TeamMember[] | undefined>();
  const [email, setEmail] = useState("");
  const [level, setLevel] = useState<Level>("viewer");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    hub.rest.agents
      .team(agentId)
      .then((t) => setMembers(t.members))
      .catch((err) => setError(describe(err)));
  }, [agentId]);

  async function add(e: Event) {
    e.preventDefault();
    setErrors(noErrors);
    try {
      setMembers((await hub.rest.agents.addMember(agentId, { email: email.trim(), access_level: level })).members);
      setEmail("");
    } catch (err) {
      setErrors(formErrors(err, ["email", "access_level"]));
    }
  }
  async function remove(m: TeamMember) {
    setError(undefined);
    try {
      setMembers((await hub.rest.agents.removeMember(agentId, m.user_id ?? m.email!)).members);
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="team-title">
      <h3 id="team-title">Team</h3>
      <ErrorNote error={error} />
      <ul class="list team">
        {(members ?? []).map((m) => (
          <li key={m.user_id ?? m.email}>
            {m.name || m.email} <span class="muted">{m.email}</span> <span class="badge">{m.access_level}</span>{" "}
            {m.pending ? <span class="badge" title="Added by email: the access is theirs when they first sign in">pending</span> : null}{" "}
            {editable ? (
              <button type="button" class="small danger" aria-label={`Remove ${m.email}`} onClick={() => remove(m)}>
                Remove
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {editable ? (
        <form class="inline" aria-label="Add a teammate" onSubmit={add}>
          <label>
            <span class="sr-only">Teammate's email</span>
            <input type="email" placeholder="teammate@example.com" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
          </label>
          <label>
            <span class="sr-only">Access</span>
            <select value={level} onChange={(e) => setLevel(e.currentTarget.value as Level)}>
              <option value="viewer">viewer (uses the agent)</option>
              <option value="editor">editor (also changes it)</option>
            </select>
          </label>
          <button type="submit">Add to team</button>
          <FieldError errors={errors} field="email" />
          <ErrorNote error={errors.rest} />
        </form>
      ) : null}
      {editable ? <p class="muted">People join by the email they sign in with; someone who has not signed in yet cannot be added.</p> : null}
    </section>
  );
}

const SCOPES = ["sessions:read", "sessions:write", "channels:read", "channels:publish", "knowledge:read", "knowledge:write", "tools:execute", "turns:serve"] as const;
type Scope = (typeof SCOPES)[number];

export function KeysPanel({ hub, agentId, suggested }: { hub: Hub; agentId: string; suggested: Scope[] }) {
  const [keys, setKeys] = useState<AgentKey[]>([]);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(suggested);
  const [created, setCreated] = useState<CreatedAgentKey | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = () =>
    hub.rest.keys
      .list(agentId)
      .then((k) => setKeys(k.keys.filter((x) => !x.revoked_at)))
      .catch((err) => setError(describe(err)));
  useEffect(() => void load(), [agentId]);

  async function create(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      setCreated(await hub.rest.keys.create(agentId, { ...(name.trim() ? { name: name.trim() } : {}), scopes }));
      setName("");
      void load();
    } catch (err) {
      setError(describe(err));
    }
  }
  async function revoke(k: AgentKey) {
    setError(undefined);
    try {
      await hub.rest.keys.revoke(agentId, k.id);
      if (created?.id === k.id) setCreated(undefined);
      void load();
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="keys-title">
      <h3 id="keys-title">Keys</h3>
      <ul class="list keys">
        {keys.map((k) => (
          <li key={k.id}>
            <strong>{k.name ?? "unnamed"}</strong> <code>{k.prefix}…</code> <span class="muted">{k.scopes.join(", ")}</span>{" "}
            <button type="button" class="small danger" aria-label={`Revoke ${k.name ?? k.prefix}`} onClick={() => revoke(k)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      {keys.length ? null : <p class="muted">No key yet.</p>}
      <form class="form" aria-label="Create a key" onSubmit={create}>
        <label>
          Key name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={200} placeholder="prod" />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} class="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create key</button>
      </form>
      {created ? (
        <p role="status" class="secret">
          New key (shown once; copy it now): <code>{created.key}</code> <CopyButton text={created.key} label="Copy key" />
        </p>
      ) : null}
      <ErrorNote error={error} />
    </section>
  );
}
