/**
 * Schemas of the groups family (groups, the sessions shared in them, and their conversations):
 * what its routes take and answer. Conversations are sessions, so they answer the sessions
 * family's views.
 */
import { z } from "zod";
import { STRATEGIES } from "../../../domain/asks/routing.js";
import { Time } from "../agents/schema.js";
import { Message } from "../sessions/schema.js";

export { AskBody, CreateConversation, GroupBody } from "../../../schemas.js";

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
  agents: z.array(z.object({ agentId: z.string(), turnId: z.string().nullable(), status: z.enum(["queued", "running", "completed", "failed", "cancelled"]) })),
  ignored_mentions: z.array(z.string()),
  created_at: Time,
  ended_at: Time.nullable(),
});
/** `POST …/ask`: the ask and the question it stored. */
export const StartedAsk = z.object({ ask: Ask, message: Message });
