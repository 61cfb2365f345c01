/**
 * What a chat request asks, whichever contract sent it (schema.ts ChatRequest): the session to
 * continue (none: a new one), and the turn's message, the text of the last user message. Its
 * `id` becomes the stored message's id when it is a UUID, so a retry starts no second turn.
 */
import type { z } from "zod";
import { Invalid } from "../../../errors.js";
import { Uuid } from "../../../schemas.js";
import type { ChatMessage, ChatRequest } from "./schema.js";

export interface ChatCall {
  sessionId: string | undefined;
  content: string;
  messageId: string | undefined;
}


export function readChat(body: z.output<typeof ChatRequest>): ChatCall {
  // AG-UI names the session threadId, Agentgram session_id, the AI SDK the chat's id.
  const sessionId = body.threadId ?? body.session_id ?? body.id;
  const message = [...body.messages].reverse().find((m) => m.role === "user");
  const content = message ? textOf(message).trim() : "";
  if (!message || !content) throw Invalid.field("messages", "must hold a user message with text (its last one is the turn's message)");
  return { sessionId, content, messageId: Uuid.safeParse(message.id).data };
}

function textOf(m: z.output<typeof ChatMessage>): string {
  const parts = typeof m.content === "string" ? [{ type: "text", text: m.content }] : [...(m.content ?? []), ...(m.parts ?? [])];
  return parts
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}
