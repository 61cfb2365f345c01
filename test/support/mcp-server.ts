/**
 * A real MCP server for tests, made with `@modelcontextprotocol/sdk`'s server side (`McpServer`
 * over a stateless `StreamableHTTPServerTransport`, on a node http server on 127.0.0.1:0),
 * offering two tools. It records the headers of every request it receives, so a test can assert
 * what the hub sent it.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface TestMcpServer {
  /** `http://127.0.0.1:<port>/mcp`. */
  url: string;
  origin: string;
  /** The headers of every POST it received, in order. */
  seen: IncomingHttpHeaders[];
  /** How many sessions were initialized (tool listings). */
  initializations(): number;
  close(): Promise<void>;
}

function mcpServer(): McpServer {
  const server = new McpServer({ name: "test-tools", version: "1.0.0" });
  server.registerTool("add", { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  server.registerTool("echo", { description: "Says the text back", inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: "text", text }],
  }));
  return server;
}

export async function startMcpServer(): Promise<TestMcpServer> {
  const seen: IncomingHttpHeaders[] = [];
  let initialized = 0;
  const http = createServer((req, res) => {
    if (req.method !== "POST" || !req.url?.startsWith("/mcp")) {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    seen.push(req.headers);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as { method?: string } | null;
      if (body?.method === "initialize") initialized += 1;
      const server = mcpServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, body))
        .catch(() => res.headersSent || res.writeHead(500).end());
    });
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url: `${origin}/mcp`,
    origin,
    seen,
    initializations: () => initialized,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just freed). */
export async function unreachableUrl(): Promise<string> {
  const http = createServer();
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  await new Promise<void>((resolve) => http.close(() => resolve()));
  return `http://127.0.0.1:${port}/mcp`;
}
