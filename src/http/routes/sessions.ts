/** Routes: sessions and their messages ("Sessions" in the contract). */
import type { Router } from "@koa/router";
import { z } from "zod";
import { MESSAGE_ROLES } from "../../domain/sessions/messages.js";
import type { Services } from "../../services.js";
import type { HubState } from "../context.js";
import { CursorQuery, SinceQuery, UuidSchema, limitQuery, parse } from "../validate.js";

const Title = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");

const CreateSession = z.strictObject({
  title: Title.optional(),
  owner_id: z.number().int().positive().nullable().optional(),
});
const RenameSession = z.strictObject({ title: Title });

/** `?limit=` (default 50; larger than 200 is served as 200) and an opaque `?cursor=`. */
export const PageQuery = z.object({
  limit: limitQuery(50, 200),
  cursor: CursorQuery,
});
/** `?since=`: only what changed after that millisecond. */
const ListQuery = PageQuery.extend({ since: SinceQuery });
const MessagesQuery = PageQuery.extend({
  since: SinceQuery,
  after_seq: z
    .string()
    .regex(/^\d{1,15}$/, "must be a non-negative integer")
    .transform(Number)
    .optional(),
}).refine((q) => q.cursor === undefined || q.after_seq === undefined, {
  message: "send cursor or after_seq, not both",
  path: ["after_seq"],
});

const ContentBlock = z.looseObject({ type: z.string().min(1, "must not be empty") });
const Source = z.looseObject({
  id: z.string(),
  type: z.string(),
  title: z.string().optional(),
  snippet: z.string().optional(),
});
const Count = z.number().int().nonnegative();
const AppendMessage = z.strictObject({
  id: UuidSchema.optional(),
  role: z.enum(MESSAGE_ROLES, { message: `must be one of ${MESSAGE_ROLES.join(", ")}` }),
  content: z.union([z.string(), z.array(ContentBlock)], { message: "must be a string or an array of content blocks" }),
  thinking: z.union([z.string(), z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullish(),
  toolCalls: z.array(z.record(z.string(), z.unknown())).nullish(),
  sources: z.array(Source).nullish(),
  model: z.string().max(200).nullish(),
  finishReason: z.string().max(100).nullish(),
  tokenUsage: z.strictObject({ inputTokens: Count, outputTokens: Count, totalTokens: Count }).nullish(),
});

export function sessionRoutes(router: Router<HubState>, s: Services): void {
  const base = "/api/agents/:agentId/sessions";

  router.post(base, async (ctx) => {
    ctx.body = await s.sessions.create(ctx.state.principal, ctx.params.agentId!, parse(CreateSession, ctx.request.body));
    ctx.status = 201;
  });
  router.get(base, async (ctx) => {
    ctx.body = await s.sessions.list(ctx.state.principal, ctx.params.agentId!, false, parse(ListQuery, ctx.query));
  });
  router.get(`${base}/archived`, async (ctx) => {
    ctx.body = await s.sessions.list(ctx.state.principal, ctx.params.agentId!, true, parse(ListQuery, ctx.query));
  });
  router.delete(`${base}/archived`, async (ctx) => {
    await s.sessions.removeArchived(ctx.state.principal, ctx.params.agentId!);
    ctx.status = 204;
  });

  router.get(`${base}/:sessionId`, async (ctx) => {
    ctx.body = await s.sessions.get(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
  });
  router.patch(`${base}/:sessionId`, async (ctx) => {
    const { title } = parse(RenameSession, ctx.request.body);
    await s.sessions.rename(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, title);
    ctx.status = 204;
  });
  router.delete(`${base}/:sessionId`, async (ctx) => {
    await s.sessions.remove(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.post(`${base}/:sessionId/archive`, async (ctx) => {
    await s.sessions.archive(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });
  router.post(`${base}/:sessionId/restore`, async (ctx) => {
    await s.sessions.restore(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!);
    ctx.status = 204;
  });

  router.get(`${base}/:sessionId/messages`, async (ctx) => {
    const q = parse(MessagesQuery, ctx.query);
    ctx.body = await s.sessionMessages.list(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, {
      limit: q.limit,
      cursor: q.cursor,
      afterSeq: q.after_seq,
      since: q.since,
    });
  });
  router.post(`${base}/:sessionId/messages`, async (ctx) => {
    const input = parse(AppendMessage, ctx.request.body);
    const { message, created } = await s.sessionMessages.append(ctx.state.principal, ctx.params.agentId!, ctx.params.sessionId!, input);
    ctx.body = message;
    ctx.status = created ? 201 : 200;
  });
}
