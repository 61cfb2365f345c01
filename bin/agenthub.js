#!/usr/bin/env node
// The `agenthub` command. In a development checkout (tsx installed) it runs the TypeScript
// source, so it is never stale; in a production install (no dev dependencies) it runs the
// compiled CLI built by `npm install` / `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = `${root}src/cli/main.ts`;
const compiled = `${root}dist/src/cli/main.js`;

let tsx;
try {
  tsx = import.meta.resolve("tsx/esm/api");
} catch {
  tsx = undefined;
}

if (tsx && existsSync(source)) {
  const { register } = await import(tsx);
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  console.error("agenthub: not built; run `npm run build` first");
  process.exit(1);
}
