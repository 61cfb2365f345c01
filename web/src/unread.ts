/**
 * Unread markers that survive a reload: the ids of conversations and channels with activity the
 * person has not opened yet, kept in this browser's localStorage under a key of their workspace
 * and user id (so two people sharing a browser do not see each other's). Per browser, not per
 * account: another browser starts with none. At most UNREAD_MAX ids are kept (the newest).
 */
import type { Me } from "./hub.js";

const UNREAD_MAX = 500;

export function unreadKey(me: Me): string | undefined {
  return me.kind === "user" ? `agenthub.unread.${me.workspace_id}.${me.user_id}` : undefined;
}

export function loadUnread(me: Me): Set<string> {
  const key = unreadKey(me);
  if (!key) return new Set();
  try {
    const ids = JSON.parse(localStorage.getItem(key) ?? "[]");
    return new Set(Array.isArray(ids) ? ids.filter((x): x is string => typeof x === "string").slice(-UNREAD_MAX) : []);
  } catch {
    return new Set();
  }
}

export function saveUnread(me: Me, unread: Set<string>): void {
  const key = unreadKey(me);
  if (!key) return;
  try {
    if (unread.size) localStorage.setItem(key, JSON.stringify([...unread].slice(-UNREAD_MAX)));
    else localStorage.removeItem(key);
  } catch {
    // Storage full or disabled: the markers still work for this page's life.
  }
}

/** The tab's title: the app's name, after the number of unread conversations when there are any. */
export function tabTitle(unreadCount: number): string {
  return unreadCount > 0 ? `(${unreadCount}) agenthub` : "agenthub";
}
