/** Creating an agent (the caller becomes its editor), then on to its page to set it up. */
import { useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { go } from "../router.js";
import { showSecretOnce } from "./agent-page.js";
import { ErrorNote } from "./error-note.js";

export function AgentForm({ hub, onCreated }: { hub: Hub; onCreated: () => void }) {
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [url, setUrl] = useState("");
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      class="panel form"
      aria-label="Create an agent"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          const agent = await hub.rest.agents.create({ id: id.trim(), name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}), ...(url.trim() ? { server_url: url.trim() } : {}) });
          onCreated();
          // Its page is where it is set up: endpoint, team, keys (and its endpoint secret, shown once).
          if (agent.endpoint_secret) showSecretOnce(agent.id, agent.endpoint_secret);
          go({ view: "agent", agentId: agent.id });
        } catch (err) {
          setError(describe(err));
        }
      }}
    >
      <label>
        Id (lowercase slug, e.g. logs-agent)
        <input value={id} onInput={(e) => setId(e.currentTarget.value)} required pattern="[a-z0-9][a-z0-9_-]{0,63}" />
      </label>
      <label>
        Name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} />
      </label>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} maxLength={2000} />
      </label>
      <label>
        Agent server URL (optional; without one, the agent answers over a socket)
        <input type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" class="primary">
        Create agent
      </button>
    </form>
  );
}
