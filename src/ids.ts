/** Random identifiers and secrets. Every id and secret comes from the OS CSPRNG. */
import { createHash, randomBytes } from "node:crypto";

/** `prefix_` + 128 random bits in lowercase base36 (25 characters). */
export function newId(prefix: string): string {
  return `${prefix}_${base36(randomBytes(16), 25)}`;
}

/** A secret of 256 random bits with a recognisable prefix, e.g. `g_agent_…`. */
export function newSecret(prefix: string): string {
  return `${prefix}${base36(randomBytes(32), 50)}`;
}

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

function base36(bytes: Buffer, width: number): string {
  return BigInt(`0x${bytes.toString("hex")}`).toString(36).padStart(width, "0");
}
