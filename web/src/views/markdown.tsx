/**
 * Markdown as agents and people write it (answers, messages, channel posts, shared views): parsed
 * by `marked` (GitHub-flavoured: tables, strikethrough, task lists) and sanitised by DOMPurify,
 * so nothing an agent sends can run script. Raw HTML in the text is shown as text, never as HTML;
 * links open in a new tab without an opener or referrer, and only http(s) and mailto links stay
 * links. Fenced code blocks are rendered by Preact (as text, with a copy button).
 *
 * Streaming without flicker: the text is split into top-level blocks; a finished block's HTML
 * does not change as more arrives, so Preact leaves its DOM alone and only the last block is
 * re-rendered; a live message re-renders at most once per animation frame.
 */
import DOMPurify from "dompurify";
import { Marked, type Token, type Tokens, type TokensList } from "marked";
import { useEffect, useRef, useState } from "preact/hooks";

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // HTML written in the text is shown as the text it is.
    html: (token: Tokens.HTML | Tokens.Tag) => escapeHtml(token.text),
    // No remote images (the page's Content-Security-Policy would block them anyway): a link to it.
    image: (token: Tokens.Image) => `<a href="${escapeHtml(token.href)}">${escapeHtml(token.text || token.href)}</a>`,
  },
});

const SAFE_LINK = /^(https?:|mailto:)/i;

const purify = DOMPurify();
if (purify.isSupported) {
  purify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href")?.trim() ?? "";
      if (!SAFE_LINK.test(href)) node.removeAttribute("href");
      else {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    }
    // Task-list boxes show their state; nobody ticks them.
    if (node.tagName === "INPUT") {
      if (node.getAttribute("type") !== "checkbox") node.remove();
      else node.setAttribute("disabled", "");
    }
  });
}

const PURIFY_CONFIG = {
  ALLOWED_TAGS: ["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "input", "sup", "sub"],
  ALLOWED_ATTR: ["href", "title", "align", "start", "type", "checked", "disabled"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};

/** Sanitised HTML for Markdown (exported for tests of the policy). */
export function markdownToHtml(text: string): string {
  return sanitize(marked.parse(text, { async: false }));
}

function sanitize(html: string): string {
  // Without a DOM to sanitise in (never in a browser), nothing is trusted: the text, escaped.
  return purify.isSupported ? purify.sanitize(html, PURIFY_CONFIG) : escapeHtml(html);
}

type Block = { kind: "code"; code: string; lang: string } | { kind: "html"; html: string };

/** The text's top-level blocks; `cache` keeps each block's HTML by its source, so a finished block costs nothing again. */
function blocksOf(text: string, cache: Map<string, string>): Block[] {
  const tokens: TokensList = marked.lexer(text);
  const blocks: Block[] = [];
  for (const token of tokens as Token[]) {
    if (token.type === "space") continue;
    if (token.type === "code") {
      blocks.push({ kind: "code", code: (token as Tokens.Code).text, lang: ((token as Tokens.Code).lang ?? "").split(/\s/)[0] ?? "" });
      continue;
    }
    let html = cache.get(token.raw);
    if (html === undefined) {
      html = sanitize(marked.parser(Object.assign([token], { links: tokens.links }) as TokensList));
      if (cache.size > 500) cache.clear();
      cache.set(token.raw, html);
    }
    blocks.push({ kind: "html", html });
  }
  return blocks;
}

/** The value as of the last animation frame, when `throttle` (a streaming message); else the value itself. */
function useFrameValue<T>(value: T, throttle: boolean): T {
  const [shown, setShown] = useState(value);
  const latest = useRef(value);
  const frame = useRef(0);
  latest.current = value;
  useEffect(() => {
    if (!throttle || frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setShown(latest.current);
    });
  }, [value, throttle]);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  return throttle ? shown : value;
}

export function Markdown({ text, live = false, class: className = "content" }: { text: string; live?: boolean; class?: string }) {
  const cache = useRef(new Map<string, string>());
  const shown = useFrameValue(text, live);
  const blocks = blocksOf(shown, cache.current);
  return (
    <div class={`${className} markdown`}>
      {blocks.map((b, i) => (b.kind === "code" ? <CodeBlock key={i} code={b.code} lang={b.lang} /> : <div key={i} class="md-block" dangerouslySetInnerHTML={{ __html: b.html }} />))}
    </div>
  );
}

/** A fenced code block, as text, with a button that copies it. */
export function CodeBlock({ code, lang }: { code: string; lang: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => setState("idle"), [code]);
  async function copy() {
    try {
      await navigator.clipboard.writeText(code);
      setState("copied");
    } catch {
      setState("failed");
    }
  }
  return (
    <div class="code-block">
      <div class="code-bar">
        <span class="muted">{lang || "code"}</span>
        <button type="button" class="small copy" onClick={copy}>
          {state === "copied" ? "Copied" : state === "failed" ? "Could not copy: select the text" : "Copy code"}
        </button>
        <span class="sr-only" role="status">
          {state === "copied" ? "Code copied to the clipboard" : ""}
        </span>
      </div>
      <pre>
        <code>{code}</code>
      </pre>
    </div>
  );
}
