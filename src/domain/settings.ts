/**
 * Hub-wide settings kept in the database (`settings`). One so far: the HS256 secret used when
 * JWT_SECRET is not set, so that the embedded quick start works with no
 * configuration, a random secret generated once and kept in the database's settings table,
 * shared by every process (and the `agenthub token` command) that uses the same database.
 */
import type { Knex } from "knex";
import { randomBytes } from "node:crypto";

const SETTING = "jwt_dev_secret";

export async function developmentJwtSecret(db: Knex): Promise<string> {
  await db("settings")
    .insert({ key: SETTING, value: randomBytes(32).toString("base64url") })
    .onConflict("key")
    .ignore();
  const row = await db("settings").where({ key: SETTING }).first("value");
  return row.value as string;
}
