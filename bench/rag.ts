/**
 * The rag scenario (`npm run bench -- --scenario rag`, the usage is in bench/fanout.ts): RAG query
 * latency over --chunks knowledge chunks, on Postgres and on the embedded PGlite.
 *
 * Per backend, one agenthub process (the build, dist/src/main.js, LOG_LEVEL=warn, RATE_LIMIT_PER_10S=0, no Redis):
 * postgres with DATABASE_URL to a fresh bench database (bench/postgres.ts, dropped at exit);
 * pglite without DATABASE_URL, DATA_DIR a temp dir (its workspace made there before the hub
 * starts; removed at exit). The corpus goes through POST /api/knowledge with the master key,
 * 8 requests in flight: items of 5 chunks (counted with the hub's own chunkText, the last item
 * cut to make --chunks exactly), text drawn deterministically from TOPICS topical vocabularies
 * (Zipf-weighted) mixed with a shared one. Queries (same seed every run): 2–3 words of one topic,
 * sometimes with a shared word (every word matches: ranked by ts_rank_cd), and one in five a word
 * of each of two topics, which no chunk holds together (the any-word fallback runs). They go to
 * POST /v1/workspaces/{ws}/agent/rag {text, topK: 5}, closed loop with --in-flight at a time,
 * after a warm-up of a tenth as many; each answer must be 200 with 1..5 results sorted by score
 * (descending, in [0, 1]). On Postgres it also prints EXPLAIN (ANALYZE, BUFFERS) of one query,
 * the hub's own SQL (matchChunks). Prints a line per backend, a summary and one JSON line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { chunkText } from "../src/domain/knowledge/search.js";
import { JWT_SECRET } from "../test/support/env.js";
import { atExit, Cleanups } from "./cleanup.js";
import { freePort, Histogram, HUB_NODE_ARGS, HUB_SCRIPT, now, round, ROOT, spawnNode, waitHealthy, type Child } from "./lib.js";
import { cfg, type BackendName } from "./options.js";
import { BENCH_DB_URL, freshDatabase } from "./postgres.js";
import { fmt } from "./report.js";

/** The issue's goal: RAG p99 under this on Postgres at 10,000 chunks. */
const P99_GOAL_MS = 50;
const TOPICS = 40;
const TOPIC_WORDS = 60;
const SHARED_WORDS = 300;
const CHUNKS_PER_ITEM = 5;
const LOAD_IN_FLIGHT = 8;
const TOP_K = 5;
/** One query in this many mixes two topics, so that no chunk has every word: the OR fallback. */
const FALLBACK_EVERY = 5;

// ---- deterministic text ---------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so every run loads and asks the same. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gl", "kr", "pl", "st", "tr", "sk"];
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"];
const CODAS = ["", "n", "r", "l", "m", "x", "k"];

/** Distinct made-up words (three syllables, ending in a consonant so stemming leaves them apart). */
function makeWords(count: number, rand: () => number, taken: Set<string>): string[] {
  const words: string[] = [];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  while (words.length < count) {
    let w = "";
    for (let s = 0; s < 3; s++) w += pick(ONSETS) + pick(VOWELS);
    w += pick(CODAS.slice(1));
    if (taken.has(w)) continue;
    taken.add(w);
    words.push(w);
  }
  return words;
}

interface Vocabulary {
  topics: string[][];
  shared: string[];
}

function vocabulary(): Vocabulary {
  const rand = rng(7);
  const taken = new Set<string>();
  return { topics: Array.from({ length: TOPICS }, () => makeWords(TOPIC_WORDS, rand, taken)), shared: makeWords(SHARED_WORDS, rand, taken) };
}

/** A Zipf-like pick: index i with weight 1/(i+1). */
function zipf(n: number): (rand: () => number) => number {
  const cum: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) cum.push((sum += 1 / (i + 1)));
  return (rand) => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface Item {
  title: string;
  content: string;
  chunks: number;
}

