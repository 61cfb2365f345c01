/**
 * "Test connection" for an agent's endpoint (POST /api/agents/{agentId}/endpoint/test): tries
 * what a turn would reach without running one, and says in words what it found or what is wrong.
 * Every call goes through the guarded fetch (SSRF guard, timeouts, byte bound), with its own short
 * time limit and a smaller byte bound than a turn's, and only with the secret configured for that
 * endpoint (a model's API key), never the caller's credential. Editors only: the answer may tell
 * what an agent server says about itself.
 */
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import type { SecretBox } from "../../auth/secrets.js";
import { OutboundError, type Fetch } from "../../endpoints/guarded-fetch.js";
import { endpointView, type EndpointView, type Protocol } from "./endpoint.js";
import { loadAgentForEdit } from "./policy.js";

export interface EndpointCheck {
  ok: boolean;
  protocol: Protocol;
  /** What was found or what is wrong, in words. */
  detail: string;
  agent_card?: { name: string; description: string | null; skills: string[]; streaming: boolean };
  /** The model ids the server lists (at most MAX_MODELS). */
  models?: string[];
}

export interface EndpointCheckDeps {
  db: Knex;
  /** The guarded fetch (endpoints/guarded-fetch.ts). */
  fetch: Fetch;
  secrets: Pick<SecretBox, "open">;
  /** How many sockets serve the agent now, on every node; absent where that is not known. */
  servingSockets?: ((workspaceId: string, agentId: string) => Promise<number>) | undefined;
  /** @default 5000 */
  timeoutMs?: number;
  /** The most bytes an answer may have. @default 1 MiB */
  maxBytes?: number;
}

export const MAX_MODELS = 100;
const CARD_PATH = ".well-known/agent-card.json";

/** A failed step, already in words. */
class CheckFailed extends Error {}

