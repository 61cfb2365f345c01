/**
 * The embedded hub's hub file. PGlite lives inside the hub process and must not be opened by a
 * second one, so while an embedded hub runs, the `agenthub` CLI asks it to do the work instead.
 * The hub writes DATA_DIR/hub.json (mode 0600) with its pid, port and a random secret; the CLI
 * finds it here and sends that secret to the loopback-only routes under /_local (control.ts).
 * Whoever can read DATA_DIR can already read the database, so the secret grants nothing new.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

export interface LocalHubFile {
  pid: number;
  port: number;
  secret: string;
}

export function localHubFile(dataDir: string): string {
  return path.join(dataDir, "hub.json");
}

export function writeLocalHubFile(dataDir: string, port: number): LocalHubFile {
  const info = { pid: process.pid, port, secret: randomBytes(32).toString("base64url") };
  fs.writeFileSync(localHubFile(dataDir), JSON.stringify(info), { mode: 0o600 });
  return info;
}

export function removeLocalHubFile(dataDir: string, info: LocalHubFile): void {
  try {
    const current = JSON.parse(fs.readFileSync(localHubFile(dataDir), "utf8")) as LocalHubFile;
    if (current.secret === info.secret) fs.unlinkSync(localHubFile(dataDir));
  } catch {
    // already gone
  }
}

/** The running embedded hub on this DATA_DIR, if there is one. */
export function findLocalHub(dataDir: string): LocalHubFile | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(localHubFile(dataDir), "utf8")) as LocalHubFile;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}
