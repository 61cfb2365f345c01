/**
 * agenthub's side of Postgres in the benchmark: a fresh, migrated bench database per run
 * (dropped at exit), and a sampler of what its sessions do while a step publishes.
 */
import path from "node:path";
import pg from "pg";
import { atExit } from "./cleanup.js";
import { round, ROOT } from "./lib.js";
import { BENCH_DB, PG_URL } from "./options.js";

/** The bench database on the server of --pg-url. */
export const BENCH_DB_URL = (() => {
  const u = new URL(PG_URL);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
})();

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface BenchWorkspace {
  id: string;
  masterKey: string;
}

/** A fresh, migrated bench database with one workspace, dropped at exit. */
export async function freshDatabase(): Promise<BenchWorkspace> {
  await adminQuery(`DROP DATABASE IF EXISTS "${BENCH_DB}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${BENCH_DB}"`);
  atExit.add(() => adminQuery(`DROP DATABASE IF EXISTS "${BENCH_DB}" WITH (FORCE)`));
  // Loaded here, not at the top: --help and runs of the bare stacks alone do not load agenthub's code.
  const { createDb, migrateLatest } = await import("../src/db.js");
  const { createWorkspace } = await import("../src/domain/workspaces/service.js");
  const db = createDb({ databaseUrl: BENCH_DB_URL, dataDir: path.join(ROOT, "data"), poolMax: 2 });
  try {
    await migrateLatest(db);
    const { workspace, masterKey } = await createWorkspace(db, "bench");
    return { id: workspace.id, masterKey };
  } finally {
    await db.destroy();
  }
}

export interface PgActivity {
  samples: number;
  lockWaitersAvg: number;
  lockWaitersMax: number;
  activeAvg: number;
  idleInTransactionAvg: number;
}

/**
 * Samples the bench database's sessions in pg_stat_activity (every 100 ms, one query at a time)
 * while a step publishes: how many wait for a lock (publishers queueing on the channel row),
 * run a statement, or sit idle inside a transaction (waiting on the hub between round trips).
 */
export class PgSampler {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private n = 0;
  private sums = { lock: 0, active: 0, idleTx: 0 };
  private maxLock = 0;

  async start(): Promise<void> {
    if (!this.client) {
      const client = new pg.Client({ connectionString: PG_URL });
      client.on("error", () => {}); // the sampler is best effort
      await client.connect();
      this.client = client;
    }
    this.n = 0;
    this.sums = { lock: 0, active: 0, idleTx: 0 };
    this.maxLock = 0;
    this.timer = setInterval(() => void this.sample(), 100);
  }

  private async sample(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query(
        `select count(*) filter (where wait_event_type = 'Lock')::int as lock,
                count(*) filter (where state = 'active' and coalesce(wait_event_type, '') <> 'Lock')::int as active,
                count(*) filter (where state like 'idle in transaction%')::int as idle_tx
           from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [BENCH_DB],
      );
      const r = rows[0] as { lock: number; active: number; idle_tx: number };
      this.n++;
      this.sums.lock += r.lock;
      this.sums.active += r.active;
      this.sums.idleTx += r.idle_tx;
      this.maxLock = Math.max(this.maxLock, r.lock);
    } catch {
      // a missed sample
    } finally {
      this.busy = false;
    }
  }

  stop(): PgActivity | undefined {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.n) return undefined;
    return {
      samples: this.n,
      lockWaitersAvg: round(this.sums.lock / this.n),
      lockWaitersMax: this.maxLock,
      activeAvg: round(this.sums.active / this.n),
      idleInTransactionAvg: round(this.sums.idleTx / this.n),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }
}