export class EndpointChecks {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly deps: EndpointCheckDeps) {
    this.timeoutMs = deps.timeoutMs ?? 5000;
    this.maxBytes = deps.maxBytes ?? 1024 * 1024;
  }

  async test(actor: Principal, agentId: string): Promise<EndpointCheck> {
    const agent = await loadAgentForEdit(this.deps.db, actor, agentId);
    const endpoint = endpointView(agent);
    // One deadline for the whole test, body reads included.
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      switch (endpoint.protocol) {
        case "socket":
          return await this.socket(actor.workspaceId, agentId);
        case "a2a":
          return await this.a2a(endpoint.url, signal);
        case "model":
          return await this.model(endpoint, agent.endpoint_api_key, signal);
        case "adk":
          return await this.adk(endpoint.url, endpoint.app, signal);
        case "agui":
        case "sharely":
          return await this.reachable(endpoint.protocol, endpoint.url, signal);
      }
    } catch (err) {
      return { ok: false, protocol: endpoint.protocol, detail: this.explain(err, signal) };
    }
  }

  private async socket(workspaceId: string, agentId: string): Promise<EndpointCheck> {
    if (!this.deps.servingSockets) return { ok: true, protocol: "socket", detail: "Socket agents connect to the hub; nothing to test." };
    let count: number;
    try {
      count = await this.deps.servingSockets(workspaceId, agentId);
    } catch {
      throw new CheckFailed("The hub could not count the sockets serving this agent now (a hub process did not answer); try again.");
    }
    return count > 0
      ? { ok: true, protocol: "socket", detail: `${count} socket${count === 1 ? "" : "s"} serve${count === 1 ? "s" : ""} this agent now (agent:serve).` }
      : { ok: false, protocol: "socket", detail: "No socket serves this agent now: connect one with an agent key that has the turns:serve scope (agent:serve)." };
  }

  private async a2a(url: string, signal: AbortSignal): Promise<EndpointCheck> {
    const cardUrl = `${url.replace(/\/+$/, "")}/${CARD_PATH}`;
    const card = record(await this.getJson(cardUrl, {}, signal, "the agent"), `${cardUrl} did not answer an agent card (a JSON object)`);
    const name = typeof card.name === "string" && card.name.trim() ? card.name : undefined;
    const interfaces = Array.isArray(card.supportedInterfaces) ? card.supportedInterfaces : [];
    const serviceUrl = typeof card.url === "string" ? card.url : interfaces.map((i) => (i && typeof i === "object" ? (i as { url?: unknown }).url : undefined)).find((u) => typeof u === "string");
    const capabilities = card.capabilities && typeof card.capabilities === "object" ? (card.capabilities as Record<string, unknown>) : undefined;
    const missing = [!name && "name", !serviceUrl && "url (or supportedInterfaces)", !capabilities && "capabilities"].filter(Boolean);
    if (missing.length) throw new CheckFailed(`${cardUrl} answered JSON that is not an agent card: it has no ${missing.join(", no ")}`);
    const skills = (Array.isArray(card.skills) ? card.skills : [])
      .map((s) => (s && typeof s === "object" ? (s as { name?: unknown; id?: unknown }) : {}))
      .map((s) => String(s.name ?? s.id ?? ""))
      .filter(Boolean)
      .slice(0, 100);
    const streaming = capabilities!.streaming === true;
    return {
      ok: true,
      protocol: "a2a",
      detail: `Found the agent card of "${name}" (${skills.length} skill${skills.length === 1 ? "" : "s"}; ${streaming ? "streams its answers" : "answers without streaming"}).`,
      agent_card: { name: name!.slice(0, 200), description: typeof card.description === "string" ? card.description.slice(0, 2000) : null, skills, streaming },
    };
  }

  private async model(endpoint: Extract<EndpointView, { protocol: "model" }>, sealedKey: string | null, signal: AbortSignal): Promise<EndpointCheck> {
    const listUrl = `${endpoint.url.replace(/\/+$/, "")}/models`;
    let headers: Record<string, string> = {};
    if (sealedKey) {
      try {
        headers = { authorization: `Bearer ${this.deps.secrets.open(sealedKey)}` };
      } catch {
        throw new CheckFailed("The stored API key cannot be opened by this hub (SECRETS_KEY changed?); set the key again.");
      }
    }
    const body = record(await this.getJson(listUrl, headers, signal, "the model server", !!sealedKey), `${listUrl} did not answer a model list (a JSON object with data)`);
    if (!Array.isArray(body.data)) throw new CheckFailed(`${listUrl} did not answer a model list: it has no data array`);
    const ids = body.data.map((m) => (m && typeof m === "object" ? (m as { id?: unknown }).id : undefined)).filter((id): id is string => typeof id === "string");
    const models = ids.slice(0, MAX_MODELS).map((id) => id.slice(0, 200));
    const listed = ids.includes(endpoint.model);
    return {
      ok: listed,
      protocol: "model",
      detail: listed
        ? `The model server lists ${ids.length} model${ids.length === 1 ? "" : "s"}, "${endpoint.model}" among them.`
        : `The model server answered, but "${endpoint.model}" is not among the ${ids.length} model${ids.length === 1 ? "" : "s"} it lists${ids.length ? ` (e.g. ${models.slice(0, 3).join(", ")})` : ""}.`,
      models,
    };
  }

  private async adk(url: string, app: string, signal: AbortSignal): Promise<EndpointCheck> {
    const listUrl = `${url.replace(/\/+$/, "")}/list-apps`;
    const apps = await this.getJson(listUrl, {}, signal, "the ADK server");
    if (!Array.isArray(apps)) throw new CheckFailed(`${listUrl} did not answer a list of apps`);
    const names = apps.filter((a): a is string => typeof a === "string");
    return names.includes(app)
      ? { ok: true, protocol: "adk", detail: `The ADK server lists the app "${app}".` }
      : { ok: false, protocol: "adk", detail: `The ADK server answered, but it has no app "${app}"${names.length ? ` (it has ${names.slice(0, 10).join(", ")})` : " (it lists none)"}.` };
  }

  private async reachable(protocol: "agui" | "sharely", url: string, signal: AbortSignal): Promise<EndpointCheck> {
    const res = await this.deps.fetch(url, { method: "HEAD", signal });
    await res.body?.cancel().catch(() => {});
    const what = `HEAD ${url} answered ${res.status}`;
    if (res.status >= 500) return { ok: false, protocol, detail: `${what}: the server is failing.` };
    return { ok: true, protocol, detail: `${what}: the server is reachable (the hub checked only that it answers; a turn POSTs to it).` };
  }

  /** GETs JSON, turning every way it can fail into words about `who`. */
  private async getJson(url: string, headers: Record<string, string>, signal: AbortSignal, who: string, sentKey = false): Promise<unknown> {
    const res = await this.deps.fetch(url, { method: "GET", headers: { accept: "application/json", ...headers }, signal });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      if (who === "the model server") throw new CheckFailed(sentKey ? `The model server refused the API key (${res.status}).` : `The model server wants an API key (${res.status}); set one.`);
      throw new CheckFailed(`${url} refused the hub (${res.status}): ${who} must answer it without a credential.`);
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      throw new CheckFailed(`${url} answered 404 (not found): check the URL.`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new CheckFailed(`${url} answered ${res.status}${res.status >= 500 ? ": the server is failing" : ""}.`);
    }
    const text = await this.text(res);
    try {
      return JSON.parse(text);
    } catch {
      throw new CheckFailed(`${url} did not answer JSON (it began "${text.slice(0, 60).replace(/\s+/g, " ")}").`);
    }
  }

  /** The body as text, at most maxBytes of it (the guarded fetch's own bound is a turn's, larger). */
  private async text(res: Response): Promise<string> {
    if (!res.body) return "";
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let seen = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > this.maxBytes) {
        await reader.cancel().catch(() => {});
        throw new CheckFailed(`The answer passed the ${Math.round(this.maxBytes / 1024)} KiB a connection test reads.`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  private explain(err: unknown, signal: AbortSignal): string {
    if (err instanceof CheckFailed) return err.message;
    if (signal.aborted) return `No answer within ${this.timeoutMs / 1000} s.`;
    if (err instanceof OutboundError) {
      if (err.reason.includes("AGENT_SERVER_ALLOW_PRIVATE")) return `The URL points at a private address, which the hub does not call unless AGENT_SERVER_ALLOW_PRIVATE=true (${err.reason}).`;
      if (err.reason.includes("AGENT_SERVER_ALLOW_HTTP")) return `The URL is plain http:, which the hub does not call unless AGENT_SERVER_ALLOW_HTTP=true (${err.reason}).`;
      return `The hub could not reach it: ${err.reason}.`;
    }
    return `The hub could not reach it: ${err instanceof Error ? err.message : String(err)}.`;
  }
}

function record(value: unknown, otherwise: string): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new CheckFailed(otherwise);
  return value as Record<string, unknown>;
}
