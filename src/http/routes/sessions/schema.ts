/**
 * Schemas of the sessions family (sessions and their messages, agent turns, share links): what its
 * routes take and what they answer. The group conversations' routes answer the same views.
 */
import { z } from "zod";
import { Approval } from "../../../domain/approvals/schema.js";
import { MESSAGE_ROLES } from "../../../domain/sessions/messages.js";
import { SHARE_MAX_HOURS } from "../../../domain/sharing/policy.js";
import { CursorQuery, Title, Uuid, limitQuery } from "../../../schemas.js";
import { Source } from "../../../domain/sessions/source.js";
import { Time } from "../agents/schema.js";
import { ContentBlock, Count } from "./parts.js";

export { MessagesQuery, SessionListQuery } from "../../../schemas.js";

// ---- requests -----------------------------------------------------------------------------------

export const CreateSession = z.strictObject({
  title: Title.optional(),
  owner_id: z.number().int().positive().nullable().optional(),
});
export const RenameSession = z.strictObject({ title: Title });

export const AppendMessage = z.strictObject({
  id: Uuid.optional(),
  role: z.enum(MESSAGE_ROLES, { message: `must be one of ${MESSAGE_ROLES.join(", ")}` }),
  content: z.union([z.string(), z.array(ContentBlock)], { message: "must be a string or an array of content blocks" }),
  thinking: z.union([z.string(), z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullish(),
  toolCalls: z.array(z.record(z.string(), z.unknown())).nullish(),
  sources: z.array(Source).nullish(),
  model: z.string().max(200).nullish(),
  finishReason: z.string().max(100).nullish(),
  tokenUsage: z.strictObject({ inputTokens: Count, outputTokens: Count, totalTokens: Count }).nullish(),
});

/** A turn: the user's message (its id makes a retry idempotent). */
export const StartTurn = z.strictObject({
  id: Uuid.optional(),
  content: z.string().refine((c) => c.trim().length > 0, "must not be empty"),
});

export const CreateShare = z.strictObject({
  expires_in_hours: z
    .number({ message: "must be a whole number of hours" })
    .int("must be a whole number of hours")
    .min(1, `must be from 1 to ${SHARE_MAX_HOURS}`)
    .max(SHARE_MAX_HOURS, `must be from 1 to ${SHARE_MAX_HOURS}`)
    .optional()
    .transform((h) => h ?? SHARE_MAX_HOURS),
});

/** GET /api/sessions/search: `q` is looked for in titles and message content (any case). */
export const SessionSearchQuery = z.object({
  q: z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters"),
  limit: limitQuery(20, 50),
  cursor: CursorQuery,
});

// ---- answers ------------------------------------------------------------------------------------

export const Session = z.object({
  id: z.string(),
  /** null for a group's conversation, which has its group_id instead. */
  agent_id: z.string().nullable(),
  group_id: z.string().nullable(),
  owner_id: z.number().int().nullable(),
  title: z.string(),
  archived: z.boolean(),
  created_at: Time,
  updated_at: Time,
  last_message_at: Time.nullable(),
  message_count: z.number().int(),
});
export const SessionPage = z.object({ sessions: z.array(Session), next_cursor: z.string().nullable() });
export const SessionSearchPage = z.object({
  results: z.array(
    z.object({
      session: Session,
      match: z
        .object({ seq: z.number().int(), snippet: z.string() })
        .nullable()
        .describe("The first message whose content matched, with the text around the match; null when only the title matched"),
    }),
  ),
  next_cursor: z.string().nullable(),
});

const TokenUsage = z.object({ inputTokens: z.number().int(), outputTokens: z.number().int(), totalTokens: z.number().int() });

/** A whole turn of the conversation: content and, for an agent's answer, its thinking, tool calls, sources, model and usage. */
export const Message = z.object({
  id: z.string(),
  role: z.enum(MESSAGE_ROLES),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
  thinking: z.unknown().optional(),
  toolCalls: z.array(z.record(z.string(), z.unknown())).optional(),
  sources: z.array(Source).optional(),
  model: z.string().optional(),
  finishReason: z.string().optional(),
  tokenUsage: TokenUsage.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** In a group's conversation: the agent that answered. */
  agentId: z.string().optional(),
  /** In a group's conversation: the person who asked. */
  userId: z.number().int().optional(),
  userName: z.string().optional(),
  /** An answer's approvals: what people were asked during its turn, and their decisions. */
  approvals: z.array(Approval).optional(),
  seq: z.number().int().meta({ description: "From 1, one more per message of the session" }),
  createdAt: Time,
});
export const MessagePage = z.object({ messages: z.array(Message), next_cursor: z.string().nullable() });

export const Turn = z.object({
  id: z.string(),
  session_id: z.string(),
  agent_id: z.string(),
  status: z.enum(["queued", "running", "waiting", "completed", "failed", "cancelled"]).meta({ description: "`waiting`: people are deciding an approval it asked for" }),
  trigger_message_id: z.string(),
  message_id: z.string(),
  error: z.string().optional(),
  /** The ask that started it, in a group's conversation. */
  ask_id: z.string().optional(),
  created_at: Time,
  started_at: Time.nullable(),
  ended_at: Time.nullable(),
});
/** The answer so far, as the turn's events have built it. */
export const TurnSnapshot = z.object({
  content: z.string(),
  thinking: z.array(z.record(z.string(), z.unknown())),
  toolCalls: z.array(z.record(z.string(), z.unknown())),
  sources: z.array(Source),
  metadata: z.record(z.string(), z.unknown()),
  model: z.string().optional(),
  finishReason: z.string().optional(),
  tokenUsage: TokenUsage.optional(),
  error: z.string().optional(),
});
export const TurnWithSnapshot = Turn.extend({ seq: z.number().int(), snapshot: TurnSnapshot, approvals: z.array(Approval).meta({ description: "What the turn asked people, oldest first" }) });
export const StartedTurn = z.object({ turn: Turn, message: Message });

export const ShareLink = z.object({ token: z.string(), url: z.string(), expires_at: Time });
/** An approval in the public share view: the decisions, not who made them. */
const SharedApproval = Approval.extend({ decisions: z.array(Approval.shape.decisions.element.omit({ user_id: true, name: true })) });
/** The read-only view of a shared session: who asked is not named. */
export const SharedSession = z.object({
  title: z.string(),
  session: z.object({ id: z.string(), title: z.string(), created_at: Time }),
  agent: z.object({ id: z.string(), name: z.string() }).nullable(),
  group: z.object({ id: z.string(), name: z.string() }).optional(),
  messages: z.array(Message.omit({ userId: true, userName: true }).extend({ approvals: z.array(SharedApproval).optional() })),
  next_cursor: z.string().nullable(),
  expires_at: Time,
});
