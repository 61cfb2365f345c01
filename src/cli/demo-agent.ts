/**
 * `agenthub agent demo`: a socket-mode agent that needs no model. For each turn it streams a
 * thinking step, a `semantic_search` tool call over the workspace's knowledge (through the
 * Backplane tools route; when that fails the call ends with an error and the demo goes on),
 * sources, and an answer that reflects the question, with small delays so it looks live.
 */
import { serveTurns, type AgentClientLogEntry } from "../agent-client/index.js";
import { DEMO_MODEL, demoHandler } from "../agent-client/demo.js";

// The handler lives beside the agent client (the embedded hub serves it too); its users here and in tests take it from this command as before.
export { DEMO_MODEL, demoHandler, messageText, type DemoHandlerOptions, type DemoTurnReport } from "../agent-client/demo.js";
export const DEMO_USAGE = "agenthub agent demo --key g_agent_… [--url URL]   (URL defaults to $AGENTHUB_URL or http://localhost:3000)";

export interface DemoArgs {
  key: string;
  url: string;
}

/** The command's arguments, or the usage error to print. */
export function parseDemoArgs(args: string[], env: NodeJS.ProcessEnv = process.env): DemoArgs | { error: string } {
  let key: string | undefined;
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (name !== "--key" && name !== "--url") return { error: `unknown option '${arg}'` };
    const value = inline ?? args[++i];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) return { error: `${name} needs a value` };
    if (name === "--key") key = value.trim();
    else url = value.trim();
  }
  if (!key) return { error: "--key is required (an agent key, g_agent_…, with scope turns:serve)" };
  if (!key.startsWith("g_agent_")) return { error: "--key must be an agent key (g_agent_…)" };
  url ??= env.AGENTHUB_URL?.trim() || "http://localhost:3000";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: `--url '${url}' is not a URL` };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { error: `--url must be http(s), not ${parsed.protocol}` };
  return { key, url: parsed.origin + parsed.pathname.replace(/\/+$/, "") };
}


interface Me {
  kind?: string;
  workspace_id?: string;
  agent_id?: string;
  scopes?: string[];
}

/**
 * Runs the demo until SIGINT/SIGTERM. Checks the key with GET /api/me first (a refused key or a
 * key without `turns:serve` stops it with a message; an unreachable hub does not: the socket
 * keeps trying). Connection lines and one line per turn go to stderr.
 */
export async function runDemoAgent(args: DemoArgs, opts: { pace?: number } = {}): Promise<void> {
  const line = (text: string) => process.stderr.write(`agenthub demo: ${text}\n`);
  let me: Me | undefined;
  try {
    const res = await fetch(`${args.url}/api/me`, { headers: { authorization: `Bearer ${args.key}` }, signal: AbortSignal.timeout(5000) });
    if (res.status === 401) throw new DemoError(`the hub at ${args.url} refused the key (401 unauthorized): check --key`);
    if (res.ok) me = (await res.json()) as Me;
    else line(`GET /api/me answered ${res.status}; starting anyway`);
  } catch (err) {
    if (err instanceof DemoError) throw err;
    line(`cannot reach the hub at ${args.url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); will keep trying`);
  }
  if (me && me.kind !== "agent") throw new DemoError(`the key is a ${me.kind ?? "non-agent"} credential; use an agent key (g_agent_…)`);
  if (me?.scopes && !me.scopes.includes("turns:serve")) {
    throw new DemoError(`the key of agent ${me.agent_id} lacks the scope turns:serve (it has: ${me.scopes.join(", ") || "none"}); make a key with it`);
  }
  const who = me ? `agent ${me.agent_id} (workspace ${me.workspace_id})` : "the key's agent";
  line(`serving ${who} at ${args.url} in socket mode, model ${DEMO_MODEL}; start a turn on one of its sessions, Ctrl-C to stop`);

  let fatal: ((err: Error) => void) | undefined;
  const handler = demoHandler({ url: args.url, key: args.key, pace: opts.pace, ...(me?.workspace_id ? { workspaceId: me.workspace_id } : {}) }, (r) => {
    process.stderr.write(
      `${JSON.stringify({ turn: r.turnId, session: r.sessionId, outcome: r.outcome, events: r.events, ms: r.ms, semantic_search: r.tool })}\n`,
    );
  });
  const agent = serveTurns({
    url: args.url,
    key: args.key,
    handler,
    log: (e: AgentClientLogEntry) => {
      if (e.event === "turn_request" || e.event === "turn_cancel") return; // the per-turn line says it
      line(`${e.message}${e.retryInMs !== undefined ? ` (retrying in ${(e.retryInMs / 1000).toFixed(1)} s)` : ""}`);
      if (e.event === "serve_refused" && e.problem && (e.problem.status === 401 || e.problem.status === 403)) {
        fatal?.(new DemoError(`the hub will not let this key serve turns (${e.problem.status}: ${e.problem.detail || e.problem.title})`));
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    const stop = (err?: Error) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      agent.close().then(() => (err ? reject(err) : resolve()), reject);
    };
    const onSignal = () => {
      line("stopping");
      stop();
    };
    fatal = stop;
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

export class DemoError extends Error {}
