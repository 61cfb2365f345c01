/**
 * The hub as a client of Agent2Agent agents, with the official `@a2a-js/sdk` (protocol 1.0, and
 * 0.3 agents through the SDK's compatibility layer): the agent card read from
 * `{url}/.well-known/agent-card.json` and kept a short while per URL, and a client whose every
 * request goes through the guarded fetch carrying the turn token and a Standard Webhooks
 * signature, never any other credential.
 *
 * The hub calls only the origin the agent's editors configured. A card chooses the interface
 * (JSON-RPC or HTTP+JSON) and its path, never the host: whoever serves the card could otherwise
 * send the turn token and signed requests to a host nobody configured (and a card often names a
 * public or `localhost` address the hub does not reach it by). The guarded fetch checks every URL
 * all the same.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { AgentCard } from "@a2a-js/sdk";
import { Client, ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory } from "@a2a-js/sdk/client";
import { OutboundError, type Fetch } from "./guarded-fetch.js";
import { signWebhook } from "./signature.js";

/** How long a card is kept per URL, and how many cards at most. */
export const CARD_TTL_MS = 60_000;
export const MAX_CARDS = 500;
/** The longest an agent's reason (or an error's text) is quoted in a turn's error. */
const MAX_REASON_CHARS = 300;

const CardShape = z.looseObject({
  name: z.string().max(1000).optional(),
  supportedInterfaces: z.array(z.looseObject({ url: z.string().min(1).max(2000), protocolBinding: z.string().max(100) })).min(1).max(32),
  capabilities: z.looseObject({ streaming: z.boolean().optional() }).nullish(),
});

/** A failure with a reason fit to show a turn's watchers. */
export class A2aError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "A2aError";
  }
}

/**
 * The guarded fetch, adding to every request the turn token (`Authorization: Bearer`) and the
 * Standard Webhooks headers signed over the exact body sent, with a fresh id per request. A
 * request made without a signal of its own (the card's) is bound to `signal` (the turn's).
 */
export function turnFetch(fetch: Fetch, token: string, secret: string, signal: AbortSignal): Fetch {
  const signed = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const body = typeof init?.body === "string" ? init.body : "";
    if (init?.body != null && typeof init.body !== "string") throw new A2aError("the A2A client sent a body the hub cannot sign");
    headers.set("authorization", `Bearer ${token}`);
    for (const [name, value] of Object.entries(signWebhook(secret, randomUUID(), Math.floor(Date.now() / 1000), body))) headers.set(name, value);
    headers.set("user-agent", "agenthub");
    return fetch(input, { ...init, headers, signal: init?.signal ?? signal, redirect: "manual" });
  };
  return signed as Fetch;
}

/** Agent cards by configured URL, each kept CARD_TTL_MS; the oldest leave first past MAX_CARDS. */
export class AgentCardCache {
  private readonly cards = new Map<string, { card: AgentCard; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The agent's card, read with `fetch` unless a fresh one is kept. Throws A2aError. */
  async get(url: string, fetch: Fetch): Promise<AgentCard> {
    const kept = this.cards.get(url);
    if (kept && this.now() - kept.at < CARD_TTL_MS) return kept.card;
    this.cards.delete(url);
    const card = await readCard(url, fetch);
    this.cards.set(url, { card, at: this.now() });
    while (this.cards.size > MAX_CARDS) this.cards.delete(this.cards.keys().next().value!);
    return card;
  }

  /** Forgets a card (its agent failed to answer with it: the next turn reads it again). */
  forget(url: string): void {
    this.cards.delete(url);
  }
}

/** `{url}/.well-known/agent-card.json`, whatever the URL's path ends with. */
export function cardBase(url: string): string {
  const base = new URL(url);
  base.hash = "";
  base.search = "";
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return base.href;
}

async function readCard(url: string, fetch: Fetch): Promise<AgentCard> {
  const where = new URL(".well-known/agent-card.json", cardBase(url)).href;
  let raw: unknown;
  try {
    raw = await new DefaultAgentCardResolver({ fetchImpl: fetch, legacyCompat: { enabled: true } }).resolve(cardBase(url));
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new A2aError(`the A2A agent card at ${where} could not be read: ${describe(err)}`);
  }
  const checked = CardShape.safeParse(raw);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new A2aError(`the A2A agent card at ${where} is not a usable card (${issue?.path.join(".") || "card"}: ${issue?.message})`);
  }
  return raw as AgentCard;
}

/**
 * A client for the card's preferred interface the SDK supports (JSON-RPC, then HTTP+JSON), every
 * interface moved to the configured origin (see the top of this file). Throws A2aError.
 */
export async function a2aClient(card: AgentCard, url: string, fetch: Fetch): Promise<Client> {
  const origin = new URL(url).origin;
  const pinned: AgentCard = {
    ...card,
    supportedInterfaces: card.supportedInterfaces.map((i) => {
      const at = URL.canParse(i.url, url) ? new URL(i.url, url) : undefined;
      return { ...i, url: at && /^https?:$/.test(at.protocol) ? `${origin}${at.pathname}${at.search}` : `${origin}/` };
    }),
  };
  const factory = new ClientFactory({
    transports: [new JsonRpcTransportFactory({ fetchImpl: fetch, legacyCompat: { enabled: true } }), new RestTransportFactory({ fetchImpl: fetch, legacyCompat: { enabled: true } })],
    preferredTransports: ["JSONRPC", "HTTP+JSON"],
    // The card is normalized once, when it is read; a second pass would parse it again.
    cardResolver: { resolve: () => Promise.reject(new Error("not used")), normalizeAgentCard: (c) => c as AgentCard },
  });
  try {
    return await factory.createFromAgentCard(pinned);
  } catch (err) {
    const bindings = card.supportedInterfaces.map((i) => i.protocolBinding).join(", ");
    throw new A2aError(`the A2A agent offers no interface the hub speaks (it offers ${bindings.slice(0, 200)}; the hub speaks JSONRPC and HTTP+JSON): ${describe(err)}`);
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError");
}

/** An error's message, one line, bounded (an agent's answer may be quoted in it). */
export function describe(err: unknown): string {
  const text = err instanceof OutboundError || err instanceof A2aError ? err.reason : err instanceof Error ? err.message : String(err);
  return bounded(text);
}

/** Text from an agent, one line, at most MAX_REASON_CHARS. */
export function bounded(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}…` : line;
}
