/**
 * Schemas of the team channels family: what its routes take and answer. The publish body's size
 * limit is the MESSAGE_MAX_BYTES setting, so its schema is made from it (publishSchema).
 */
import { z } from "zod";
import { HISTORY_MAX } from "../../../domain/channels/service.js";
import { AgentId, CursorQuery, SinceQuery, Title, Uuid, limitQuery } from "../../../schemas.js";
import { Time } from "../agents/schema.js";

export { PageQuery } from "../../../schemas.js";

// ---- requests -----------------------------------------------------------------------------------

export const CreateChannel = z.object({
  name: Title.max(100, "must be at most 100 characters").regex(/^[^\p{Cc}/]+$/u, "must not contain control characters or '/'"),
  description: z.string().max(2000).nullable().optional(),
});
export const Subscription = z.object({ agentId: AgentId });

/** A broadcast: its message and metadata together (as JSON) at most `maxBytes`. */
export function publishSchema(maxBytes: number) {
  return z
    .object({
      id: Uuid.optional(),
      /** Omitted: a person (user token) posts as themselves. */
      agentId: AgentId.optional(),
      message: z.string().min(1, "must not be empty"),
      metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    })
    .superRefine((b, ctx) => {
      const size = Buffer.byteLength(b.message) + (b.metadata == null ? 0 : Buffer.byteLength(JSON.stringify(b.metadata)));
      if (size > maxBytes) ctx.addIssue({ code: "custom", path: ["message"], message: `message and metadata together are ${size} bytes; at most ${maxBytes} are allowed` });
    });
}

export function channelHistoryQuery(max: number) {
  return z.object({ since: SinceQuery, cursor: CursorQuery, limit: limitQuery(50, max) });
}

export const ChannelHistoryQuery = channelHistoryQuery(HISTORY_MAX);

// ---- answers ------------------------------------------------------------------------------------

export const Channel = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  subscribers: z.array(z.string()),
  messageCount: z.number().int(),
  createdAt: Time,
});
export const ChannelPage = z.object({ channels: z.array(Channel), nextCursor: z.string().nullable() });
export const ChannelMessage = z.object({
  id: z.string(),
  channelId: z.string(),
  agentId: z.string().nullable().describe("The agent it was posted as; null when a person posted as themselves"),
  userId: z.number().int().optional().describe("A person's own post: who wrote it"),
  userName: z.string().optional().describe("A person's own post: their name when they wrote it"),
  message: z.string(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  seq: z.number().int(),
  createdAt: Time,
});
export const ChannelHistory = z.object({ messages: z.array(ChannelMessage), nextCursor: z.string().nullable() });
