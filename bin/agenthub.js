#!/usr/bin/env node
// The `agenthub` command. Runs the compiled CLI (built by `npm install` / `npm run build`),
// or the TypeScript source through tsx when no build is there (development checkouts).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = `${root}dist/src/cli/main.js`;
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(`${root}src/cli/main.ts`).href);
}
