#!/usr/bin/env node
// Builds dist/ only when it is missing or older than the sources, so `npm start` is quick and
// several hubs started at once never rewrite files another one is loading. A build in progress
// holds dist/.build-lock; the others wait for it and then find dist/ fresh.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".built");
const lock = path.join(root, "dist", ".build-lock");
const sources = ["src", "migrations", "web", "knexfile.ts", "tsconfig.json", "tsconfig.build.json", "package.json"];

function newest(p) {
  const full = path.join(root, p);
  if (!fs.existsSync(full)) return 0;
  const st = fs.statSync(full);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(full).map((e) => newest(path.join(p, e))));
}

// `--force` (npm run build) always compiles, still under the lock.
const force = process.argv.includes("--force");
const isFresh = () => !force && fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= Math.max(...sources.map(newest));
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

if (isFresh()) process.exit(0);
fs.mkdirSync(path.join(root, "dist"), { recursive: true });
const deadline = Date.now() + 180_000;
for (;;) {
  try {
    fs.mkdirSync(lock);
    break;
  } catch (err) {
    if (err.code !== "EEXIST") throw err;
    // A lock left by a build that died long ago is taken over.
    if (Date.now() - fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error("gave up waiting for another build of dist/");
    sleep(200);
    if (isFresh()) process.exit(0);
  }
}
try {
  if (!isFresh()) {
    const started = Date.now();
    execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "inherit",
    });
    // The web app (web/), bundled into dist/web.
    execFileSync(process.execPath, [path.join(root, "web", "build.mjs")], { cwd: root, stdio: "inherit" });
    // Stamped with the start time: a source edited during the build still counts as newer.
    fs.writeFileSync(stamp, new Date(started).toISOString());
    fs.utimesSync(stamp, new Date(started), new Date(started));
  }
} finally {
  fs.rmSync(lock, { recursive: true, force: true });
}
