/**
 * Hub-wide settings kept in the database (`settings`): random secrets generated once and shared
 * by every process that uses the same database. The HS256 secret used when JWT_SECRET is not
 * set, so that the embedded quick start works with no configuration (the `agenthub token`
 * command reads it too); and, on a hub that only verifies an identity provider's tokens (no
 * secret of its own), the secret its turn tokens are signed with.
 */
import type { Knex } from "knex";
import { randomBytes } from "node:crypto";

const SETTING = "jwt_dev_secret";
const TURN_TOKEN_SETTING = "turn_token_secret";
const SECRETS_SETTING = "secrets_key";

export function developmentJwtSecret(db: Knex): Promise<string> {
  return storedSecret(db, SETTING);
}

/** The secret turn tokens are derived from when the hub has no JWT_SECRET (identity provider only). */
export function turnTokenSecret(db: Knex): Promise<string> {
  return storedSecret(db, TURN_TOKEN_SETTING);
}

/** The key write-only secrets are sealed with when SECRETS_KEY is not set (auth/secrets.ts). */
export function storedSecretsKey(db: Knex): Promise<string> {
  return storedSecret(db, SECRETS_SETTING);
}

async function storedSecret(db: Knex, key: string): Promise<string> {
  await db("settings")
    .insert({ key, value: randomBytes(32).toString("base64url") })
    .onConflict("key")
    .ignore();
  const row = await db("settings").where({ key }).first("value");
  return row.value as string;
}
