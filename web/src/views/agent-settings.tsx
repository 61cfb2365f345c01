/**
 * An agent's settings: name, description and how the hub reaches it (its `endpoint`, one
 * protocol with the fields it needs), saved with one PATCH whose 422 errors appear next to their
 * fields; "Test connection" says in words what the saved endpoint answers. Viewers see the same
 * settings read-only, and a model's API key only as "set" / "not set", never its value.
 */
import type { Agent, AgentWithSecret, EndpointCheck, UpdateAgentBody } from "agenthub/client";
import { useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { CopyButton, ErrorNote, FieldError, fieldErrorId, formErrors, noErrors, type FormErrors } from "./error-note.js";
import { useMcpServers } from "./mcp-servers.js";

type Endpoint = Agent["endpoint"];
type Protocol = Endpoint["protocol"];
type EndpointBody = NonNullable<UpdateAgentBody["endpoint"]>;

const PROTOCOL_NAMES: Record<Protocol, string> = {
  socket: "Socket (the agent connects to the hub)",
  sharely: "Sharely agent server (HTTP + SSE)",
  a2a: "A2A agent (Agent2Agent)",
  agui: "AG-UI agent",
  adk: "Google ADK API server",
  model: "A model (OpenAI-compatible API), run by the hub",
};
const FIELDS = ["name", "description", "endpoint", "endpoint.protocol", "endpoint.url", "endpoint.app", "endpoint.model", "endpoint.apiKey", "endpoint.system", "endpoint.tools", "endpoint.mcpServers", "endpoint.maxSteps", "server_url"];

/** The form's fields, from the agent's endpoint as the hub answers it. */
function fieldsOf(agent: Agent) {
  // Every protocol's fields, absent where this one has none.
  const e = agent.endpoint as { protocol: Protocol } & Partial<Omit<Extract<Endpoint, { protocol: "model" }>, "protocol"> & Omit<Extract<Endpoint, { protocol: "adk" }>, "protocol">>;
  return {
    name: agent.name,
    description: agent.description ?? "",
    protocol: e.protocol,
    url: e.url ?? "",
    app: e.app ?? "",
    model: e.model ?? "",
    apiKey: "",
    clearKey: false,
    system: e.system ?? "",
    tools: e.tools ?? false,
    mcpServers: e.mcpServers ?? [],
    maxSteps: e.maxSteps === undefined ? "" : String(e.maxSteps),
  };
}
type Fields = ReturnType<typeof fieldsOf>;

function endpointBody(f: Fields, mcpShown: boolean): EndpointBody {
  const url = f.url.trim();
  switch (f.protocol) {
    case "socket":
      return { protocol: "socket" };
    case "adk":
      return { protocol: "adk", url, app: f.app.trim() };
    case "model":
      return {
        protocol: "model",
        url,
        model: f.model.trim(),
        ...(f.system.trim() ? { system: f.system } : {}),
        tools: f.tools,
        ...(mcpShown || f.mcpServers.length ? { mcpServers: f.mcpServers } : {}),
        ...(f.maxSteps.trim() ? { maxSteps: Number(f.maxSteps) } : {}),
        ...(f.apiKey ? { apiKey: f.apiKey } : f.clearKey ? { apiKey: null } : {}),
      };
    default:
      return { protocol: f.protocol, url };
  }
}

export function AgentSettings({ hub, agent, onSaved }: { hub: Hub; agent: Agent; onSaved: (a: AgentWithSecret) => void }) {
  const editable = agent.access_level === "editor";
  const [f, setF] = useState(() => fieldsOf(agent));
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [saved, setSaved] = useState<string | undefined>();
  const [secret, setSecret] = useState<string | undefined>();
  const mcp = useMcpServers(hub, f.protocol === "model");
  const set = <K extends keyof Fields>(key: K, value: Fields[K]) => {
    setF((old) => ({ ...old, [key]: value }));
    setSaved(undefined);
  };
  const keySet = agent.endpoint.protocol === "model" && agent.endpoint.apiKeySet === true;

  async function save(e: Event) {
    e.preventDefault();
    setErrors(noErrors);
    try {
      const answer = await hub.rest.agents.update(agent.id, { name: f.name.trim(), description: f.description.trim() || null, endpoint: endpointBody(f, mcp !== undefined) });
      setSecret(answer.endpoint_secret);
      setF(fieldsOf(answer));
      setSaved("Saved.");
      onSaved(answer);
    } catch (err) {
      setErrors(formErrors(err, FIELDS));
    }
  }

  const input = (field: keyof Fields & string, path: string, props: Record<string, unknown> = {}) => (
    <input
      value={String(f[field])}
      onInput={(e) => set(field, e.currentTarget.value as never)}
      aria-invalid={errors.fields.has(path) || undefined}
      aria-describedby={errors.fields.has(path) ? fieldErrorId(path) : undefined}
      {...props}
    />
  );
  const needsUrl = f.protocol !== "socket";
  return (
    <form class="panel form" aria-label="Agent settings" onSubmit={save}>
      <fieldset disabled={!editable} class="plain">
        <label>
          Name
          {input("name", "name", { required: true, maxLength: 200 })}
          <FieldError errors={errors} field="name" />
        </label>
        <label>
          Description
          {input("description", "description", { maxLength: 2000 })}
          <FieldError errors={errors} field="description" />
        </label>
        <label>
          Protocol
          <select value={f.protocol} onChange={(e) => set("protocol", e.currentTarget.value as Protocol)}>
            {(Object.keys(PROTOCOL_NAMES) as Protocol[]).map((p) => (
              <option key={p} value={p}>
                {PROTOCOL_NAMES[p]}
              </option>
            ))}
          </select>
          <FieldError errors={errors} field="endpoint" />
        </label>
        {needsUrl ? (
          <label>
            {f.protocol === "model" ? "Base URL (…/v1)" : f.protocol === "a2a" ? "URL (its card is at /.well-known/agent-card.json under it)" : "URL"}
            {input("url", "endpoint.url", { type: "url", placeholder: "https://…" })}
            <FieldError errors={errors} field="endpoint.url" />
          </label>
        ) : null}
        {f.protocol === "adk" ? (
          <label>
            App
            {input("app", "endpoint.app", { placeholder: "weather_agent" })}
            <FieldError errors={errors} field="endpoint.app" />
          </label>
        ) : null}
        {f.protocol === "model" ? <ModelFields f={f} set={set} input={input} errors={errors} editable={editable} keySet={keySet} mcp={mcp} /> : null}
      </fieldset>
      <ErrorNote error={errors.rest} />
      {saved ? <p role="status">{saved}</p> : null}
      {secret ? (
        <p role="status">
          Endpoint secret (shown once; the hub signs its calls to the agent server with it): <code>{secret}</code> <CopyButton text={secret} label="Copy secret" />
        </p>
      ) : null}
      {editable ? (
        <div class="actions">
          <button type="submit" class="primary">
            Save
          </button>
          <TestConnection hub={hub} agentId={agent.id} />
        </div>
      ) : null}
    </form>
  );
}

function ModelFields(props: {
  f: Fields;
  set: <K extends keyof Fields>(key: K, value: Fields[K]) => void;
  input: (field: keyof Fields & string, path: string, props?: Record<string, unknown>) => preact.JSX.Element;
  errors: FormErrors;
  editable: boolean;
  keySet: boolean;
  mcp: Array<{ id: string; name: string }> | undefined;
}) {
  const { f, set, input, errors, editable, keySet, mcp } = props;
  return (
    <>
      <label>
        Model
        {input("model", "endpoint.model", { placeholder: "gpt-4o-mini, llama3.1, …" })}
        <FieldError errors={errors} field="endpoint.model" />
      </label>
      <div>
        <span>API key: {keySet && !f.clearKey ? "set" : "not set"}</span>
        {editable ? (
          <div class="inline">
            <label>
              <span class="sr-only">API key</span>
              {input("apiKey", "endpoint.apiKey", { type: "password", autoComplete: "off", placeholder: keySet ? "type a new key to replace it" : "the model server's API key" })}
            </label>
            {keySet ? (
              <label class="check">
                <input type="checkbox" checked={f.clearKey} onChange={(e) => set("clearKey", e.currentTarget.checked)} /> Clear the key
              </label>
            ) : null}
          </div>
        ) : null}
        <FieldError errors={errors} field="endpoint.apiKey" />
      </div>
      <label>
        System prompt
        <textarea rows={4} value={f.system} onInput={(e) => set("system", e.currentTarget.value)} maxLength={32000} />
        <FieldError errors={errors} field="endpoint.system" />
      </label>
      <label class="check">
        <input type="checkbox" checked={f.tools} onChange={(e) => set("tools", e.currentTarget.checked)} /> Knowledge tools (search the workspace's knowledge)
      </label>
      {mcp ? (
        <fieldset>
          <legend>MCP servers</legend>
          {mcp.length ? null : <p class="muted">No MCP server is open to you.</p>}
          {mcp.map((s) => (
            <label key={s.id} class="check">
              <input type="checkbox" checked={f.mcpServers.includes(s.id)} onChange={(e) => set("mcpServers", e.currentTarget.checked ? [...f.mcpServers, s.id] : f.mcpServers.filter((x) => x !== s.id))} />
              {s.name}
            </label>
          ))}
          <FieldError errors={errors} field="endpoint.mcpServers" />
        </fieldset>
      ) : null}
      <label>
        Max steps (tool-calling rounds per turn; default 8)
        {input("maxSteps", "endpoint.maxSteps", { type: "number", min: 1, max: 32 })}
        <FieldError errors={errors} field="endpoint.maxSteps" />
      </label>
    </>
  );
}

/** Tries the saved endpoint (POST …/endpoint/test) and shows what it found, in words. */
function TestConnection({ hub, agentId }: { hub: Hub; agentId: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<EndpointCheck | undefined>();
  const [error, setError] = useState<string | undefined>();
  async function test() {
    setBusy(true);
    setError(undefined);
    try {
      setResult(await hub.rest.agents.testEndpoint(agentId));
    } catch (err) {
      setResult(undefined);
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="test-connection">
      <button type="button" onClick={test} disabled={busy} title="Tries the saved settings">
        {busy ? "Testing…" : "Test connection"}
      </button>
      <ErrorNote error={error} />
      {result ? (
        <div role="status" class={`check-result ${result.ok ? "ok" : "fail"}`}>
          <strong>{result.ok ? "Connected" : "Not working"}:</strong> {result.detail}
          {result.agent_card ? (
            <p>
              Agent card: <strong>{result.agent_card.name}</strong>
              {result.agent_card.description ? ` — ${result.agent_card.description}` : ""}
              {result.agent_card.skills.length ? ` (skills: ${result.agent_card.skills.join(", ")})` : ""}
            </p>
          ) : null}
          {result.models?.length ? <p class="muted">Models: {result.models.slice(0, 20).join(", ")}{result.models.length > 20 ? ", …" : ""}</p> : null}
        </div>
      ) : null}
    </div>
  );
}
