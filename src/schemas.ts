/**
 * Every input schema, in one module shared by REST routes and socket handlers: ids, names,
 * pages, request bodies and socket payloads. `parse` turns a failure into a 422 naming each
 * bad field. A rule written here once holds on every path that takes the same input.
 */
import { z } from "zod";
import { SHARE_MAX_HOURS } from "./domain/sharing/policy.js";
import { MESSAGE_ROLES } from "./domain/sessions/messages.js";
import { MAX_SEQ } from "./domain/pagination.js";
import { STRATEGIES } from "./domain/asks/routing.js";
import { parseSince } from "./domain/time.js";
import { Invalid } from "./errors.js";

/** Deeper JSON than this is refused: nothing the API takes nests so deep, and walking it costs stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuses input no schema should have to think about and Postgres cannot store: NUL characters
 * (text and jsonb reject them), nesting deeper than MAX_JSON_DEPTH, and prototype keys. Walks
 * iteratively, so hostile depth cannot overflow the stack. Answers the first problem, with the
 * path (keys from `data`) of the value it is in.
 */
function plainJsonProblem(data: unknown): { path: string[]; message: string } | undefined {
  const stack: Array<[value: unknown, path: string[]]> = [[data, []]];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return { path, message: "must not contain NUL characters" };
    } else if (value !== null && typeof value === "object") {
      if (path.length >= MAX_JSON_DEPTH) return { path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
      for (const [key, child] of Object.entries(value)) {
        if (key === "__proto__" || key.includes("\u0000")) return { path, message: `has a key that is not allowed: ${JSON.stringify(key)}` };
        stack.push([child, [...path, key]]);
      }
    }
  }
  return undefined;
}

function assertPlainJson(data: unknown, root: string): void {
  const problem = plainJsonProblem(data);
  if (problem) throw Invalid.field(problem.path.length ? problem.path.join(".") : root, problem.message);
}

/** `root` names the input itself when the error is about the whole of it. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, root = "body"): z.output<S> {
  assertPlainJson(data, root);
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  throw new Invalid(
    result.error.issues.map((i) => ({
      field: i.path.length ? i.path.join(".") : root,
      message: i.message,
    })),
  );
}

/** Path parameters that must be positive int64-safe integers (user ids). */
export function parseIntId(value: string | undefined, field: string): number {
  if (!value || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(Number(value))) throw Invalid.field(field, "must be a positive integer");
  return Number(value);
}

// ---- ids and names --------------------------------------------------------------------------

/** An agent's slug id, chosen at creation and used to refer to it everywhere. */
export const AgentId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit");

/** A UUID in the 8-4-4-4-12 hex form, any version (test ids like 1111…-1111 included), answered in lower case. */
export const Uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID")
  .transform((v) => v.toLowerCase());

/** A name or title people read: trimmed, not empty, at most 200 characters. */
export const Title = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");

/** An agent server's URL: http(s) only (the SSRF guard decides the rest, in the service). */
export const ServerUrl = z
  .string()
  .max(2000)
  .refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), "must be an http(s) URL")
  .nullable();

/** A server-made id (`ses_…`, `ch_…`) named in a socket payload. */
const StreamId = z.string().min(1).max(100);

// ---- queries --------------------------------------------------------------------------------

/** `?limit=`: a positive whole number, served at most `max` (larger asks are capped, not refused). */
export function limitQuery(fallback: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      if (!/^\d+$/.test(v) || Number(v) < 1) {
        ctx.addIssue({ code: "custom", message: "must be a positive whole number" });
        return z.NEVER;
      }
      return Math.min(Number(v), max);
    });
}

/** `?cursor=`: opaque; empty means absent. */
export const CursorQuery = z
  .string()
  .max(500)
  .optional()
  .transform((v) => (v === "" ? undefined : v));

