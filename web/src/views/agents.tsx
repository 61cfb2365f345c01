/** Creating an agent (the caller becomes its editor), then on to its page to set it up. */
import { useState } from "preact/hooks";
import type { Hub } from "../hub.js";
import { go } from "../router.js";
import { showSecretOnce } from "./agent-page.js";
import { ErrorNote, FieldError, fieldErrorId, formErrors, noErrors, type FormErrors } from "./error-note.js";

const FIELDS = ["id", "name", "description", "server_url"] as const;

export function AgentForm({ hub, onCreated }: { hub: Hub; onCreated: () => void }) {
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [url, setUrl] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const invalid = (f: string) => (errors.fields.has(f) ? { "aria-invalid": true, "aria-describedby": fieldErrorId(f) } : {});
  return (
    <form
      class="panel form"
      aria-label="Create an agent"
      onSubmit={async (e) => {
        e.preventDefault();
        setErrors(noErrors);
        try {
          const agent = await hub.rest.agents.create({ id: id.trim(), name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}), ...(url.trim() ? { server_url: url.trim() } : {}) });
          onCreated();
          // Its page is where it is set up: endpoint, team, keys (and its endpoint secret, shown once).
          if (agent.endpoint_secret) showSecretOnce(agent.id, agent.endpoint_secret);
          go({ view: "agent", agentId: agent.id });
        } catch (err) {
          setErrors(formErrors(err, FIELDS));
        }
      }}
    >
      <label>
        Id (lowercase slug, e.g. logs-agent)
        {/* The browser checks patterns with the `v` flag, where a class's `-` must be escaped. */}
        <input
          value={id}
          onInput={(e) => setId(e.currentTarget.value)}
          required
          maxLength={64}
          pattern="[a-z0-9][a-z0-9_\-]{0,63}"
          title="1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
          {...invalid("id")}
        />
        <FieldError errors={errors} field="id" />
      </label>
      <label>
        Name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} {...invalid("name")} />
        <FieldError errors={errors} field="name" />
      </label>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} maxLength={2000} {...invalid("description")} />
        <FieldError errors={errors} field="description" />
      </label>
      <label>
        Agent server URL (optional; without one, the agent answers over a socket)
        <input type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} {...invalid("server_url")} />
        <FieldError errors={errors} field="server_url" />
      </label>
      <ErrorNote error={errors.rest} />
      <button type="submit" class="primary">
        Create agent
      </button>
    </form>
  );
}
