/** Routes of the knowledge family, under /api/knowledge. Who may: domain/knowledge/policy.ts. */
import { PageQuery } from "../../../schemas.js";
import type { Services } from "../../../services.js";
import { ex } from "../../examples.js";
import { ANY_CREDENTIAL as ANY, route, type Route } from "../../table.js";
import * as S from "./schema.js";

const tag = "Knowledge";
const READ = "knowledge/policy.ts: items the caller's role may see (others: 404)";

export function knowledgeTable(s: Services): Route[] {
  return [
    route({
      method: "post", path: "/api/knowledge", operationId: "createKnowledge", tag, summary: "Add a knowledge item (master key, admins, keys with knowledge:write)",
      security: ANY, policy: "knowledge/policy.ts: master key, admins, agent keys with knowledge:write",
      body: S.CreateKnowledge, bodyExample: { title: "Refund Policy", content: "Refunds are processed within 5 business days." },
      answer: { status: 201, description: "The item", schema: S.Knowledge, example: ex.knowledge },
      handle: ({ principal, body }) => s.knowledge.create(principal, body),
    }),
    route({
      method: "get", path: "/api/knowledge", operationId: "listKnowledge", tag, summary: "Knowledge the caller's role may see",
      security: ANY, policy: READ, query: PageQuery,
      answer: { status: 200, description: "`{items, next_cursor}`", schema: S.KnowledgePage, example: { items: [ex.knowledge], next_cursor: null } },
      handle: ({ principal, query }) => s.knowledge.list(principal, query),
    }),
    route({
      method: "get", path: "/api/knowledge/{knowledgeId}", operationId: "getKnowledge", tag, summary: "Get a knowledge item",
      security: ANY, policy: READ, answer: { status: 200, description: "The item", schema: S.Knowledge, example: ex.knowledge },
      handle: ({ principal, params }) => s.knowledge.get(principal, params.knowledgeId!),
    }),
    route({
      method: "delete", path: "/api/knowledge/{knowledgeId}", operationId: "deleteKnowledge", tag, summary: "Delete a knowledge item",
      security: ANY, policy: "knowledge/policy.ts: master key, admins, agent keys with knowledge:write", answer: { status: 204, description: "Deleted" },
      handle: ({ principal, params }) => s.knowledge.remove(principal, params.knowledgeId!),
    }),
  ];
}
