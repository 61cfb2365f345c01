/**
 * Request shapes of the chat family (the hub in the standard protocols): one body for the three
 * chat contracts clients already send to `POST /api/agents/{agentId}/chat`, told apart by shape
 * (chat.ts `readChat`):
 * - Agentgram's `{messages, session_id?}`;
 * - AG-UI's `RunAgentInput` `{threadId, runId, messages, tools, state, context, forwardedProps}`;
 * - the AI SDK's `useChat` body `{id, messages: [{id, role, parts}], trigger?, messageId?}`.
 * Unknown fields are kept out of the way, not refused: each protocol grows.
 */
import { z } from "zod";

const Part = z.looseObject({ type: z.string().max(100), text: z.string().optional() });

/** A message as any of the three sends it: `content` (a string or parts) or `parts`. */
export const ChatMessage = z.looseObject({
  id: z.string().max(200).optional(),
  role: z.string().min(1).max(50),
  content: z.union([z.string(), z.array(Part)]).nullable().optional(),
  parts: z.array(Part).optional(),
});

export const ChatRequest = z.looseObject({
  messages: z.array(ChatMessage).min(1).max(10_000),
  /** Agentgram: the session to continue. */
  session_id: z.string().min(1).max(200).optional(),
  /** AG-UI: the session (thread) to continue; `runId` and the rest are accepted and not used. */
  threadId: z.string().min(1).max(200).optional(),
  runId: z.string().max(200).optional(),
  tools: z.array(z.unknown()).optional(),
  state: z.unknown().optional(),
  context: z.array(z.unknown()).optional(),
  forwardedProps: z.unknown().optional(),
  /** AI SDK: the chat id, which is the session id. */
  id: z.string().min(1).max(200).optional(),
  trigger: z.string().max(100).optional(),
  messageId: z.string().max(200).optional(),
});

export const ChatQuery = z.strictObject({
  format: z.enum(["agui", "ui-message"]).default("agui").describe("`agui` (default): an AG-UI event stream; `ui-message`: the AI SDK's UI message stream"),
});

export const StreamQuery = z.strictObject({
  format: z.enum(["agui", "ui-message", "sharely"]).default("agui").describe("The stream's format: `agui` (default), `ui-message` (AI SDK) or `sharely`"),
});
