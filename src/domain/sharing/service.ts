/**
 * Share links: a time-limited, revocable, read-only view of a session at share time, and a
 * way to clone it into one's own sessions. Tokens are 256 random bits, stored only as sha256.
 */
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import type { Principal } from "../../auth/principal.js";
import { Forbidden, NotFound } from "../../errors.js";
import { newId, sha256 } from "../../ids.js";
import { loadAgentFor } from "../agents/policy.js";
import { transact, type TxDeps } from "../events.js";
import { messagesAfter, type MessageView } from "../sessions/messages.js";
import { loadSessionFor, type SessionRow } from "../sessions/policy.js";
import { presentSession, type SessionView } from "../sessions/service.js";
import { toIso, type Clock } from "../time.js";

export const SHARE_MAX_HOURS = 168;

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
  agent: { id: string; name: string };
  messages: MessageView[];
  expires_at: string;
}

interface LiveLink {
  workspace_id: string;
  session_id: string;
  max_seq: number;
  expires_at: Date;
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
    return transact(this.deps, async (trx) => {
      const session = await loadSessionFor(trx, actor, agentId, sessionId, "share");
      const token = randomBytes(32).toString("base64url");
      const now = this.clock.now();
      const expiresAt = new Date(now.getTime() + expiresInHours * 3_600_000);
      await trx("share_links").insert({
        id: newId("shl"),
        workspace_id: session.workspace_id,
        session_id: session.id,
        token_hash: sha256(token),
        max_seq: session.message_count,
        created_by: actor.kind === "user" ? actor.userId : null,
        created_at: now,
        expires_at: expiresAt,
      });
      return { token, url: `${this.publicUrl()}/shared/${token}`, expires_at: toIso(expiresAt) };
    });
  }

  /** Revokes every live link of the session at once (204 even when there was none). */
  async revoke(actor: Principal, agentId: string, sessionId: string): Promise<void> {
    await transact(this.deps, async (trx) => {
      const session = await loadSessionFor(trx, actor, agentId, sessionId, "share");
      await trx("share_links").where({ session_id: session.id }).whereNull("revoked_at").update({ revoked_at: this.clock.now() });
    });
  }

  /** The public, read-only view. No credential: the token is the credential. */
  async view(token: string): Promise<SharedSessionView> {
    const { db } = this.deps;
    const link = await this.live(db, token);
    const session: SessionRow | undefined = await db("sessions").where({ id: link.session_id }).first();
    const agent = session && (await db("agents").where({ workspace_id: session.workspace_id, id: session.agent_id }).first("id", "name"));
    if (!session || !agent) throw deadLink(); // deleted a moment ago
    return {
      title: session.title,
      session: { id: session.id, title: session.title, created_at: toIso(session.created_at) },
      agent: { id: agent.id, name: agent.name },
      messages: await messagesAfter(db, session.id, 0, link.max_seq),
      expires_at: toIso(link.expires_at),
    };
  }

  /**
   * Copies the shared messages into a new session owned by the caller: a user of the session's
   * workspace who may use its agent (403 otherwise; keys too). Messages keep their ids, bodies
   * and createdAt, with seqs 1..n.
   */
  async clone(actor: Principal, token: string): Promise<SessionView> {
    return transact(this.deps, async (trx) => {
      // A dead token answers 404 whoever asks; a link of another workspace is as good as dead.
      const link = await this.live(trx, token);
      const source: SessionRow | undefined = await trx("sessions").where({ id: link.session_id }).first();
      if (!source || source.workspace_id !== actor.workspaceId) throw deadLink();
      if (actor.kind !== "user") throw new Forbidden("Only users may clone a shared session");
      await loadAgentFor(trx, actor, source.agent_id).catch((err: unknown) => {
        throw err instanceof NotFound ? new Forbidden("You need access to the session's agent to clone it") : err;
      });
      const now = this.clock.now();
      const id = newId("ses");
      const [row] = await trx("sessions")
        .insert({
          id,
          workspace_id: source.workspace_id,
          agent_id: source.agent_id,
          owner_id: actor.userId,
          title: source.title,
          message_count: link.max_seq,
          created_at: now,
          updated_at: now,
          last_message_at: link.max_seq > 0 ? now : null,
        })
        .returning("*");
      await trx.raw(
        `insert into session_messages (session_id, seq, id, role, turn, body_hash, created_at)
         select ?, row_number() over (order by seq), id, role, turn, body_hash, created_at
         from session_messages where session_id = ? and seq <= ?`,
        [id, source.id, link.max_seq],
      );
      return presentSession(row);
    });
  }

  private async live(db: Knex, token: string): Promise<LiveLink> {
    if (!TOKEN.test(token)) throw deadLink();
    const link: LiveLink | undefined = await db("share_links")
      .where({ token_hash: sha256(token) })
      .whereNull("revoked_at")
      .where("expires_at", ">", this.clock.now())
      .first("workspace_id", "session_id", "max_seq", "expires_at");
    if (!link) throw deadLink();
    return { ...link, max_seq: Number(link.max_seq) };
  }
}