/** Items of CHUNKS_PER_ITEM chunks (the last fewer) adding up to exactly `target` chunks. */
function corpus(v: Vocabulary, target: number): Item[] {
  const rand = rng(11);
  const topicZipf = zipf(TOPIC_WORDS);
  const sharedZipf = zipf(SHARED_WORDS);
  const sentence = (topic: string[]) => {
    const n = 8 + Math.floor(rand() * 10);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(rand() < 0.4 ? topic[topicZipf(rand)]! : v.shared[sharedZipf(rand)]!);
    return `${words[0]![0]!.toUpperCase()}${words.join(" ").slice(1)}.`;
  };
  const items: Item[] = [];
  let total = 0;
  while (total < target) {
    const t = items.length % TOPICS;
    const topic = v.topics[t]!;
    const want = Math.min(CHUNKS_PER_ITEM, target - total);
    const paragraphs: string[] = [];
    let content = "";
    // Grow by paragraphs of a few sentences until the hub's chunker cuts it into `want` chunks.
    for (;;) {
      const para: string[] = [];
      for (let s = 0; s < 4; s++) para.push(sentence(topic));
      paragraphs.push(para.join(" "));
      const next = paragraphs.join("\n\n");
      const n = chunkText(next).length;
      if (n > want) {
        paragraphs.pop();
        break;
      }
      content = next;
      if (n === want && content.length > want * 850) break;
    }
    if (!content) content = sentence(topic);
    const chunks = chunkText(content).length;
    items.push({ title: `${topic[0]} ${topic[1]} notes ${items.length}`, content, chunks });
    total += chunks;
  }
  return items;
}

interface Query {
  text: string;
  fallback: boolean;
}

function queries(v: Vocabulary, count: number, seed: number): Query[] {
  const rand = rng(seed);
  const pickTopic = () => v.topics[Math.floor(rand() * TOPICS)]!;
  // Words the corpus uses often enough to be in many chunks of their topic, and some rarer ones.
  const topicWord = (topic: string[]) => topic[Math.floor(rand() * rand() * 30)]!;
  const out: Query[] = [];
  for (let i = 0; i < count; i++) {
    if (i % FALLBACK_EVERY === FALLBACK_EVERY - 1) {
      let a = pickTopic();
      let b = pickTopic();
      while (b === a) b = pickTopic();
      out.push({ text: `${topicWord(a)} ${topicWord(b)}`, fallback: true });
      continue;
    }
    const topic = pickTopic();
    const words = new Set<string>();
    const n = 2 + Math.floor(rand() * 2);
    while (words.size < n) words.add(topicWord(topic));
    const text = [...words].join(" ");
    out.push({ text: rand() < 0.3 ? `what about ${text} and ${v.shared[Math.floor(rand() * 20)]}?` : text, fallback: false });
  }
  return out;
}

// ---- the hubs ----------------------------------------------------------------------------------

interface Hub {
  backend: BackendName;
  url: string;
  proc: Child;
  workspaceId: string;
  masterKey: string;
  note: string;
}

async function startHub(backend: BackendName, cleanups: Cleanups): Promise<Hub> {
  let env: NodeJS.ProcessEnv;
  let ws: { id: string; masterKey: string };
  let note: string;
  if (backend === "postgres") {
    ws = await freshDatabase();
    env = { DATABASE_URL: BENCH_DB_URL };
    note = `DATABASE_URL=${BENCH_DB_URL}`;
  } else {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "agenthub-bench-rag-"));
    const remove = async () => fs.rmSync(dataDir, { recursive: true, force: true });
    atExit.add(remove);
    cleanups.add(remove);
    // The workspace is made before the hub opens the files (PGlite has one owner at a time).
    const { createDb, migrateLatest } = await import("../src/db.js");
    const { createWorkspace } = await import("../src/domain/workspaces/service.js");
    const db = createDb({ databaseUrl: undefined, dataDir });
    try {
      await migrateLatest(db);
      const { workspace, masterKey } = await createWorkspace(db, "bench");
      ws = { id: workspace.id, masterKey };
    } finally {
      await db.destroy();
    }
    env = { DATA_DIR: dataDir };
    note = `embedded PGlite, DATA_DIR=${dataDir}`;
  }
  const base = { ...process.env };
  for (const k of ["DATABASE_URL", "DATA_DIR", "REDIS_URL", "REDIS_PREFIX"]) delete base[k];
  const port = await freePort();
  const proc = spawnNode(`agenthub-${backend}`, [...HUB_NODE_ARGS, ...cfg.serverNodeArgs, HUB_SCRIPT], {
    ...base,
    ...env,
    PORT: String(port),
    HOST: "127.0.0.1",
    JWT_SECRET,
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_10S: "0",
    AGENTHUB_BANNER: "0",
    PUBLIC_URL: "http://127.0.0.1",
  }, ROOT);
  cleanups.add(() => proc.stop(8000));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, 60_000);
  return { backend, url, proc, workspaceId: ws.id, masterKey: ws.masterKey, note };
}

