/**
 * Key rotation for write-only secrets at rest (auth/secrets.ts): every column that holds a
 * sealed value, and re-sealing them all under the current SECRETS_KEY (`agenthub secrets
 * rotate`), in one transaction, so that the previous keys (SECRETS_KEY_PREVIOUS) can go.
 * A value sealed with the current key is left alone; one that no key opens is counted, not
 * changed (it stays as unreadable as it was, and the command says so).
 */
import type { Knex } from "knex";
import { SecretUnreadable, type SecretBox } from "../../auth/secrets.js";

/** A column of sealed values, and the columns that name its rows. */
interface SealedColumn {
  table: string;
  column: string;
  key: string[];
}

/** Every sealed column of the database. A new one is a line here. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: "agents", column: "endpoint_api_key", key: ["workspace_id", "id"] },
  { table: "mcp_servers", column: "headers", key: ["id"] },
];

export interface ResealCount {
  /** Sealed anew under the current key. */
  resealed: number;
  /** Already sealed under the current key. */
  current: number;
  /** Opened by no key this process has (or tampered with): left as they were. */
  unreadable: number;
}

/** Rows are read this many at a time. */
const PAGE = 500;

/** Re-seals every stale sealed value, in one transaction; counts per `table.column`. */
export async function resealAll(db: Knex, box: SecretBox): Promise<Record<string, ResealCount>> {
  return db.transaction(async (trx) => {
    const counts: Record<string, ResealCount> = {};
    for (const sealed of SEALED_COLUMNS) counts[`${sealed.table}.${sealed.column}`] = await resealColumn(trx, box, sealed);
    return counts;
  });
}

async function resealColumn(trx: Knex.Transaction, box: SecretBox, { table, column, key }: SealedColumn): Promise<ResealCount> {
  const count: ResealCount = { resealed: 0, current: 0, unreadable: 0 };
  let after: string[] | undefined;
  for (;;) {
    const query = trx(table).whereNotNull(column).select(...key, column).orderBy(key.map((k) => ({ column: k }))).limit(PAGE).forUpdate();
    if (after) query.whereRaw(`(${key.map(() => "??").join(", ")}) > (${key.map(() => "?").join(", ")})`, [...key, ...after]);
    const rows: Array<Record<string, string>> = await query;
    for (const row of rows) {
      const value = row[column]!;
      if (!box.isStale(value)) {
        count.current += 1;
        continue;
      }
      let plain: string;
      try {
        plain = box.open(value);
      } catch (err) {
        if (!(err instanceof SecretUnreadable)) throw err;
        count.unreadable += 1;
        continue;
      }
      await trx(table)
        .where(Object.fromEntries(key.map((k) => [k, row[k]])))
        .update({ [column]: box.seal(plain) });
      count.resealed += 1;
    }
    if (rows.length < PAGE) return count;
    const last = rows[rows.length - 1]!;
    after = key.map((k) => String(last[k]));
  }
}
