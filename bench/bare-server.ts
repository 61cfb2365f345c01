/**
 * The fan-out benchmark's baseline: bare Socket.IO with the Redis adapter and no database.
 * Every socket joins one room at connect; POST /team-channels/{id}/messages builds a message
 * shaped like agenthub's and does `io.to(room).emit("channel:message", …)`, answering 201 with it.
 *
 * Env: PORT, HOST (127.0.0.1), REDIS_URL, REDIS_KEY (adapter channel prefix), COALESCE=1 to use
 * agenthub's write coalescing (src/realtime/coalesce.ts) as well.
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { coalesceWrites } from "../src/realtime/coalesce.js";

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? "127.0.0.1";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const key = process.env.REDIS_KEY ?? "bare-bench";

const pub = new Redis(redisUrl, { maxRetriesPerRequest: null });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on("error", (err) => console.error(`redis: ${err.message}`));

const server = http.createServer();
server.keepAliveTimeout = 65_000;
const io = new Server(server, { path: "/socket.io" });
if (process.env.COALESCE === "1") coalesceWrites(io.engine);
io.adapter(createAdapter(pub, sub, { key }));
io.on("connection", (socket) => {
  void socket.join("channel:bench");
});

let seq = 0;
const PUBLISH = /^\/team-channels\/([^/]+)\/messages$/;

server.on("request", (req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  const m = req.method === "POST" ? PUBLISH.exec(req.url ?? "") : null;
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let body: { agentId?: string; message?: string; metadata?: Record<string, unknown> | null };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(422).end();
      return;
    }
    const message = {
      id: randomUUID(),
      channelId: m[1],
      agentId: body.agentId,
      message: body.message,
      metadata: body.metadata ?? null,
      seq: ++seq,
      createdAt: new Date().toISOString(),
    };
    io.to("channel:bench").emit("channel:message", message);
    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(message));
  });
});

server.listen(port, host);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  io.disconnectSockets(true);
  io.close(() => {
    void Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