async function post(hub: Hub, p: string, body: unknown): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(hub.url + p, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${hub.masterKey}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

/** Runs `fn(i)` for i in 0..count-1 with `inFlight` at a time (closed loop). */
async function pool(count: number, inFlight: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

async function load(hub: Hub, items: Item[]): Promise<{ seconds: number; chunks: number }> {
  const t0 = now();
  let chunks = 0;
  await pool(items.length, LOAD_IN_FLIGHT, async (i) => {
    const it = items[i]!;
    const res = await post(hub, "/api/knowledge", { title: it.title, content: it.content, taxonomies: [`topic-${i % TOPICS}`] });
    if (res.status !== 201) throw new Error(`POST /api/knowledge: ${res.status} ${res.text.slice(0, 300)}`);
    const count = (res.body as { chunk_count: number }).chunk_count;
    if (count !== it.chunks) throw new Error(`item ${i}: the hub made ${count} chunks, chunkText ${it.chunks}`);
    chunks += count;
  });
  return { seconds: round((now() - t0) / 1000), chunks };
}

// ---- measuring -----------------------------------------------------------------------------------

interface Run {
  queries: number;
  ok: number;
  bad: number;
  badSample: string | undefined;
  fallbackAnswered: number;
  emptyAnswers: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  qps: number;
  seconds: number;
}

/** What is wrong with an answer, or undefined: 200, 1..topK results, scores in [0, 1] and descending. */
function checkAnswer(status: number, body: unknown, text: string): string | undefined {
  if (status !== 200) return `${status} ${text.slice(0, 200)}`;
  if (!Array.isArray(body)) return `not an array: ${text.slice(0, 200)}`;
  if (body.length < 1 || body.length > TOP_K) return `${body.length} results`;
  let prev = Infinity;
  for (const m of body as Array<{ score: unknown; metadata?: { text?: unknown } }>) {
    const s = m.score;
    if (typeof s !== "number" || !(s >= 0 && s <= 1)) return `score ${String(s)}`;
    if (s > prev) return `scores not descending (${prev} then ${s})`;
    if (typeof m.metadata?.text !== "string") return "result without metadata.text";
    prev = s;
  }
  return undefined;
}

async function measure(hub: Hub, qs: Query[]): Promise<Run> {
  const hist = new Histogram();
  let ok = 0;
  let bad = 0;
  let badSample: string | undefined;
  let fallbackAnswered = 0;
  let emptyAnswers = 0;
  const ragPath = `/v1/workspaces/${hub.workspaceId}/agent/rag`;
  const t0 = now();
  await pool(qs.length, cfg.inFlight, async (i) => {
    const q = qs[i]!;
    const s = now();
    const res = await post(hub, ragPath, { text: q.text, topK: TOP_K }).catch((err: Error) => ({ status: 0, body: undefined, text: err.message }));
    hist.add(now() - s);
    const problem = checkAnswer(res.status, res.body, res.text);
    if (problem) {
      bad++;
      if (Array.isArray(res.body) && !res.body.length) emptyAnswers++;
      badSample ??= `"${q.text}": ${problem}`;
    } else {
      ok++;
      if (q.fallback) fallbackAnswered++;
    }
  });
  const seconds = (now() - t0) / 1000;
  return {
    queries: qs.length,
    ok,
    bad,
    badSample,
    fallbackAnswered,
    emptyAnswers,
    latencyMs: { p50: round(hist.quantile(0.5)), p90: round(hist.quantile(0.9)), p99: round(hist.quantile(0.99)), max: round(hist.max), mean: round(hist.count ? hist.sum / hist.count : NaN) },
    qps: round(qs.length / seconds),
    seconds: round(seconds),
  };
}

/** EXPLAIN (ANALYZE, BUFFERS) of the hub's own every-word query (matchChunks) for `text`, on the bench database. */
async function explain(workspaceId: string, text: string): Promise<string[]> {
  const { createDb } = await import("../src/db.js");
  const { matchChunks } = await import("../src/domain/knowledge/search.js");
  const db = createDb({ databaseUrl: BENCH_DB_URL, dataDir: path.join(ROOT, "data"), poolMax: 1 });
  try {
    let plan: string[] = [];
    const explaining = {
      raw: async (sql: string, bindings: unknown[]) => {
        const r = await db.raw(`explain (analyze, buffers) ${sql}`, bindings as never);
        plan = (r.rows as Array<Record<string, string>>).map((row) => row["QUERY PLAN"]!);
        return { rows: [] };
      },
    };
    await matchChunks(explaining as never, { workspaceId, scope: { all: true }, tsConfig: "english", text, limit: TOP_K }, "and");
    return plan;
  } finally {
    await db.destroy();
  }
}

/** Table sizes as Postgres sees them (autovacuum may not have analysed the fresh tables yet). */
async function pgStats(): Promise<string> {
  const client = new pg.Client({ connectionString: BENCH_DB_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select relname, n_live_tup, last_autoanalyze is not null as analysed, pg_size_pretty(pg_total_relation_size(relid)) as size
         from pg_stat_user_tables where relname in ('knowledge', 'knowledge_chunks') order by relname`,
    );
    return rows.map((r: Record<string, unknown>) => `${r.relname}: ${r.n_live_tup} rows, ${r.size}, auto-analysed ${r.analysed ? "yes" : "not yet"}`).join("; ");
  } finally {
    await client.end();
  }
}

// ---- the scenario ----------------------------------------------------------------------------------

interface Result {
  backend: BackendName;
  note: string;
  load: { items: number; chunks: number; seconds: number };
  warmup: Run;
  run: Run;
  pg?: string;
  explain?: string[];
}

export async function runRag(): Promise<void> {
  const started = now();
  const v = vocabulary();
  const items = corpus(v, cfg.chunks);
  const warm = queries(v, Math.max(20, Math.round(cfg.queries / 10)), 101);
  const measured = queries(v, cfg.queries, 202);
  console.log(
    `rag benchmark: ${cfg.chunks} chunks in ${items.length} items (${TOPICS} topics), ${cfg.queries} RAG queries (topK ${TOP_K}, 1 in ${FALLBACK_EVERY} needing the any-word fallback) ` +
      `with ${cfg.inFlight} in flight after ${warm.length} warm-up queries; backends: ${cfg.backends.join(", ")}`,
  );
  const results: Result[] = [];
  for (const backend of cfg.backends) {
    const own = new Cleanups();
    atExit.add(() => own.run());
    console.log(`\n-- ${backend}`);
    const hub = await startHub(backend, own);
    console.log(`  hub ${hub.url}: ${hub.note}`);
    const loaded = await load(hub, items);
    console.log(`  loaded ${loaded.chunks} chunks (${items.length} POST /api/knowledge, ${LOAD_IN_FLIGHT} in flight) in ${fmt(loaded.seconds)} s`);
    const r: Result = { backend, note: hub.note, load: { items: items.length, ...loaded }, warmup: await measure(hub, warm), run: undefined as never };
    r.run = await measure(hub, measured);
    const x = r.run;
    console.log(
      `  ${x.queries} queries: p50 ${fmt(x.latencyMs.p50)} ms, p90 ${fmt(x.latencyMs.p90)}, p99 ${fmt(x.latencyMs.p99)}, max ${fmt(x.latencyMs.max)}; ${fmt(x.qps, 0)} queries/s; ` +
        `answers ok ${x.ok}/${x.queries}${x.bad ? ` (bad: ${x.bad}, e.g. ${x.badSample})` : ""}; fallback queries answered ${x.fallbackAnswered}/${measured.filter((q) => q.fallback).length}`,
    );
    if (backend === "postgres") {
      r.pg = await pgStats();
      console.log(`  ${r.pg}`);
      const sample = measured.find((q) => !q.fallback)!.text;
      r.explain = await explain(hub.workspaceId, sample);
      console.log(`  EXPLAIN (ANALYZE, BUFFERS) of "${sample}" (every-word query):\n${r.explain.map((l) => `    ${l}`).join("\n")}`);
    }
    const c = hub.proc.child;
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`hub ${backend} exited during the run:\n${hub.proc.tail()}`);
    await own.run();
    results.push(r);
  }
  const elapsedS = round((now() - started) / 1000);
  const pgRun = results.find((r) => r.backend === "postgres")?.run;
  const goalMet = pgRun ? pgRun.latencyMs.p99 < P99_GOAL_MS && pgRun.bad === 0 : null;
  console.log("\n== summary ==");
  for (const r of results) {
    console.log(`  ${r.backend.padEnd(8)} p50 ${fmt(r.run.latencyMs.p50)} ms, p99 ${fmt(r.run.latencyMs.p99)} ms, ${fmt(r.run.qps, 0)} queries/s at ${cfg.inFlight} in flight; all answers right: ${r.run.bad ? "NO" : "yes"}; load ${fmt(r.load.seconds)} s`);
  }
  console.log(`  goal: Postgres p99 < ${P99_GOAL_MS} ms at ${cfg.chunks} chunks: ${goalMet ?? "-"}; run took ${fmt(elapsedS, 0)} s`);
  console.log(JSON.stringify({ bench: "rag", config: { ...cfg, topK: TOP_K, topics: TOPICS, chunksPerItem: CHUNKS_PER_ITEM, loadInFlight: LOAD_IN_FLIGHT, hubLogLevel: "warn" }, results, summary: { p99GoalMs: P99_GOAL_MS, goalMet }, elapsedS }));
  if (results.some((r) => r.run.bad)) throw new Error("some RAG answers were wrong (see above)");
}
