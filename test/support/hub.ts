/**
 * Hubs for tests: in this process (startTestHub, or useHub for a whole test file) or as
 * separate OS processes sharing the same Postgres and Redis (spawnHub), for multi-node behaviour.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterAll, beforeAll } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { startHub, type Hub } from "../../src/server.js";
import type { Clock } from "../../src/domain/time.js";
import { api, type Api } from "./api.js";
import { JWT_SECRET, REDIS_URL } from "./env.js";
import { makeWorkspace, type TestWorkspace } from "./factories.js";

export interface HubOptions {
  /** Use the Redis adapter (default true). */
  redis?: boolean;
  clock?: Clock;
  env?: Record<string, string>;
  /** spawnHub only: called with every stdout line and stderr chunk of the child, for its whole life. */
  onOutput?: (text: string) => void;
}

function hubEnv(options: HubOptions): Record<string, string> {
  const dbUrl = process.env.TEST_FILE_DATABASE_URL;
  if (!dbUrl) throw new Error("test/support/per-file-db.ts did not run");
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: dbUrl,
    JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    REDIS_PREFIX: process.env.TEST_FILE_REDIS_PREFIX!,
    PUBLIC_URL: "http://hub.test",
    ...(options.redis === false ? {} : { REDIS_URL }),
    ...options.env,
  };
}

export async function startTestHub(options: HubOptions = {}): Promise<Hub> {
  const config = loadConfig(hubEnv(options));
  return startHub(config, createLogger(config.logLevel), options.clock ? { clock: options.clock } : {});
}

/** A test file's hub and what nearly every such file starts with. */
export interface HubFixture {
  url: string;
  db: Hub["db"];
  bus: Hub["bus"];
  services: Hub["services"];
  /** The file's workspace, and another one to check isolation against. */
  ws: TestWorkspace;
  other: TestWorkspace;
  /** A client without a credential; `anon.as(credential)` for the others. */
  anon: Api;
}

/**
 * Starts a hub in this process for the test file (beforeAll) and closes it after (afterAll).
 * The fields are filled in by that beforeAll, so read them in tests and later hooks only.
 */
export function useHub(options: HubOptions = {}): HubFixture {
  const fixture = {} as HubFixture;
  let hub: Hub | undefined;
  beforeAll(async () => {
    hub = await startTestHub(options);
    const [ws, other] = [await makeWorkspace(hub.db), await makeWorkspace(hub.db)];
    const { url, db, bus, services } = hub;
    Object.assign(fixture, { url, db, bus, services, ws, other, anon: api(url) });
  });
  afterAll(() => hub?.close());
  return fixture;
}

export interface HubProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/main.ts` in its own process and resolves once it listens. */
export async function spawnHub(options: HubOptions = {}): Promise<HubProcess> {
  const env = { ...process.env, ...hubEnv(options), LOG_LEVEL: "info", AGENTHUB_BANNER: "0" };
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  child.stderr!.on("data", (d) => {
    lines.push(String(d));
    options.onOutput?.(String(d));
  });
  // Generous: a hub on PGlite (the embedded default) migrates at start, slow on a busy 2-core machine.
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${lines.join("")}`)), 60_000);
    child.once("exit", (code) => reject(new Error(`hub exited with ${code}:\n${lines.join("")}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      options.onOutput?.(line);
      lines.push(line);
      if (lines.length > 200) lines.shift();
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "agenthub listening") {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not JSON
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    async stop(signal = "SIGTERM") {
      // Already gone: exited (exitCode) or killed by a signal (exitCode stays null, signalCode is set).
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, "exit");
      return code as number | null;
    },
  };
}
