/**
 * The `agenthub` command: migrate | workspace create | token. Reads the same environment as
 * the server (DATABASE_URL, DATA_DIR, JWT_*), so it acts on the same database and secret.
 */
import { parseArgs } from "node:util";
import { mintUserToken } from "../auth/jwt.js";
import { developmentJwtSecret } from "../domain/settings.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { createDb, migrateLatest } from "../db.js";
import { createWorkspace } from "../domain/workspaces/service.js";
import { findLocalHub } from "../local-control.js";

const USAGE = `Usage:
  agenthub migrate
  agenthub workspace create --name NAME
  agenthub token --workspace ID --sub S --email E [--name N] [--groups a,b] [--role R] [--ttl SECONDS]`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return;
  }
  const config = loadConfig();
  switch (command) {
    case "migrate":
      if (runningEmbeddedHub(config)) {
        console.log(JSON.stringify({ applied: [], note: "the running embedded hub applied its migrations at start" }));
        return;
      }
      return withDb(config, async (db) => {
        const applied = await migrateLatest(db);
        console.log(JSON.stringify({ applied }));
      });
    case "workspace": {
      const [sub, ...args] = rest;
      if (sub !== "create") throw new UsageError(`unknown workspace command '${sub ?? ""}'`);
      const { values } = parseArgs({ args, options: { name: { type: "string" } } });
      const name = values.name?.trim();
      if (!name) throw new UsageError("--name is required");
      const running = runningEmbeddedHub(config);
      if (running) {
        console.log(JSON.stringify(await running.call("/workspaces", { name })));
        return;
      }
      return withDb(config, async (db) => {
        await migrateLatest(db);
        const { workspace, masterKey } = await createWorkspace(db, name);
        console.log(JSON.stringify({ workspace_id: workspace.id, master_key: masterKey }));
      });
    }
    case "token": {
      const { values } = parseArgs({
        args: rest,
        options: {
          workspace: { type: "string" },
          sub: { type: "string" },
          email: { type: "string" },
          name: { type: "string" },
          groups: { type: "string" },
          role: { type: "string" },
          ttl: { type: "string" },
        },
      });
      for (const required of ["workspace", "sub", "email"] as const) {
        if (!values[required]) throw new UsageError(`--${required} is required`);
      }
      const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isInteger(ttl) || ttl < 1) throw new UsageError("--ttl must be a whole number of seconds, 1 or more");
      const running = config.jwt.secret ? undefined : runningEmbeddedHub(config);
      if (running) {
        const { token } = (await running.call("/token", {
          workspace: values.workspace,
          sub: values.sub,
          email: values.email,
          name: values.name,
          groups: values.groups?.split(",").map((g) => g.trim()).filter(Boolean),
          role: values.role,
          ttlSeconds: ttl,
        })) as { token: string };
        console.log(token);
        return;
      }
      const secret =
        config.jwt.secret ?? (await withDb(config, async (db) => {
          await migrateLatest(db);
          return developmentJwtSecret(db);
        }));
      const token = await mintUserToken({
        secret,
        workspace: values.workspace!,
        sub: values.sub!,
        email: values.email!,
        name: values.name,
        groups: values.groups?.split(",").map((g) => g.trim()).filter(Boolean),
        role: values.role,
        ttlSeconds: ttl,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
      });
      console.log(token);
      return;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** An embedded hub already running on this DATA_DIR owns the PGlite files; ask it instead. */
function runningEmbeddedHub(config: Config) {
  if (config.databaseUrl) return undefined;
  const hub = findLocalHub(config.dataDir);
  if (!hub) return undefined;
  return {
    async call(path: string, body: unknown): Promise<unknown> {
      const res = await fetch(`http://127.0.0.1:${hub.port}/_local${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-agenthub-local": hub.secret },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { detail?: string };
      if (!res.ok) throw new Error(json.detail ?? `the running hub answered ${res.status}`);
      return json;
    },
  };
}

async function withDb<T>(config: Config, fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    if (err instanceof UsageError) console.error(`agenthub: ${err.message}\n\n${USAGE}`);
    else if (err instanceof ConfigError) console.error(err.message);
    else if (err?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") console.error(`agenthub: ${err.message}\n\n${USAGE}`);
    else console.error(`agenthub: ${err?.message ?? err}`);
    process.exit(err instanceof UsageError || err?.code?.startsWith?.("ERR_PARSE_ARGS") ? 2 : 1);
  },
);
