/**
 * `agenthub secrets rotate`: re-seals every write-only secret at rest (model API keys, MCP
 * server headers) under the current SECRETS_KEY, in one transaction, and prints the counts per
 * column as JSON. Run it after moving the old key to SECRETS_KEY_PREVIOUS (and restarting the
 * hubs with both); once it reports nothing unreadable, SECRETS_KEY_PREVIOUS can be emptied.
 */
import type { Knex } from "knex";
import { SecretBox } from "../auth/secrets.js";
import type { Config } from "../config.js";
import { resealAll } from "../domain/secrets/reseal.js";
import { storedSecretsKey } from "../domain/settings.js";

/** The hub's own choice of key (server.ts): SECRETS_KEY, or the one kept in the database. */
async function secretBoxOf(config: Config, db: Knex): Promise<SecretBox> {
  return new SecretBox(config.secrets.key ?? (await storedSecretsKey(db)), config.secrets.previous);
}

/** Re-seals, prints the counts, and fails (after printing) when some value no key opens. */
export async function rotateSecrets(config: Config, db: Knex): Promise<void> {
  const counts = await resealAll(db, await secretBoxOf(config, db));
  console.log(JSON.stringify(counts));
  const unreadable = Object.entries(counts).filter(([, c]) => c.unreadable > 0);
  if (unreadable.length) {
    throw new Error(
      `${unreadable.map(([column, c]) => `${c.unreadable} in ${column}`).join(", ")} could not be opened with SECRETS_KEY or SECRETS_KEY_PREVIOUS and were left as they are; add the key they were sealed with to SECRETS_KEY_PREVIOUS and run this again, or set those secrets anew`,
    );
  }
}