/** `?since=`: ISO 8601 or Unix milliseconds, as a Date (absent or empty: undefined). */
export const SinceQuery = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    const d = parseSince(v);
    if (!d) ctx.addIssue({ code: "custom", message: "must be an ISO 8601 time or Unix milliseconds" });
    return d;
  });

/** A seq to resume after, in a query string. */
const SeqQuery = z
  .string()
  .regex(/^\d{1,10}$/, "must be a non-negative integer")
  .transform(Number)
  .refine((n) => n <= MAX_SEQ, `must be at most ${MAX_SEQ}`)
  .optional();

/** `?limit=` (default 50; larger than 200 is served as 200) and an opaque `?cursor=`. */
export const PageQuery = z.object({ limit: limitQuery(50, 200), cursor: CursorQuery });
/** `?since=`: only what changed after that millisecond. */
export const SessionListQuery = PageQuery.extend({ since: SinceQuery });
export const MessagesQuery = PageQuery.extend({ since: SinceQuery, after_seq: SeqQuery }).refine(
  (q) => q.cursor === undefined || q.after_seq === undefined,
  { message: "send cursor or after_seq, not both", path: ["after_seq"] },
);
/** A history page's query, as the message services take it. */
export function messagePageOf(q: z.output<typeof MessagesQuery>): { limit: number; cursor: string | undefined; afterSeq: number | undefined; since: Date | undefined } {
  return { limit: q.limit, cursor: q.cursor, afterSeq: q.after_seq, since: q.since };
}
export function parseMessagePage(query: unknown): ReturnType<typeof messagePageOf> {
  return messagePageOf(parse(MessagesQuery, query));
}

// ---- sessions and messages ------------------------------------------------------------------

export const CreateSession = z.strictObject({
  title: Title.optional(),
  owner_id: z.number().int().positive().nullable().optional(),
});
export const RenameSession = z.strictObject({ title: Title });

const ContentBlock = z.looseObject({ type: z.string().min(1, "must not be empty") });
const Source = z.looseObject({
  id: z.string(),
  type: z.string(),
  title: z.string().optional(),
  snippet: z.string().optional(),
});
const Count = z.number().int().nonnegative();
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

// ---- groups ---------------------------------------------------------------------------------

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

// ---- group conversations (ask the group) ----------------------------------------------------

export const CreateConversation = z.strictObject({ title: Title.optional() });

/** A question for the group's agents: who answers is routed by `strategy`, narrowed by `agentIds`. */
export const AskBody = z.strictObject({
  id: Uuid.optional(),
  content: z.string().refine((c) => c.trim().length > 0, "must not be empty"),
  agentIds: z.array(AgentId).min(1, "name at least one agent, or leave agentIds out").max(100).optional(),
  strategy: z.enum(STRATEGIES, { message: `must be one of ${STRATEGIES.join(", ")}` }).optional(),
});

// ---- team channels --------------------------------------------------------------------------

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
      agentId: AgentId,
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

// ---- local control (embedded CLI) -------------------------------------------------------------

export const LocalWorkspace = z.object({ name: z.string().trim().min(1) });
/** The web app's local sign-in (embedded default, loopback only): an existing user by `sub`, or a new one by name and email. */
export const LocalSignIn = z.union(
  [
    z.strictObject({ workspace_id: z.string().min(1).max(100).optional(), sub: z.string().min(1).max(200) }),
    z.strictObject({
      workspace_id: z.string().min(1).max(100).optional(),
      name: Title,
      email: z.string().trim().max(320).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address"),
    }),
  ],
  { message: "send {sub} to sign in as a user of the workspace, or {name, email} to create one" },
);
/** What `agenthub token` sends: the same claims its flags take. */
export const LocalToken = z.object({
  workspace: z.string().min(1),
  sub: z.string().min(1),
  email: z.string().min(1),
  name: z.string().optional(),
  groups: z.array(z.string()).optional(),
  role: z.string().optional(),
  ttlSeconds: z.number().int().positive(),
});

