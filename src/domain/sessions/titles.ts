/**
 * Automatic titles: a session created without a title is named by its first user message (its
 * text trimmed, first line, at most 80 characters), once, on the server, so every client and
 * every node sees the same title. A session whose title was given (at creation or by a rename)
 * is never renamed this way.
 */
import type { ContentBlock } from "./messages.js";

export const AUTO_TITLE_MAX = 80;

/** The title a first user message gives its session; undefined when it holds no text. */
export function titleFromMessage(content: string | ContentBlock[]): string | undefined {
  const text = typeof content === "string" ? content : content.map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : "")).join(" ");
  // eslint-disable-next-line no-control-regex
  const line = (text.trim().split(/\r?\n|\r/)[0] ?? "").replace(/[\u0000-\u001f\u007f]/g, " ").replace(/\s+/g, " ").trim();
  if (!line) return undefined;
  const chars = Array.from(line);
  if (chars.length <= AUTO_TITLE_MAX) return line;
  return `${chars.slice(0, AUTO_TITLE_MAX - 1).join("").trimEnd()}…`;
}
