/**
 * How an agent is reached (CONTRACT.md, "Every kind of agent: endpoint protocols"): its
 * `endpoint`, one of the protocols below. A Sharely agent server keeps its URL in `server_url`
 * (its shorthand) and an agent with no endpoint at all is served over a socket, as before. The
 * stored endpoint never holds a secret: a model agent's `apiKey` is sealed apart
 * (`endpoint_api_key`, auth/secrets.ts) and only ever shown as `apiKeySet`.
 */
import { z } from "zod";

export const PROTOCOLS = ["socket", "sharely", "a2a", "agui", "adk", "model"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The most tool-calling steps a model agent may take in one turn. */
export const MAX_MODEL_STEPS = 32;
export const DEFAULT_MODEL_STEPS = 8;

const Url = z
  .string()
  .max(2000)
  .refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), "must be an http(s) URL");
const McpServerIds = z.array(z.string().min(1).max(200)).max(32, "names at most 32 MCP servers");

export const SocketEndpoint = z.strictObject({ protocol: z.literal("socket") });
export const SharelyEndpoint = z.strictObject({ protocol: z.literal("sharely"), url: Url });
export const A2aEndpoint = z.strictObject({ protocol: z.literal("a2a"), url: Url });
export const AguiEndpoint = z.strictObject({ protocol: z.literal("agui"), url: Url });
export const AdkEndpoint = z.strictObject({
  protocol: z.literal("adk"),
  url: Url,
  app: z.string().regex(/^[\w.-]{1,200}$/, "must be 1-200 letters, digits or _.-"),
});
const ModelFields = {
  protocol: z.literal("model"),
  url: Url,
  model: z.string().trim().min(1, "must not be empty").max(200),
  system: z.string().max(32_000).optional(),
  /** The workspace's knowledge tools. */
  tools: z.boolean().optional(),
  /** People approve each call of the knowledge tools first: all of them (true), or those named. */
  toolsRequireApproval: z.union([z.boolean(), z.array(z.string().min(1).max(100)).max(50)]).optional(),
  mcpServers: McpServerIds.optional(),
  maxSteps: z.number().int().min(1).max(MAX_MODEL_STEPS).optional(),
};
/** A model agent as its editors send it: `apiKey` write-only (null clears it). */
export const ModelEndpointInput = z.strictObject({ ...ModelFields, apiKey: z.string().min(1).max(4096).nullable().optional() });
/** A model agent as it is stored and shown: no key, only whether one is set. */
export const ModelEndpoint = z.strictObject({ ...ModelFields, apiKeySet: z.boolean().optional() });

export const EndpointInput = z.discriminatedUnion("protocol", [SocketEndpoint, SharelyEndpoint, A2aEndpoint, AguiEndpoint, AdkEndpoint, ModelEndpointInput], {
  error: `protocol must be one of ${PROTOCOLS.join(", ")}`,
});
export const EndpointView = z.discriminatedUnion("protocol", [SocketEndpoint, SharelyEndpoint, A2aEndpoint, AguiEndpoint, AdkEndpoint, ModelEndpoint]);

export type EndpointInput = z.output<typeof EndpointInput>;
export type EndpointView = z.output<typeof EndpointView>;
/** What `agents.endpoint` holds: a protocol other than socket and sharely, without secrets. */
export type StoredEndpoint = Exclude<EndpointView, { protocol: "socket" | "sharely" }>;
export type ModelEndpoint = z.output<typeof ModelEndpoint>;

/** The parts of an agent row its endpoint is read from. */
export interface EndpointColumns {
  server_url: string | null;
  endpoint: StoredEndpoint | null;
  endpoint_api_key: string | null;
}

export function protocolOf(agent: EndpointColumns): Protocol {
  return agent.endpoint?.protocol ?? (agent.server_url ? "sharely" : "socket");
}

/** The agent's endpoint as its team sees it (no secret). */
export function endpointView(agent: EndpointColumns): EndpointView {
  if (agent.endpoint?.protocol === "model") return { ...agent.endpoint, apiKeySet: agent.endpoint_api_key !== null };
  if (agent.endpoint) return agent.endpoint;
  return agent.server_url ? { protocol: "sharely", url: agent.server_url } : { protocol: "socket" };
}

/** The URL the hub calls for this agent, if any. */
export function endpointUrl(agent: EndpointColumns): string | undefined {
  return agent.endpoint?.url ?? agent.server_url ?? undefined;
}

/**
 * The columns an endpoint input is stored as. `apiKey` absent keeps the stored key only while the
 * agent stays a model agent on the same origin (a key is never sent somewhere its owner did not
 * send it); `sealKey` seals a new one.
 */
export function endpointColumns(
  input: EndpointInput,
  current: EndpointColumns | undefined,
  sealKey: (plain: string) => string,
): EndpointColumns {
  switch (input.protocol) {
    case "socket":
      return { server_url: null, endpoint: null, endpoint_api_key: null };
    case "sharely":
      return { server_url: input.url, endpoint: null, endpoint_api_key: null };
    case "model": {
      const { apiKey, ...stored } = input;
      const sameOrigin = current?.endpoint?.protocol === "model" && new URL(current.endpoint.url).origin === new URL(input.url).origin;
      const key = apiKey === undefined ? (sameOrigin ? current!.endpoint_api_key : null) : apiKey === null ? null : sealKey(apiKey);
      return { server_url: null, endpoint: stored, endpoint_api_key: key };
    }
    default:
      return { server_url: null, endpoint: input, endpoint_api_key: null };
  }
}
