/**
 * The signed-in hub: the REST client and one realtime connection (with resume), both from the
 * repo's typed client. The token lives in this tab's sessionStorage only, never in a URL.
 */
import { AgentHubClient, AgentHubError, connectRealtime, type Me, type RealtimeClient } from "agenthub/client";

const TOKEN_KEY = "agenthub.token";

export type { Me };

export interface Hub {
  rest: AgentHubClient;
  live: RealtimeClient;
  me: Me;
}

export const savedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);

/** Checks the token with the hub (GET /api/me), keeps it for the tab, and connects. */
export async function signIn(token: string): Promise<Hub> {
  const rest = new AgentHubClient({ url: location.origin, token });
  const me = await rest.me();
  sessionStorage.setItem(TOKEN_KEY, token);
  // A person is waiting: retry at least every 8 s (with jitter) rather than backing off to 30 s.
  const live = connectRealtime({ url: location.origin, token, retryDelayMaxMs: 8000 });
  return { rest, live, me };
}

const RETURN_KEY = "agenthub.return-to";

/** Where to go back to after signing in (a shared link the person came from); only the app's own shared views. */
export const rememberReturn = (path: string) => {
  if (/^\/shared\/[A-Za-z0-9_-]+$/.test(path)) sessionStorage.setItem(RETURN_KEY, path);
};

/** The remembered place, once: reading it forgets it. */
export function takeReturn(): string | undefined {
  const path = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return path && /^\/shared\/[A-Za-z0-9_-]+$/.test(path) ? path : undefined;
}

export async function signOut(hub: Hub | undefined): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  await hub?.live.close();
}

/**
 * What to show for a failure, once and in words: the problem's `detail`, or for a 422 its field
 * errors (the detail repeats them, so not both); sizes in KB/MB rather than bytes; a network
 * failure as what happened rather than the browser's "Failed to fetch".
 */
export function describe(err: unknown): string {
  if (err instanceof AgentHubError) {
    if (err.errors?.length) return err.errors.map((e) => fieldMessage(e.field, e.message)).join("; ");
    return inWords(err.detail || err.title || `The hub answered ${err.status}`);
  }
  if (isNetworkFailure(err)) return "The hub could not be reached: check your connection, then try again.";
  if (err instanceof Error) return inWords(err.message);
  return String(err);
}

/** A field's error as a sentence: the field named unless the message already says what it is about. */
export function fieldMessage(field: string, message: string): string {
  const words = inWords(message);
  return field === "body" || !field ? capitalise(words) : `${capitalise(field.replace(/[_.]/g, " "))}: ${words}`;
}

export const isNetworkFailure = (err: unknown): boolean => err instanceof TypeError && /fetch|network|load failed/i.test(err.message);

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A number of bytes as people read it (e.g. 293 KB). */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
}

/** Replaces byte counts in the hub's words with sizes (e.g. "the message is 300072 bytes; at most 262144 are allowed"). */
export function inWords(text: string): string {
  return text
    .replace(/(\d+) bytes; at most (\d+) are allowed/g, (_, n: string, max: string) => `${size(Number(n))}, too long: at most ${size(Number(max))} is allowed`)
    .replace(/(\d{4,}) bytes/g, (_, n: string) => size(Number(n)));
}

/** The embedded hub's local sign-in (loopback only); undefined where the hub has none. */
export interface LocalSignIn {
  workspaces: Array<{ id: string; name: string; users: Array<{ user_id: number; sub: string; name: string; email: string }> }>;
}

export async function localSignIn(): Promise<LocalSignIn | undefined> {
  const res = await fetch("/api/local/sign-in", { headers: { accept: "application/json" } });
  return res.ok ? ((await res.json()) as LocalSignIn) : undefined;
}

export async function localToken(body: { workspace_id?: string; sub?: string; name?: string; email?: string }): Promise<string> {
  const res = await fetch("/api/local/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as { token?: string; detail?: string; errors?: Array<{ field: string; message: string }> };
  if (!res.ok || !json.token) throw new Error(json.errors?.map((e) => fieldMessage(e.field, e.message)).join("; ") || json.detail || `The sign-in was refused (${res.status})`);
  return json.token;
}
