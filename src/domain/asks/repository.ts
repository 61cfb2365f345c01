/** SQL for asks (`asks`): a question routed across a group's agents; its turns carry its id. */
import type { Knex } from "knex";
import { intOrNull, json } from "../rows.js";
import { toIso, toIsoOrNull } from "../time.js";
import type { Turn, TurnStatus } from "../turns/repository.js";
import type { Strategy } from "./routing.js";

/** The partial unique index that allows one running ask per conversation. */
export const ONE_RUNNING_PER_CONVERSATION = "asks_one_running_per_session";

export interface Ask {
  id: string;
  workspace_id: string;
  group_id: string;
  session_id: string;
  message_id: string;
  strategy: Strategy;
  status: "running" | "completed";
  agent_ids: string[];
  ignored_mentions: string[];
  created_by: number | null;
  created_at: Date;
  ended_at: Date | null;
}

/** An ask as the API presents it: each chosen agent with its turn. */
export interface AskView {
  id: string;
  group_id: string;
  session_id: string;
  message_id: string;
  strategy: Strategy;
  status: "running" | "completed";
  agents: Array<{ agentId: string; turnId: string | null; status: TurnStatus }>;
  ignored_mentions: string[];
  created_at: string;
  ended_at: string | null;
}

const toAsk = (row: Record<string, any>): Ask => ({
  id: row.id,
  workspace_id: row.workspace_id,
  group_id: row.group_id,
  session_id: row.session_id,
  message_id: row.message_id,
  strategy: row.strategy,
  status: row.status,
  agent_ids: json<string[]>(row.agent_ids, []),
  ignored_mentions: json<string[]>(row.ignored_mentions, []),
  created_by: intOrNull(row.created_by),
  created_at: row.created_at,
  ended_at: row.ended_at ?? null,
});

export function presentAsk(a: Ask, askTurns: Turn[]): AskView {
  const byAgent = new Map(askTurns.map((t) => [t.agent_id, t]));
  return {
    id: a.id,
    group_id: a.group_id,
    session_id: a.session_id,
    message_id: a.message_id,
    strategy: a.strategy,
    status: a.status,
    agents: a.agent_ids.map((agentId) => {
      const t = byAgent.get(agentId);
      return { agentId, turnId: t?.id ?? null, status: t?.status ?? "queued" };
    }),
    ignored_mentions: a.ignored_mentions,
    created_at: toIso(a.created_at),
    ended_at: toIsoOrNull(a.ended_at),
  };
}

export const asks = {
  async insert(db: Knex, a: Omit<Ask, "status" | "ended_at">): Promise<Ask> {
    const [row] = await db("asks")
      .insert({ ...a, status: "running", agent_ids: JSON.stringify(a.agent_ids), ignored_mentions: JSON.stringify(a.ignored_mentions) })
      .returning("*");
    return toAsk(row);
  },

  async find(db: Knex, sessionId: string, id: string): Promise<Ask | undefined> {
    const row = await db("asks").where({ session_id: sessionId, id }).first();
    return row ? toAsk(row) : undefined;
  },

  /** An ask by its id alone, within its group (protocols whose task id is the ask id: A2A). */
  async inGroup(db: Knex, groupId: string, id: string): Promise<Ask | undefined> {
    const row = await db("asks").where({ group_id: groupId, id }).first();
    return row ? toAsk(row) : undefined;
  },

  /** The ask a question (by message id) started, if any. */
  async byMessage(db: Knex, sessionId: string, messageId: string): Promise<Ask | undefined> {
    const row = await db("asks").where({ session_id: sessionId, message_id: messageId }).first();
    return row ? toAsk(row) : undefined;
  },

  /** Locks the ask until the transaction ends (its turns end one at a time). */
  async lock(db: Knex, id: string): Promise<Ask | undefined> {
    const row = await db("asks").where({ id }).forUpdate().first();
    return row ? toAsk(row) : undefined;
  },

  async complete(db: Knex, id: string): Promise<Ask> {
    const [row] = await db("asks").where({ id }).update({ status: "completed", ended_at: db.fn.now() }).returning("*");
    return toAsk(row);
  },

  /** The agent the conversation's latest round_robin ask went to. */
  async lastRoundRobin(db: Knex, sessionId: string): Promise<string | undefined> {
    const row = await db("asks").where({ session_id: sessionId, strategy: "round_robin" }).orderBy("created_at", "desc").orderBy("id", "desc").first("agent_ids");
    return row ? json<string[]>(row.agent_ids, [])[0] : undefined;
  },
};
