/**
 * Schemas of approvals (CONTRACT.md, "People in the loop"): a decision as people send it, the
 * list's query, and an approval as it is answered. The routes (http/routes/approvals) take them,
 * and the service's own types come from them.
 */
import { z } from "zod";
import { PageQuery } from "../../schemas.js";

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired", "cancelled"] as const;

export const Decide = z.strictObject({
  decision: z.enum(["approve", "reject"], { message: "must be approve or reject" }),
  comment: z.string().trim().max(4000, "must be at most 4000 characters").optional(),
});
export type DecideInput = z.output<typeof Decide>;

export const ApprovalsQuery = PageQuery.extend({
  status: z.enum(APPROVAL_STATUSES, { message: `must be one of ${APPROVAL_STATUSES.join(", ")}` }).default("pending"),
});
export type ApprovalsQueryInput = z.output<typeof ApprovalsQuery>;

export const Approval = z.object({
  id: z.string(),
  turn_id: z.string(),
  session_id: z.string(),
  agent_id: z.string(),
  title: z.string(),
  detail: z.string().nullable(),
  input: z.unknown(),
  assignees: z.object({ users: z.array(z.string()).optional(), groups: z.array(z.string()).optional() }).nullable(),
  quorum: z.number().int(),
  status: z.enum(APPROVAL_STATUSES),
  decisions: z.array(
    z.object({
      user_id: z.number().int().describe("Absent from the public share view"),
      name: z.string().nullable().describe("Who decided, as they signed in; absent from the public share view"),
      decision: z.enum(["approve", "reject"]),
      comment: z.string().nullable(),
      at: z.string(),
    }),
  ),
  expires_at: z.string(),
  created_at: z.string(),
  decided_at: z.string().nullable(),
});

/** An approval in the pending list, with where it is: the group of a group conversation. */
export const ListedApproval = Approval.extend({ group_id: z.string().nullable() });
export const ApprovalPage = z.object({ approvals: z.array(ListedApproval), next_cursor: z.string().nullable() });
