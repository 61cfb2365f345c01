/**
 * Share links: a time-limited, revocable, read-only view of a session at share time, and a
 * way to clone it into one's own sessions. Tokens are 256 random bits, stored only as sha256.
 * A link made with an API key dies with that key (revoked or expired).
 */
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import type { ApprovalView } from "../approvals/repository.js";
import { keyIdOf, userIdOf, type Principal } from "../../auth/principal.js";
import { NotFound } from "../../errors.js";
import { newId, sha256 } from "../../ids.js";
import { agents } from "../agents/repository.js";
import { transact, type TxDeps } from "../events.js";
import { PAGE_MAX_BYTES, decodeSeqCursor, encodeSeqCursor, takePage } from "../pagination.js";
import type { MessageView } from "../sessions/messages.js";
import { loadSessionFor } from "../sessions/policy.js";
import { groups } from "../groups/repository.js";
import { messages, sessions, type Session } from "../sessions/repository.js";
import { presentSession, type SessionView } from "../sessions/service.js";
import { toIso, type Clock } from "../time.js";
import { assertCanClone, assertCanRevokeLinks } from "./policy.js";
import { shareLinks, type LiveLink } from "./repository.js";

export interface ShareLinkView {
  token: string;
  url: string;
  expires_at: string;
}

/** All a link shows: the conversation and its agent, nothing about people or keys. */
export interface SharedSessionView {
  /** The session's title (also under `session`), for clients that read it at the top. */
  title: string;
  session: { id: string; title: string; created_at: string };
  /** The session's agent; null for a group's conversation, which shows its group instead. */
  agent: { id: string; name: string } | null;
  group?: { id: string; name: string };
  /** Without who asked (`userId`, `userName` of a group's conversation); `agentId` stays. */
  messages: AnonymousMessageView[];
  next_cursor: string | null;
  expires_at: string;
}

export type AnonymousMessageView = Omit<MessageView, "userId" | "userName">;

/** A shared message as anyone with the link sees it: the person who said it, or decided its approvals, is not named. */
function anonymous({ userId: _userId, userName: _userName, ...message }: MessageView): AnonymousMessageView {
  if (!message.approvals) return message;
  // Nor whom it named to decide: assignees are people's emails.
  const approvals = (message.approvals as ApprovalView[]).map((a) => ({ ...a, assignees: null, decisions: a.decisions.map(({ user_id: _u, name: _n, ...d }) => d) }));
  return { ...message, approvals };
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Unknown, expired and revoked tokens answer alike. */
const deadLink = () => new NotFound("Shared session");

export class ShareLinks {
  constructor(
    private readonly deps: TxDeps,
    private readonly clock: Clock,
    private readonly publicUrl: () => string,
  ) {}

  /** Makes a new link (a session may have several live ones) showing the messages so far. */
  async create(actor: Principal, agentId: string, sessionId: string, expiresInHours: number): Promise<ShareLinkView> {
    return this.createFor(actor, await loadSessionFor(this.deps.db, actor, sessionId, "share", agentId), expiresInHours);
  }

  /** A link to a session the caller already loaded with the right to share it (a group conversation: under its group). */
  async createFor(actor: Principal, session: Session, expiresInHours: number): Promise<ShareLinkView> {
    const { db } = this.deps;
    const token = randomBytes(32).toString("base64url");
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + expiresInHours * 3_600_000);
    await shareLinks.insert(db, {
      id: newId("shl"),
      workspace_id: session.workspace_id,
      session_id: session.id,
      token_hash: sha256(token),
      max_seq: session.message_count,
      created_by: userIdOf(actor),
      created_by_key_id: keyIdOf(actor) ?? null,
      created_at: now,
      expires_at: expiresAt,
    });
    return { token, url: `${this.publicUrl()}/shared/${token}`, expires_at: toIso(expiresAt) };
  }

  /**
   * Revokes every live link of the session at once (204 even when there was none). Its owner
   * may, even without access to the agent any more (see policy.ts).
   */
  async revoke(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    const session = await sessions.find(this.deps.db, actor.workspaceId, sessionId, agentId);
    if (!session) throw new NotFound("Session");
    await this.revokeFor(actor, session);
  }

  /** Revokes the links of a session the caller already found (a group conversation: under its group). */
  async revokeFor(actor: Principal, session: Session): Promise<void> {
    assertCanRevokeLinks(actor, session);
    await shareLinks.revokeAll(this.deps.db, session.id, this.clock.now());
  }

  /** The public, read-only view. No credential: the token is the credential. */
  /**
   * The public, read-only view, a page of messages at a time (bounded in count and bytes): only
   * the messages the session had when the link was made.
   */
  async view(token: string, page: { limit: number; cursor?: string | undefined }): Promise<SharedSessionView> {
    const { db } = this.deps;
    const link = await this.live(db, token);
    const session = await sessions.find(db, link.workspace_id, link.session_id);
    if (!session) throw deadLink(); // deleted a moment ago
    const shows = await this.shownWith(db, session);
    const after = page.cursor === undefined ? 0 : decodeSeqCursor(page.cursor);
    const rows = await messages.after(db, session.id, after, Math.min(page.limit + 1, Math.max(0, link.max_seq - after)));
    const { items, next } = takePage(rows, page.limit, (last) => encodeSeqCursor(last.seq), PAGE_MAX_BYTES);
    return {
      title: session.title,
      session: { id: session.id, title: session.title, created_at: toIso(session.created_at) },
      ...shows,
      messages: items.map(anonymous),
      next_cursor: next,
      expires_at: toIso(link.expires_at),
    };
  }

  /**
   * Copies the shared messages into a new session owned by the caller (see policy.ts for who
   * may). Messages keep their ids, bodies and createdAt, with seqs 1..n.
   */
  async clone(actor: Principal, token: string): Promise<SessionView> {
    return transact(this.deps, async (trx) => {
      // A dead token answers 404 whoever asks; a link of another workspace is as good as dead.
      const link = await this.live(trx, token);
      const source = link.workspace_id === actor.workspaceId ? await sessions.find(trx, link.workspace_id, link.session_id) : undefined;
      if (!source) throw deadLink();
      const owner = await assertCanClone(trx, actor, source);
      const copy = await sessions.insert(trx, {
        id: newId("ses"),
        workspace_id: source.workspace_id,
        agent_id: source.agent_id,
        group_id: source.group_id,
        owner_id: owner,
        title: source.title,
        message_count: link.max_seq,
        now: this.clock.now(),
      });
      await messages.copy(trx, source.id, copy.id, link.max_seq);
      return presentSession(copy);
    });
  }

  /** What the view shows besides messages: the agent, or a conversation's group. */
  private async shownWith(db: Knex, session: Session): Promise<Pick<SharedSessionView, "agent" | "group">> {
    if (session.agent_id === null) {
      const group = session.group_id === null ? undefined : await groups.find(db, session.workspace_id, session.group_id);
      if (!group) throw deadLink();
      return { agent: null, group: { id: group.id, name: group.name } };
    }
    const agent = await agents.find(db, session.workspace_id, session.agent_id);
    if (!agent) throw deadLink();
    return { agent: { id: agent.id, name: agent.name } };
  }

  private async live(db: Knex, token: string): Promise<LiveLink> {
    const link = TOKEN.test(token) ? await shareLinks.findLive(db, sha256(token), this.clock.now()) : undefined;
    if (!link) throw deadLink();
    return link;
  }
}
