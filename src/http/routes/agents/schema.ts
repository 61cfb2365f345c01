/**
 * Schemas of the agents family (agents, their teams and keys, master keys, the workspace's people,
 * and who the caller is): what its routes take and what they answer. The answers' schemas are
 * the views the services present; the OpenAPI document and the response check in the tests are
 * made from them.
 */
import { z } from "zod";
import { AGENT_KEY_SCOPES } from "../../../auth/principal.js";
import { ACCESS_LEVELS } from "../../../domain/agents/policy.js";
import { AgentId, ServerUrl, Title } from "../../../schemas.js";
import { EndpointInput, EndpointView, PROTOCOLS } from "../../../domain/agents/endpoint.js";

// ---- requests -----------------------------------------------------------------------------------

const Description = z.string().max(2000).nullable();
export const CreateAgent = z.strictObject({
  id: AgentId,
  name: Title,
  description: Description.optional(),
  server_url: ServerUrl.optional(),
  /** How the hub reaches the agent; `server_url` is shorthand for `{protocol: "sharely", url}`. */
  endpoint: EndpointInput.nullable().optional(),
});
export const UpdateAgent = z
  .strictObject({ name: Title.optional(), description: Description.optional(), server_url: ServerUrl.optional(), endpoint: EndpointInput.nullable().optional() })
  .refine((v) => Object.keys(v).length > 0, "send at least one of name, description, server_url, endpoint");
/** A teammate by `user_id`, or by the `email` they signed in with. */
export const AddMember = z
  .object({
    user_id: z.number().int().positive().optional(),
    email: z.string().trim().min(3).max(320).optional(),
    access_level: z.enum(ACCESS_LEVELS, { message: "must be viewer or editor" }),
  })
  .refine((v) => (v.user_id === undefined) !== (v.email === undefined), { message: "send user_id or email (one of them)", path: ["user_id"] });

/** An agent key's lifetime: a whole number of seconds up to 365 days; absent, it lives until revoked. */
const KEY_LIFETIME_MAX = 365 * 24 * 3600;
const lifetimeRange = `must be a whole number of seconds from 1 to ${KEY_LIFETIME_MAX}`;
export const CreateKey = z.object({
  name: Title.optional(),
  scopes: z.array(z.enum(AGENT_KEY_SCOPES)),
  /** The role the key carries under RBAC (null: none); absent: the creator's (keys/policy.ts). */
  role: z.string().trim().min(1, "must not be empty").max(200).nullish(),
  expires_in_seconds: z.number({ message: lifetimeRange }).int(lifetimeRange).min(1, lifetimeRange).max(KEY_LIFETIME_MAX, lifetimeRange).optional(),
});
export const CreateMasterKey = z.strictObject({ name: Title.optional() });

// ---- answers ------------------------------------------------------------------------------------

export const Time = z.iso.datetime();
const UserId = z.number().int();
const AccessLevel = z.enum(ACCESS_LEVELS);

export const Agent = z.object({
  id: z.string(),
  workspace_id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  server_url: z.string().nullable(),
  endpoint: EndpointView,
  created_by: UserId.nullable(),
  created_at: Time,
  updated_at: Time,
  /** The caller's access. */
  access_level: AccessLevel,
});
/** Right after `server_url` is set: with the endpoint secret, shown once. */
export const AgentWithSecret = Agent.extend({ endpoint_secret: z.string().optional() });
export const AgentPage = z.object({ agents: z.array(Agent), next_cursor: z.string().nullable() });
export const EndpointSecret = z.object({ endpoint_secret: z.string() });
/** "Test connection": what the agent's endpoint answered, in words (domain/agents/endpoint-check.ts). */
export const EndpointCheck = z.object({
  ok: z.boolean(),
  protocol: z.enum(PROTOCOLS),
  detail: z.string(),
  agent_card: z.object({ name: z.string(), description: z.string().nullable(), skills: z.array(z.string()), streaming: z.boolean() }).optional(),
  models: z.array(z.string()).max(100).optional(),
});

export const TeamMember = z.object({
  /** Null for a pending member (added by email, not signed in yet). */
  user_id: UserId.nullable(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  avatar: z.string().nullable(),
  access_level: AccessLevel,
  assigned_at: Time,
  pending: z.literal(true).optional(),
});
export const Members = z.object({ members: z.array(TeamMember) });
export const WorkspaceMember = z.object({ user_id: UserId, name: z.string().nullable(), email: z.string().nullable(), avatar: z.string().nullable() });
export const WorkspaceTeam = z.object({ members: z.array(WorkspaceMember), next_cursor: z.string().nullable() });

export const AgentKey = z.object({
  id: z.string(),
  name: z.string().nullable(),
  prefix: z.string(),
  scopes: z.array(z.enum(AGENT_KEY_SCOPES)),
  agent_id: z.string(),
  role: z.string().nullable(),
  role_bound: z.boolean(),
  created_at: Time,
  expires_at: Time.nullable(),
  revoked_at: Time.nullable(),
});
/** The key's secret is in `key`, shown only here. */
export const CreatedAgentKey = AgentKey.extend({ key: z.string() });
export const AgentKeyList = z.object({ keys: z.array(AgentKey), next_cursor: z.null() });

export const MasterKey = z.object({ id: z.string(), name: z.string().nullable(), prefix: z.string(), created_at: Time, created_by: UserId.nullable() });
export const CreatedMasterKey = MasterKey.extend({ key: z.string() });
export const MasterKeyList = z.object({ keys: z.array(MasterKey), next_cursor: z.null() });

/** `GET /api/me`: the caller, by the kind of its credential. */
export const Me = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("user"),
    workspace_id: z.string(),
    user_id: UserId,
    sub: z.string(),
    email: z.string(),
    name: z.string(),
    groups: z.array(z.string()),
    role: z.string().nullable(),
    /** A workspace admin (JWT_ADMIN_CLAIM/VALUE): may do what the master key may. */
    admin: z.boolean(),
    expires_at: Time,
  }),
  z.object({ kind: z.literal("master"), workspace_id: z.string(), key_id: z.string() }),
  z.object({
    kind: z.literal("agent"),
    workspace_id: z.string(),
    agent_id: z.string(),
    key_id: z.string(),
    scopes: z.array(z.enum(AGENT_KEY_SCOPES)),
    role: z.string().nullable(),
    role_bound: z.boolean(),
  }),
]);
