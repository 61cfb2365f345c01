/**
 * The A2A family's answers as the OpenAPI document shows them. The cards themselves are made by
 * card.ts in the shapes `@a2a-js/sdk` 1.3 defines (A2A protocol 1.0; v0.3 when `A2A-Version` asks
 * for it); these schemas name the fields clients rely on and let the rest through.
 */
import { z } from "zod";

export const A2aAgentCard = z.looseObject({
  name: z.string(),
  description: z.string(),
  version: z.string(),
  /** Protocol 1.0: the JSON-RPC interfaces (1.0, and its 0.3 mirror). */
  supportedInterfaces: z.array(z.looseObject({ url: z.string(), protocolBinding: z.string(), protocolVersion: z.string() })).optional(),
  /** Protocol 0.3: the JSON-RPC endpoint. */
  url: z.string().optional(),
  capabilities: z.looseObject({ streaming: z.boolean().optional() }),
  securitySchemes: z.record(z.string(), z.unknown()),
  skills: z.array(z.looseObject({ id: z.string(), name: z.string(), description: z.string() })),
});

export const A2aAgentCardPage = z.object({
  cards: z.array(A2aAgentCard),
  next_cursor: z.string().nullable(),
});
