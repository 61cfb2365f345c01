/**
 * Routes of approvals ("People in the loop: approvals" in the contract): what agents' turns ask
 * people, and their decisions. Who may read: whoever may read the turn's session
 * (sessions/policy.ts, asks/policy.ts for a group's conversation); who may decide:
 * approvals/policy.ts assertMayDecide.
 */
import * as S from "../../../domain/approvals/schema.js";
import type { SessionPlace } from "../../../domain/approvals/service.js";
import type { Services } from "../../../services.js";
import { T } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";

const tag = "Approvals";
const READ = "sessions/policy.ts loadSessionFor(read) (asks/policy.ts loadConversationFor in a group's conversation)";
const DECIDE = "approvals/policy.ts assertMayDecide: people only; the assignees if named, else whoever may append to the session (any member of a group's conversation); 403 for other readers";
export const approvalExample = {
  id: "merge-pr-42",
  turn_id: "trn_9a8b7c",
  session_id: "ses_4d1b2c",
  agent_id: "release-agent",
  title: "Merge pull request #42?",
  detail: "All checks passed; this deploys to production.",
  input: { repo: "acme/api", pr: 42 },
  assignees: { groups: ["google-workspace/sre@example.com"] },
  quorum: 2,
  status: "pending" as const,
  decisions: [{ user_id: 7, name: "Ada", decision: "approve" as const, comment: "Looks right", at: T }],
  expires_at: T,
  created_at: T,
  decided_at: null,
};

/** The decision routes, under a turn of an agent's session or of a group's conversation. */
function decisionRoutes(s: Services, base: string, suffix: string, placeOf: (params: Record<string, string | undefined>) => SessionPlace): Route[] {
  const path = `${base}/turns/{turnId}/approvals/{approvalId}`;
  return [
    route({
      method: "get", path, operationId: `getApproval${suffix}`, tag, summary: "An approval the turn asked for, with its decisions",
      security: ANY, policy: READ,
      answer: { status: 200, description: "The approval", schema: S.Approval, example: approvalExample },
      handle: ({ principal, params }) => s.approvals.get(principal, placeOf(params), params.sessionId!, params.turnId!, params.approvalId!),
    }),
    route({
      method: "post", path, operationId: `decideApproval${suffix}`, tag, summary: "Approve or reject: one decision per person; the first reject, or `quorum` approvals, decides",
      description: "A second decision by the same person, or any decision once the approval is decided, expired or cancelled: 409. Two people deciding at once make exactly one deciding vote.",
      security: ANY, policy: DECIDE, errors: [409],
      body: S.Decide, bodyExample: { decision: "approve", comment: "Checked the diff" },
      answer: { status: 200, description: "The approval after the decision", schema: S.Approval, example: { ...approvalExample, status: "approved" as const, decided_at: T } },
      handle: ({ principal, params, body }) => s.approvals.decide(principal, placeOf(params), params.sessionId!, params.turnId!, params.approvalId!, body),
    }),
  ];
}

export function approvalsTable(s: Services): Route[] {
  return [
    route({
      method: "get", path: "/api/approvals", operationId: "listApprovals", tag, summary: "Approvals the caller may decide, across sessions and groups, newest first",
      description: "`status` defaults to `pending`. Keys decide nothing, so they list none. A page may hold fewer than `limit` with a `next_cursor` when many approvals were looked through.",
      security: ANY, policy: DECIDE, query: S.ApprovalsQuery,
      answer: { status: 200, description: "`{approvals, next_cursor}`; each names its `group_id` in a group's conversation", schema: S.ApprovalPage, example: { approvals: [{ ...approvalExample, group_id: null }], next_cursor: null } },
      handle: ({ principal, query }) => s.approvals.list(principal, query),
    }),
    ...decisionRoutes(s, "/api/agents/{agentId}/sessions/{sessionId}", "", (p) => ({ agentId: p.agentId! })),
    ...decisionRoutes(s, "/api/groups/{groupId}/conversations/{sessionId}", "InConversation", (p) => ({ groupId: p.groupId! })),
  ];
}
