/**
 * Schemas of the MCP servers family (`/api/mcp-servers`): what its routes take and answer.
 * Field names are snake_case as in the groups family (`allowed_users`, `requires_approval`);
 * the request also takes `requiresApproval`, as the contract writes it. `headers` is write-only:
 * it is sealed at rest and answered as `header_names` only.
 */
import { z } from "zod";
import { ServerUrl } from "../../../schemas.js";
import { Time } from "../agents/schema.js";

/** At most this many headers per server. */
export const MAX_MCP_HEADERS = 20;
/** The longest header value, in bytes. */
export const MAX_MCP_HEADER_BYTES = 4096;

/** An HTTP token (RFC 9110 §5.6.2), as header names are. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers the transport itself sets, or that would change how a request is framed or routed. */
const RESERVED = new Set(["host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"]);

/** Why a header name may not be configured, or undefined. */
function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name) || name.length > 100) return "must be an HTTP header name (a token of at most 100 characters)";
  const lower = name.toLowerCase();
  if (RESERVED.has(lower) || lower.startsWith("proxy-")) return "is set by the hub's MCP transport and may not be configured";
  return undefined;
}

const HeaderValue = z
  .string()
  .refine((v) => Buffer.byteLength(v, "utf8") <= MAX_MCP_HEADER_BYTES, `must be at most ${MAX_MCP_HEADER_BYTES} bytes`)
  .refine((v) => !/[\r\n\0]/.test(v), "must not contain CR, LF or NUL")
  // Header values are Latin-1 on the wire; anything else would fail at every call.
  .refine((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v), "must be visible ASCII (or Latin-1) characters");

/** Header name → value, sent to the server with every request; write-only. `null` or `{}`: none. */
export const McpHeaders = z
  .record(z.string(), HeaderValue)
  .superRefine((h, ctx) => {
    const names = Object.keys(h);
    if (names.length > MAX_MCP_HEADERS) ctx.addIssue({ code: "custom", message: `at most ${MAX_MCP_HEADERS} headers` });
    if (new Set(names.map((k) => k.toLowerCase())).size !== names.length) ctx.addIssue({ code: "custom", message: "names must differ in more than case" });
    for (const name of names.slice(0, MAX_MCP_HEADERS + 1)) {
      const problem = headerNameProblem(name);
      if (problem) ctx.addIssue({ code: "custom", path: [name], message: problem });
    }
  })
  .nullable();

/** How models and turns name the server (tool names are prefixed with it): letters, digits, `_`, `-`. */
export const McpServerName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1 to 64 letters, digits, '_' or '-', starting with a letter or digit")
  .refine((n) => !/^mcp_[0-9a-z]{25}$/.test(n), "must not look like an MCP server id");

const Email = z.string().trim().max(320).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address");
const GroupClaim = z.string().trim().min(1).max(500);

const fields = {
  url: ServerUrl.unwrap(),
  headers: McpHeaders.optional(),
  allowed_users: z.array(Email).max(1000).optional(),
  /** `["*"]`: everyone in the workspace. */
  allowed_groups: z.array(GroupClaim).max(1000).optional(),
  requires_approval: z.boolean().optional(),
  /** The contract's spelling of `requires_approval`; either may be sent, not both with different values. */
  requiresApproval: z.boolean().optional(),
};

type ApprovalSpellings = { requires_approval?: boolean | undefined; requiresApproval?: boolean | undefined };

/** One `requires_approval` out of the two spellings. */
function oneApproval<T extends ApprovalSpellings>(body: T, ctx: z.RefinementCtx): Omit<T, "requiresApproval"> {
  const { requiresApproval, ...rest } = body;
  if (requiresApproval !== undefined && rest.requires_approval !== undefined && requiresApproval !== rest.requires_approval) {
    ctx.addIssue({ code: "custom", path: ["requiresApproval"], message: "differs from requires_approval; send one of them" });
  }
  return { ...rest, requires_approval: rest.requires_approval ?? requiresApproval } as Omit<T, "requiresApproval">;
}

/** `POST /api/mcp-servers`. */
export const CreateMcpServer = z.strictObject({ name: McpServerName, ...fields }).transform(oneApproval);

/** `PATCH /api/mcp-servers/{id}`: what is sent changes; `headers` replaces every header; a `url` on another origin without `headers` drops them. */
export const UpdateMcpServer = z
  .strictObject({ name: McpServerName.optional(), ...fields, url: fields.url.optional() })
  .transform(oneApproval);

// ---- answers ------------------------------------------------------------------------------------

export const McpServer = z.object({
  id: z.string(),
  workspace_id: z.string(),
  name: z.string(),
  url: z.string(),
  /** The names of the configured headers; their values are never answered. */
  header_names: z.array(z.string()),
  allowed_users: z.array(z.string()),
  allowed_groups: z.array(z.string()),
  requires_approval: z.boolean(),
  created_by: z.number().int().nullable(),
  created_at: Time,
  updated_at: Time,
});

export const McpTool = z.object({
  name: z.string(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()),
});

/** `GET /api/mcp-servers/{id}`: the server with the tools it offers, listed live (`tools: null` and `tools_error` when it cannot be reached). */
export const McpServerWithTools = McpServer.extend({
  tools: z.array(McpTool).nullable(),
  tools_error: z.string().nullable(),
});

export const McpServerPage = z.object({ mcp_servers: z.array(McpServer), next_cursor: z.string().nullable() });
