/**
 * Schemas of the groups family (groups, the sessions shared in them, and their conversations):
 * what its routes take and answer. Conversations are sessions, so they answer the sessions
 * family's views.
 */
import { z } from "zod";
import { STRATEGIES } from "../../../domain/asks/routing.js";
import { AgentId, Title, Uuid } from "../../../schemas.js";
import { Time } from "../agents/schema.js";
import { Message } from "../sessions/schema.js";

// ---- requests -----------------------------------------------------------------------------------

export const GroupBody = z.strictObject({
  name: Title,
  agentIds: z
    .array(AgentId)
    .max(100)
    .refine((ids) => new Set(ids).size >= 2, "a group needs at least two distinct agents"),
  // Any address an IdP may issue (user@localhost included): something@something, no spaces.
  allowed_users: z
    .array(z.string().trim().max(320).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address"))
    .max(1000)
    .optional(),
  allowed_groups: z.array(z.string().trim().min(1).max(500)).max(1000).optional(),
});

export const CreateConversation = z.strictObject({ title: Title.optional() });

/** A question for the group's agents: who answers is routed by `strategy`, narrowed by `agentIds`. */
export const AskBody = z.strictObject({
  id: Uuid.optional(),
  content: z.string().refine((c) => c.trim().length > 0, "must not be empty"),
  agentIds: z.array(AgentId).min(1, "name at least one agent, or leave agentIds out").max(100).optional(),
  strategy: z.enum(STRATEGIES, { message: `must be one of ${STRATEGIES.join(", ")}` }).optional(),
});

// ---- answers ------------------------------------------------------------------------------------

export const Group = z.object({
  id: z.string(),
  workspace_id: z.string(),
  name: z.string(),
  agentIds: z.array(z.string()),
  allowed_users: z.array(z.string()),
  allowed_groups: z.array(z.string()),
  created_by: z.number().int().nullable(),
  created_at: Time,
  updated_at: Time,
});
export const GroupPage = z.object({ groups: z.array(Group), next_cursor: z.string().nullable() });
export const GroupSession = z.object({ group_id: z.string(), session_id: z.string(), added_by: z.number().int().nullable(), added_at: Time });

export const Ask = z.object({
  id: z.string(),
  group_id: z.string(),
  session_id: z.string(),
  message_id: z.string(),
  strategy: z.enum(STRATEGIES),
  status: z.enum(["running", "completed"]),
  agents: z.array(z.object({ agentId: z.string(), turnId: z.string().nullable(), status: z.enum(["queued", "running", "waiting", "completed", "failed", "cancelled"]) })),
  ignored_mentions: z.array(z.string()),
  created_at: Time,
  ended_at: Time.nullable(),
});
/** `POST …/ask`: the ask and the question it stored. */
export const StartedAsk = z.object({ ask: Ask, message: Message });
