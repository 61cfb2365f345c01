#!/usr/bin/env node
// Builds the web app (web/src) into dist/web: one hashed script and stylesheet under assets/
// (immutable), and index.html naming them (served no-cache). Everything is bundled: no CDN, works
// offline. `agenthub/client` is the repo's own typed client, bundled from source.
import { build } from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const out = path.join(root, "dist", "web");
const tmp = `${out}.tmp-${process.pid}`;

fs.rmSync(tmp, { recursive: true, force: true });
const result = await build({
  entryPoints: { app: path.join(here, "src", "main.tsx") },
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  sourcemap: true,
  outdir: path.join(tmp, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  alias: { "agenthub/client": path.join(root, "src", "client", "index.ts") },
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  tsconfig: path.join(here, "tsconfig.json"),
});
const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const script = outputs.find((f) => f.startsWith("app-") && f.endsWith(".js"));
const style = outputs.find((f) => f.startsWith("app-") && f.endsWith(".css"));
if (!script || !style) throw new Error(`web build: expected app-*.js and app-*.css, got ${outputs.join(", ")}`);
const html = fs
  .readFileSync(path.join(here, "index.html"), "utf8")
  .replace("%SCRIPT%", `/assets/${script}`)
  .replace("%STYLE%", `/assets/${style}`);
fs.writeFileSync(path.join(tmp, "index.html"), html);
// Swap in the new build at once, so a hub serving the old one never sees half of the new.
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
console.log(`web app built: dist/web (${script}, ${style})`);
