/**
 * The workspace's knowledge (`#/knowledge`), what agents search (RAG, the knowledge tools): admins
 * add items (title, content, the roles that may see them, taxonomies, source) and delete them;
 * everyone else sees the items their role may see, without those actions.
 */
import type { Knowledge } from "agenthub/client";
import { useEffect, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { cannotManageKnowledge } from "../permissions.js";
import { ErrorNote, FieldError, fieldErrorId, formErrors, noErrors, type FormErrors } from "./error-note.js";

const FIELDS = ["title", "content", "roles", "taxonomies", "source"] as const;
const labels = (s: string) => [...new Set(s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean))];

export function KnowledgePage({ hub }: { hub: Hub }) {
  const [items, setItems] = useState<Knowledge[] | undefined>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const refusal = cannotManageKnowledge(hub.me);

  const load = async (after?: string) => {
    try {
      const page = await hub.rest.knowledge.list(after ? { limit: 50, cursor: after } : { limit: 50 });
      setItems((current) => (after ? [...(current ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (err) {
      setError(describe(err));
    }
  };
  useEffect(() => void load(), []);

  async function remove(item: Knowledge) {
    if (!confirm(`Delete the knowledge item "${item.title}"? Agents will no longer find it.`)) return;
    setError(undefined);
    try {
      await hub.rest.knowledge.remove(item.id);
      setItems((current) => current?.filter((k) => k.id !== item.id));
    } catch (err) {
      setError(describe(err));
    }
  }

  return (
    <section aria-labelledby="knowledge-title">
      <header class="view-header">
        <h2 id="knowledge-title">Knowledge</h2>
      </header>
      <p class="muted">What the workspace's agents search when they answer (retrieval and the knowledge tools). An item with roles is seen only by callers of those roles; without roles, by everyone.</p>
      <ErrorNote error={error} />
      <div class="panel">
        <h3>Items</h3>
        {items === undefined ? <p class="muted">Loading…</p> : items.length ? null : <p class="muted">No knowledge yet{refusal ? "." : ": add the first item below."}</p>}
        <ul class="list knowledge">
          {(items ?? []).map((k) => (
            <li key={k.id} class="knowledge-item">
              <strong>{k.title}</strong> <span class="muted">{k.chunk_count === 1 ? "1 chunk" : `${k.chunk_count} chunks`}</span>{" "}
              {k.roles.length ? k.roles.map((r) => <span key={r} class="badge">role: {r}</span>) : <span class="badge">every role</span>}{" "}
              {k.taxonomies.map((t) => (
                <span key={t} class="badge">
                  {t}
                </span>
              ))}{" "}
              {refusal ? null : (
                <button type="button" class="small danger" aria-label={`Delete ${k.title}`} onClick={() => remove(k)}>
                  Delete
                </button>
              )}
              <p class="muted">
                {k.content.length > 200 ? `${k.content.slice(0, 200)}…` : k.content}
                {k.source ? ` (source: ${k.source})` : ""}
              </p>
            </li>
          ))}
        </ul>
        {cursor ? (
          <button type="button" onClick={() => load(cursor)}>
            Load more
          </button>
        ) : null}
      </div>
      {refusal ? <p class="muted refusal">{refusal}.</p> : <KnowledgeForm hub={hub} onCreated={(k) => setItems((current) => [k, ...(current ?? [])])} />}
    </section>
  );
}

function KnowledgeForm({ hub, onCreated }: { hub: Hub; onCreated: (k: Knowledge) => void }) {
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [roles, setRoles] = useState("");
  const [taxonomies, setTaxonomies] = useState("");
  const [source, setSource] = useState("");
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);

  async function create(e: Event) {
    e.preventDefault();
    setErrors(noErrors);
    setBusy(true);
    try {
      const item = await hub.rest.knowledge.create({
        title: title.trim(),
        content,
        ...(labels(roles).length ? { roles: labels(roles) } : {}),
        ...(labels(taxonomies).length ? { taxonomies: labels(taxonomies) } : {}),
        ...(source.trim() ? { source: source.trim() } : {}),
      });
      onCreated(item);
      setTitle("");
      setContent("");
      setRoles("");
      setTaxonomies("");
      setSource("");
    } catch (err) {
      setErrors(formErrors(err, FIELDS));
    } finally {
      setBusy(false);
    }
  }
  const invalid = (f: string) => (errors.fields.has(f) ? { "aria-invalid": true, "aria-describedby": fieldErrorId(f) } : {});
  return (
    <form class="panel form" aria-label="Add knowledge" onSubmit={create}>
      <h3>Add knowledge</h3>
      <label>
        Title
        <input value={title} onInput={(e) => setTitle(e.currentTarget.value)} required maxLength={200} {...invalid("title")} />
        <FieldError errors={errors} field="title" />
      </label>
      <label>
        Content
        <textarea value={content} onInput={(e) => setContent(e.currentTarget.value)} required rows={5} {...invalid("content")} />
        <FieldError errors={errors} field="content" />
      </label>
      <label>
        Roles that may see it (comma-separated; empty: every role)
        <input value={roles} onInput={(e) => setRoles(e.currentTarget.value)} placeholder="support, sales" {...invalid("roles")} />
        <FieldError errors={errors} field="roles" />
      </label>
      <label>
        Taxonomies (comma-separated, optional)
        <input value={taxonomies} onInput={(e) => setTaxonomies(e.currentTarget.value)} placeholder="billing, policies" {...invalid("taxonomies")} />
        <FieldError errors={errors} field="taxonomies" />
      </label>
      <label>
        Source (optional: where it comes from, e.g. a URL)
        <input value={source} onInput={(e) => setSource(e.currentTarget.value)} maxLength={2000} {...invalid("source")} />
        <FieldError errors={errors} field="source" />
      </label>
      <ErrorNote error={errors.rest} />
      <button type="submit" class="primary" disabled={busy}>
        Add knowledge
      </button>
    </form>
  );
}
