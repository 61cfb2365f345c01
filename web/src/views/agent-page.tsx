/**
 * An agent's page (`#/agents/{id}`): its settings and "Test connection" (agent-settings.tsx), a
 * "how to connect" guide for socket and Sharely agents, its team and, for editors, its keys
 * (agent-people.tsx). Reached from the sidebar and right after creating an agent.
 */
import type { Agent, AgentWithSecret } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { AgentSettings } from "./agent-settings.js";
import { KeysPanel, TeamPanel } from "./agent-people.js";
import { CopyButton, ErrorNote } from "./error-note.js";

/** A secret the agent's creation answered, shown once on the page it lands on (never stored). */
const shownOnce = new Map<string, string>();
export const showSecretOnce = (agentId: string, secret: string) => shownOnce.set(agentId, secret);

export function AgentPage({ hub, agentId, onChanged }: { hub: Hub; agentId: string; onChanged: () => void }) {
  const [agent, setAgent] = useState<Agent | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [secret] = useState(() => {
    const s = shownOnce.get(agentId);
    shownOnce.delete(agentId);
    return s;
  });
  useEffect(() => {
    setAgent(undefined);
    hub.rest.agents
      .get(agentId)
      .then(setAgent)
      .catch((err) => setError(describe(err)));
  }, [agentId]);

  if (!agent) return error ? <ErrorNote error={error} /> : <p class="loading">Loading the agent…</p>;
  const editable = agent.access_level === "editor";
  const saved = (a: AgentWithSecret) => {
    setAgent(a);
    onChanged();
  };
  return (
    <section class="agent-page" aria-labelledby="agent-title">
      <header class="view-header">
        <h2 id="agent-title">{agent.name}</h2>
        <span class="muted">
          <code>{agent.id}</code> · you are {editable ? "an editor" : "a viewer"}
        </span>
      </header>
      {secret ? <OnceSecret secret={secret} /> : null}
      {editable ? null : <p class="muted">You may use this agent; its editors change its settings.</p>}
      <AgentSettings hub={hub} agent={agent} onSaved={saved} />
      {editable ? <ConnectGuide hub={hub} agent={agent} /> : null}
      <TeamPanel hub={hub} agentId={agent.id} editable={editable} />
      {editable ? <KeysPanel hub={hub} agentId={agent.id} suggested={agent.endpoint.protocol === "socket" ? ["turns:serve", "knowledge:read", "tools:execute"] : ["sessions:read", "sessions:write"]} /> : null}
    </section>
  );
}

function OnceSecret({ secret }: { secret: string }) {
  return (
    <p role="status" class="panel">
      Endpoint secret (shown once; the hub signs its calls to the agent server with it): <code>{secret}</code> <CopyButton text={secret} label="Copy secret" />
    </p>
  );
}

/** How an agent of this protocol gets its turns, for socket and Sharely agents. */
function ConnectGuide({ hub, agent }: { hub: Hub; agent: Agent }) {
  const [secret, setSecret] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const protocol = agent.endpoint.protocol;
  if (protocol === "socket") {
    return (
      <section class="panel" aria-labelledby="connect-title">
        <h3 id="connect-title">How to connect</h3>
        <p>
          A socket agent connects to the hub and serves its turns (<code>agent:serve</code>). Create a key below with the <code>turns:serve</code> scope, then run your agent with it, for
          example the demo agent:
        </p>
        <pre>npx agenthub agent demo --key g_agent_… --url {location.origin}</pre>
        <p class="muted">
          Or serve turns from your own code with the repository's <code>serveTurns</code> (<code>src/agent-client/</code>). "Test connection" says whether a socket serves the agent now.
        </p>
      </section>
    );
  }
  if (protocol !== "sharely") return null;
  async function rotate() {
    setError(undefined);
    try {
      setSecret((await hub.rest.agents.rotateEndpointSecret(agent.id)).endpoint_secret);
    } catch (err) {
      setError(describe(err));
    }
  }
  return (
    <section class="panel" aria-labelledby="connect-title">
      <h3 id="connect-title">How to connect</h3>
      <p>
        The hub calls your Sharely agent server at its URL with each turn, signed with the endpoint secret (<code>whsec_…</code>, Standard Webhooks). The secret is shown once, when the URL
        is first set; give it to your server to check the hub's signature. A new one replaces it at once.
      </p>
      <button type="button" onClick={rotate}>
        New endpoint secret
      </button>
      {secret ? <OnceSecret secret={secret} /> : null}
      <ErrorNote error={error} />
    </section>
  );
}
