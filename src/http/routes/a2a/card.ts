/**
 * The agent cards the hub serves for its own agents and groups (A2A protocol 1.0, as
 * `@a2a-js/sdk` 1.3 types them), with a v0.3 mirror of the JSON-RPC interface so clients of
 * either protocol version find the endpoint. The v0.3 shape of a card (`url`,
 * `preferredTransport`, …) is made by the SDK's own compat layer, never by hand.
 */
import { AgentCard } from "@a2a-js/sdk";
import { duplicateInterfacesForLegacy } from "@a2a-js/sdk/compat/v0_3";
import { LegacyRestTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { ServerCallContext, type A2ARequestHandler } from "@a2a-js/sdk/server";

/** What a card is made from: an agent (its name and description) or a group (its name and roster). */
export interface CardSubject {
  kind: "agent" | "group";
  id: string;
  name: string;
  description: string;
  /** The JSON-RPC endpoint, absolute (PUBLIC_URL or the request's origin). */
  url: string;
}

const TEXT = ["text/plain"];

/** The name of the card's one security scheme. */
export const BEARER_SCHEME = "bearer";

export function hubAgentCard(subject: CardSubject): AgentCard {
  return {
    name: subject.name,
    description: subject.description,
    supportedInterfaces: duplicateInterfacesForLegacy([{ url: subject.url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }], ["JSONRPC"]),
    provider: undefined,
    version: "1.0.0",
    documentationUrl: undefined,
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      [BEARER_SCHEME]: {
        scheme: {
          $case: "httpAuthSecurityScheme",
          value: { description: "An agenthub credential: a user token (JWT), a master key or an agent key", scheme: "Bearer", bearerFormat: "JWT or agenthub API key" },
        },
      },
    },
    securityRequirements: [{ schemes: { [BEARER_SCHEME]: { list: [] } } }],
    defaultInputModes: TEXT,
    defaultOutputModes: TEXT,
    skills: [
      {
        id: subject.id,
        name: subject.name,
        description: subject.description,
        tags: [subject.kind === "group" ? "agenthub-group" : "agenthub-agent"],
        examples: [],
        inputModes: TEXT,
        outputModes: TEXT,
        securityRequirements: [],
      },
    ],
    signatures: [],
    iconUrl: undefined,
  } as AgentCard;
}

/**
 * The v0.3 form of a card, through the SDK's compat layer (the layer's REST handler is the one
 * public door to that conversion), with the 1.0 interfaces embedded as the SDK's own v0.3 card
 * router serves them (`embedV1Interfaces`), so a 1.0 reader finds them too.
 */
export async function legacyCard(card: AgentCard): Promise<unknown> {
  const source = { getAuthenticatedExtendedAgentCard: async () => card } as unknown as A2ARequestHandler;
  const legacy = await new LegacyRestTransportHandler(source).getAuthenticatedExtendedAgentCard(new ServerCallContext());
  return { ...legacy, supportedInterfaces: structuredClone(card.supportedInterfaces) };
}

/**
 * The card as it goes on the wire: protocol 1.0's JSON form of the card (the SDK's
 * `AgentCard.toJSON`: `{httpAuthSecurityScheme: …}` for the Bearer scheme, which the SDK's card
 * resolver reads back), or the v0.3 card.
 */
export async function wireCard(card: AgentCard, legacy: boolean): Promise<unknown> {
  return legacy ? legacyCard(card) : AgentCard.toJSON(card);
}

/** The request asks for the v0.3 protocol: no `A2A-Version` header (as the SDK's server assumes), or 0.x. */
export const isLegacyVersion = (header: string | undefined) => !header || header.trim() === "" || header.trim().startsWith("0.");
