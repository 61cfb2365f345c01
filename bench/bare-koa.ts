/**
 * The scale scenario's append baseline: bare Koa + pg, no auth, no validation beyond JSON, no
 * events. POST /channels/{id}/messages {agentId, message, metadata} inserts the same row as
 * agenthub's publish, with the same statement (the channel's next seq taken in it), and answers
 * 201 with the row.
 *
 * Env: PORT, HOST (127.0.0.1), DATABASE_URL, POOL_MAX (10, agenthub's default).
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { bodyParser } from "@koa/bodyparser";
import Koa from "koa";
import pg from "pg";
import { canonicalHash } from "../src/domain/canonical.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 10) });
const PUBLISH = /^\/channels\/([^/]+)\/messages$/;
const SQL = `WITH channel AS (
  UPDATE team_channels SET message_count = message_count + 1 WHERE id = $1 RETURNING id, message_count
)
INSERT INTO team_channel_messages (channel_id, seq, id, agent_id, message, metadata, body_hash)
SELECT channel.id, channel.message_count, $2, $3, $4, $5::jsonb, $6 FROM channel
RETURNING *`;

const app = new Koa();
app.use(bodyParser());
app.use(async (ctx) => {
  if (ctx.path === "/healthz") {
    ctx.body = { status: "ok" };
    return;
  }
  const m = ctx.method === "POST" ? PUBLISH.exec(ctx.path) : null;
  if (!m) return;
  const b = ctx.request.body as { agentId: string; message: string; metadata?: Record<string, unknown> | null };
  const metadata = b.metadata ?? null;
  const hash = canonicalHash({ agentId: b.agentId, message: b.message, metadata });
  const { rows } = await pool.query(SQL, [m[1], randomUUID(), b.agentId, b.message, metadata === null ? null : JSON.stringify(metadata), hash]);
  if (!rows[0]) ctx.throw(404);
  ctx.status = 201;
  ctx.body = rows[0];
});

const server = http.createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");
const stop = () => server.close(() => void pool.end().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