// ---- socket payloads ------------------------------------------------------------------------

/** A seq to resume after: a whole number, sent as a JSON number or a numeric string. */
const Seq = z.union([z.number(), z.string().regex(/^\d{1,10}$/).transform(Number)]).pipe(z.number().int().min(0).max(MAX_SEQ));
const SinceSeq = Seq.optional();
/** Streams one handshake may resume at most. */
export const MAX_RESUMED_STREAMS = 1000;
export const ChannelWatch = z.object({ channelId: StreamId, since: SinceSeq });
export const SessionWatch = z.object({ sessionId: StreamId, since: SinceSeq });
export const ChannelUnwatch = z.object({ channelId: StreamId });
export const SessionUnwatch = z.object({ sessionId: StreamId });

// ---- master keys ------------------------------------------------------------------------------

/** What `agenthub workspace rotate-key` sends to a running embedded hub. */
export const LocalRotateKey = z.object({ workspace_id: z.string().min(1) });

/** `auth.since` in the handshake: the client's position in the streams it resumes, by stream id. */
export const HandshakeSince = z
  .strictObject({ channels: z.record(StreamId, Seq).optional(), sessions: z.record(StreamId, Seq).optional() })
  .refine(
    (s) => Object.keys(s.channels ?? {}).length + Object.keys(s.sessions ?? {}).length <= MAX_RESUMED_STREAMS,
    `names more than ${MAX_RESUMED_STREAMS} streams`,
  )
  .optional();

// ---- knowledge --------------------------------------------------------------------------------

/** The longest knowledge item, in characters (about a thousand chunks). */
export const KNOWLEDGE_CONTENT_MAX = 1_000_000;
/** A role or taxonomy name: trimmed, 1–100 characters. */
const KnowledgeLabel = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters");
const KnowledgeLabels = z
  .array(KnowledgeLabel)
  .max(100, "must have at most 100 entries")
  .transform((names) => [...new Set(names)]);
const LanguageId = z.string().trim().min(1, "must not be empty").max(35, "must be at most 35 characters");

export const CreateKnowledge = z.strictObject({
  title: Title,
  content: z
    .string()
    .max(KNOWLEDGE_CONTENT_MAX, `must be at most ${KNOWLEDGE_CONTENT_MAX} characters`)
    .refine((c) => c.trim().length > 0, "must not be empty"),
  roles: KnowledgeLabels.optional(),
  taxonomies: KnowledgeLabels.optional(),
  language: LanguageId.nullish(),
  source: z.string().trim().max(2000, "must be at most 2000 characters").nullish(),
});

/** RAG (`POST /v1/…/rag`): `{text, topK?: 1–10 (5), languageId?}`; other fields are ignored. */
export const RagQuery = z.object({
  text: z
    .string()
    .max(4000, "must be at most 4000 characters")
    .refine((t) => t.trim().length > 0, "must not be empty"),
  topK: z.number({ message: "must be a whole number from 1 to 10" }).int("must be a whole number from 1 to 10").min(1, "must be a whole number from 1 to 10").max(10, "must be a whole number from 1 to 10").optional(),
  languageId: LanguageId.nullish(),
});

/** A tool call's `context` (the SDK's ToolExecuteContext); other fields are ignored. */
export const ToolContext = z
  .object({
    spaceId: z.string().max(200).nullish(),
    userId: z.string().max(200).nullish(),
    roleId: z.string().max(200).nullish(),
    languageId: LanguageId.nullish(),
    topK: z.number().nullish(),
  })
  .nullish();

// ---- backplane (/v1, the Sharely Agent API: camelCase; unknown fields are ignored, as Sharely does) ----

