/**
 * "Give access" beside a share link: an editor of the session's agent adds a teammate to the
 * agent's team by email (a pending invitation when they have not signed in yet, or when their
 * email is not verified), so the person they share with can clone the conversation. Shown only
 * to the agent's editors; others are told who may give access.
 */
import type { Agent, TeamMember } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { ErrorNote } from "./error-note.js";
import "./people.css";

export function GiveAccess({ hub, agentId }: { hub: Hub; agentId: string }) {
  const [agent, setAgent] = useState<Agent | undefined>();
  const [editors, setEditors] = useState<TeamMember[]>([]);
  const [email, setEmail] = useState("");
  const [level, setLevel] = useState<"viewer" | "editor">("viewer");
  const [note, setNote] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    void hub.rest.agents
      .get(agentId)
      .then(async (a) => {
        setAgent(a);
        if (a.access_level !== "editor") setEditors((await hub.rest.agents.team(agentId)).members.filter((m) => m.access_level === "editor" && !m.pending));
      })
      .catch(() => undefined);
  }, [agentId]);

  if (!agent) return null;
  if (agent.access_level !== "editor") {
    const names = editors.map((m) => m.name || m.email);
    return (
      <p class="muted give-access">
        People need access to {agent.name} to clone this conversation.{" "}
        {names.length ? `Ask ${names.slice(0, 3).join(", ")} (its editors) to give it to them.` : "Ask an editor of the agent or a workspace admin to give it to them."}
      </p>
    );
  }
  return (
    <form
      class="inline give-access"
      aria-label={`Give a teammate access to ${agent.name}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        setNote(undefined);
        try {
          const { members } = await hub.rest.agents.addMember(agentId, { email: email.trim(), access_level: level });
          const added = members.find((m) => m.email.toLowerCase() === email.trim().toLowerCase());
          setNote(
            added?.pending
              ? `${email.trim()} is invited: they get access to ${agent.name} when they sign in.`
              : `${added?.name || email.trim()} now has access to ${agent.name} and can clone this conversation.`,
          );
          setEmail("");
        } catch (err) {
          setError(describe(err));
        }
      }}
    >
      <p class="muted">Only people with access to {agent.name} can clone this conversation.</p>
      <label>
        Give access by email
        <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} placeholder="teammate@example.com" />
      </label>
      <label>
        as
        <select value={level} onChange={(e) => setLevel(e.currentTarget.value as "viewer" | "editor")}>
          <option value="viewer">Viewer</option>
          <option value="editor">Editor</option>
        </select>
      </label>
      <button type="submit">Give access</button>
      <ErrorNote error={error} />
      {note ? <p role="status">{note}</p> : null}
    </form>
  );
}
