/**
 * Readiness: whether this process should be sent traffic. Each dependency is checked on its own
 * (bounded in time, so a probe always gets an answer), and a process that is draining on SIGTERM
 * is not ready whatever its dependencies say.
 */
import type { Logger } from "pino";
import type { Db } from "../db.js";
import { pingRedis, type RedisClients } from "../redis.js";
import { withTimeout } from "../timeout.js";

/** A readiness probe answers within this, ready or not: probes have their own short timeouts. */
const CHECK_TIMEOUT_MS = 2000;

export interface DependencyCheck {
  /** `embedded`: no such service is configured (Redis: the in-process adapter). */
  status: "up" | "down" | "embedded";
  latency_ms?: number;
  /** Redis Cluster only: `CLUSTER INFO`'s cluster_state; up only when `ok`. */
  cluster_state?: string;
}

export interface Readiness {
  status: "ready" | "not-ready" | "draining";
  checks: { postgres: DependencyCheck; redis: DependencyCheck };
}

export interface ReadinessDeps {
  db: Db;
  redis: RedisClients | undefined;
  draining: () => boolean;
  log: Logger;
}

export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const [postgres, redis] = await Promise.all([
    check("postgres", () => deps.db.raw("select 1"), deps.log),
    deps.redis ? check("redis", () => pingRedis(deps.redis!), deps.log) : ({ status: "embedded" } as const),
  ]);
  const checks = { postgres, redis };
  if (deps.draining()) return { status: "draining", checks };
  return { status: postgres.status === "down" || redis.status === "down" ? "not-ready" : "ready", checks };
}

async function check(name: string, probe: () => Promise<unknown>, log: Logger): Promise<DependencyCheck> {
  const started = performance.now();
  try {
    const answer = await withTimeout(probe(), CHECK_TIMEOUT_MS);
    const latency_ms = Math.round((performance.now() - started) * 10) / 10;
    const state = (answer as { cluster_state?: string } | undefined)?.cluster_state;
    if (state === undefined) return { status: "up", latency_ms };
    if (state !== "ok") log.warn({ dependency: name, cluster_state: state }, "dependency not ready");
    return { status: state === "ok" ? "up" : "down", latency_ms, cluster_state: state };
  } catch (err) {
    // The reason may name internal addresses: logged, not answered to an unauthenticated probe.
    log.warn({ dependency: name, reason: (err as Error).message }, "dependency not ready");
    return { status: "down" };
  }
}
