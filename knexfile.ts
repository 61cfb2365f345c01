/**
 * knex CLI configuration. agenthub itself applies migrations through `npx agenthub migrate`
 * (and on `npm start`); this file lets `npx knex` inspect the same database.
 */
import type { Knex } from "knex";

const config: Knex.Config = {
  client: "pg",
  connection: process.env.DATABASE_URL ?? "postgres://root@127.0.0.1:5432/agenthub",
  migrations: { directory: "./migrations", extension: "ts", loadExtensions: [".ts"] },
};

export default config;
