/**
 * Debian's Chromium for the browser tests (playwright-core downloads none). Where it is missing,
 * the browser tests are skipped and `npm test` says so in its last lines
 * (scripts/browser-note.mjs), unless AGENTHUB_REQUIRE_BROWSER=1 (as .ci/run sets), where a missing
 * browser fails them.
 */
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { describe, it } from "vitest";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const required = process.env.AGENTHUB_REQUIRE_BROWSER === "1";
const present = fs.existsSync(CHROMIUM);

/** Whether this run drives a browser: Chromium is there, or it is required (and its absence fails). */
export const runsBrowser = present || required;

/** `describe` for browser tests: skipped where Chromium is missing and not required. */
export const describeInBrowser: typeof describe = runsBrowser ? describe : (describe.skip as typeof describe);

/** `it` for one browser test among others that need none. */
export const itInBrowser: typeof it = runsBrowser ? it : (it.skip as typeof it);

export async function launchChromium(): Promise<Browser> {
  if (!present) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
