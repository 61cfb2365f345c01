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

export async function signOut(hub: Hub | undefined): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  await hub?.live.close();
}

/** What to show for a failure: the problem's `detail` when the hub sent one. */
export function describe(err: unknown): string {
  if (err instanceof AgentHubError) {
    const fields = err.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
    return [err.detail || err.title || `HTTP ${err.status}`, fields].filter(Boolean).join(" — ");
  }
  if (err instanceof Error) return err.message;
  return String(err);
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
  if (!res.ok || !json.token) throw new Error(json.errors?.map((e) => `${e.field}: ${e.message}`).join("; ") || json.detail || `sign-in failed (${res.status})`);
  return json.token;
}
