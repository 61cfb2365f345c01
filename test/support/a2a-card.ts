/**
 * An A2A agent's card served by `@a2a-js/sdk`'s own express handler (what "Test connection" and
 * the web app's agent settings read), on 127.0.0.1. Only the card: no turns are sent to it.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import type { AgentCard } from "@a2a-js/sdk";
import { agentCardHandler } from "@a2a-js/sdk/server/express";

export interface CardServer {
  url: string;
  close(): Promise<void>;
}

export async function serveAgentCard(fields: Partial<AgentCard> & { name: string }): Promise<CardServer> {
  const app = express();
  let base = "";
  const card = async (): Promise<AgentCard> => ({
    description: "",
    supportedInterfaces: [{ url: base, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: undefined,
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [] } as never,
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
    signatures: [],
    ...fields,
  });
  app.use("/.well-known/agent-card.json", agentCardHandler({ agentCardProvider: card }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
