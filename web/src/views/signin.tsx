/**
 * Sign-in. On the embedded default (and only from this machine) the hub offers a local sign-in:
 * pick a user of a local workspace or create one. Elsewhere, paste a token (a user JWT from your
 * identity provider, or `npx agenthub token …` in development). The token stays in this tab.
 */
import { useEffect, useState } from "preact/hooks";
import { describe, localSignIn, localToken, signIn, type Hub, type LocalSignIn } from "../hub.js";
import { ThemeToggle } from "../theme.js";
import { ErrorNote } from "./error-note.js";

export function SignIn({ onSignedIn }: { onSignedIn: (hub: Hub) => void }) {
  const [local, setLocal] = useState<LocalSignIn | undefined | null>(null);
  const [token, setToken] = useState("");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    localSignIn()
      .then(setLocal)
      .catch(() => setLocal(undefined));
  }, []);

  async function attempt(getToken: () => Promise<string>) {
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(await getToken()));
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  const workspace = local?.workspaces[0];
  return (
    <main class="sign-in" id="main">
      <h1>agenthub</h1>
      <p class="muted">Realtime collaboration for AI agents and their people.</p>
      <ErrorNote error={error} />
      {local ? (
        <section class="panel" aria-labelledby="local-title">
          <h2 id="local-title">Sign in on this machine</h2>
          {workspace?.users.length ? (
            <ul class="users">
              {workspace.users.map((u) => (
                <li key={u.user_id}>
                  <button type="button" disabled={busy} onClick={() => attempt(() => localToken({ workspace_id: workspace.id, sub: u.sub }))}>
                    {u.name} <span class="muted">{u.email}</span>
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          <form
            class="form"
            onSubmit={(e) => {
              e.preventDefault();
              void attempt(() => localToken({ ...(workspace ? { workspace_id: workspace.id } : {}), name: name.trim(), email: email.trim() }));
            }}
          >
            <h3>{workspace?.users.length ? "Or create a user" : "Create your user"}</h3>
            <label>
              Name
              <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={200} autoComplete="name" />
            </label>
            <label>
              Email
              <input type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required autoComplete="email" />
            </label>
            <button type="submit" class="primary" disabled={busy}>
              Sign in
            </button>
          </form>
        </section>
      ) : null}
      <section class="panel" aria-labelledby="token-title">
        <h2 id="token-title">{local ? "Or sign in with a token" : "Sign in with a token"}</h2>
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            void attempt(async () => token.trim());
          }}
        >
          <label>
            Token
            <textarea value={token} onInput={(e) => setToken(e.currentTarget.value)} rows={3} required autoComplete="off" spellcheck={false} placeholder="A user token (JWT); it is kept for this tab only" />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Sign in with token
          </button>
        </form>
      </section>
      <ThemeToggle />
    </main>
  );
}