/** A nested part the SDKs may send as JSON or as a JSON-encoded string. */
function jsonOrEncoded<S extends z.ZodType>(schema: S) {
  return z.preprocess((v, ctx) => {
    if (typeof v !== "string") return v;
    let decoded: unknown;
    try {
      decoded = JSON.parse(v);
    } catch {
      return v;
    }
    // What parse() checked on the body, checked again on what the string decoded to: a `\u0000`
    // escape is no NUL until it is decoded, and jsonb refuses it (that answered 500).
    const problem = plainJsonProblem(decoded);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message, input: v });
    return decoded;
  }, schema);
}

/** An id the caller chose for its own world (a user, a space): 1–200 characters. */
const ExternalId = z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters");

export const CreateThread = z.object({
  title: Title.nullish(),
  agentServerId: AgentId.nullish(),
  userId: z.union([ExternalId, z.number().int().transform(String)]).nullish(),
  spaceId: ExternalId.nullish(),
  temporalUserId: ExternalId.nullish(),
});

/** `?limit=` 1–50 (default 20; larger is served as 50), `cursor`, and the SDK's filters. */
export const ThreadListQuery = z.object({
  limit: limitQuery(20, 50),
  cursor: CursorQuery,
  userId: ExternalId.optional(),
  spaceId: ExternalId.optional(),
  temporalUserId: ExternalId.optional(),
});

export const StoreThreadMessage = z.object({
  id: Uuid.nullish(),
  role: z.enum(["user", "assistant", "system"], { message: "must be one of user, assistant, system" }),
  content: z.union([z.string(), z.array(ContentBlock)], { message: "must be a string, an array of content blocks, or null (a draft)" }).nullable(),
  thinkingSteps: jsonOrEncoded(z.array(z.record(z.string(), z.unknown())).nullish()),
  toolCalls: jsonOrEncoded(z.array(z.record(z.string(), z.unknown())).nullish()),
  sources: jsonOrEncoded(z.array(Source).nullish()),
  tokenUsage: jsonOrEncoded(z.object({ inputTokens: Count, outputTokens: Count, totalTokens: Count }).nullish()),
  model: z.string().max(200).nullish(),
  finishReason: z.string().max(100).nullish(),
  metadata: jsonOrEncoded(z.record(z.string(), z.unknown()).nullish()),
});

/** `POST /threads/{id}/chat`: the user's message starts a turn. */
export const ThreadChat = z.object({ message: z.string().refine((m) => m.trim().length > 0, "must not be empty") });

const ServerStatus = z.enum(["ACTIVE", "INACTIVE"], { message: "must be ACTIVE or INACTIVE" });
const ServerMetadata = jsonOrEncoded(z.record(z.string(), z.unknown()).nullable());
export const CreateServer = z.object({ name: Title, url: ServerUrl.unwrap(), status: ServerStatus.optional(), metadata: ServerMetadata.optional() });
export const UpdateServer = z.object({ name: Title.optional(), url: ServerUrl.optional(), status: ServerStatus.optional(), metadata: ServerMetadata.optional() });

export const RbacSwitch = z.object({ rbacEnabled: z.boolean({ message: "must be true or false" }) });
export const TokenToValidate = z.object({ token: z.string().min(1, "must not be empty").max(16_000) });
/**
 * `generate-access-key-token`: the role the exchanged token acts with (RBAC), as `roleId` or, as
 * the newer Sharely SDK sends it, `customerRoleId`; both may be sent only naming the same role.
 */
const ExchangeRole = z.string().trim().min(1, "must not be empty").max(200).nullish();
export const KeyExchange = z
  .object({ roleId: ExchangeRole, customerRoleId: ExchangeRole })
  .refine((b) => !b.roleId || !b.customerRoleId || b.roleId === b.customerRoleId, { message: "must name the same role as roleId", path: ["customerRoleId"] })
  .transform((b) => ({ roleId: b.roleId || b.customerRoleId || undefined }));
/** `POST /tools/{name}/execute`: the tool's input and the caller's context, each checked by the tool (knowledge/tools.ts). */
export const ToolExecute = z.object({ input: z.unknown().optional(), context: z.unknown().optional() });
