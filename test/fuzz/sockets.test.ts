/**
 * Fuzz: the Socket.IO client events (session:watch, session:unwatch, channel:watch,
 * channel:unwatch), unknown events, payloads that are not objects, missing or misplaced acks,
 * and handshakes with bad credentials. Whatever is sent: a known event with an ack is answered
 * `{ok: false, error}` with a problem below 500 (unwatch may answer `{ok: true}`), the socket
 * stays usable or is closed with a reason, the hub keeps serving, and no stored row changes.
 */
import fc from "fast-check";
import { io as ioClient, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, it } from "vitest";
import { useHub } from "../support/hub.js";
import {
  AnswerStats,
  INT32_MAX,
  NUL,
  brief,
  buildWorld,
  enabled,
  fuzzParams,
  junkText,
  printable,
  send,
  snapshot,
  stateChanges,
  withProto,
  type World,
  FUZZ_HUB_ENV,
} from "../support/fuzz.js";

const hub = useHub({ env: FUZZ_HUB_ENV });
let world: World;
const sockets = new Map<string, Socket>();

const VALID = ["master key", "user token (agent editor)", "agent key (all scopes)"] as const;
type Who = (typeof VALID)[number];

function open(token: unknown, auth: Record<string, unknown> = {}): Promise<Socket> {
  const socket = ioClient(hub.url, { path: "/socket.io", transports: ["websocket"], auth: { ...auth, token }, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect within 5 s")), 5000);
    socket.once("connect", () => (clearTimeout(timer), resolve(socket)));
    socket.once("connect_error", (err) => (clearTimeout(timer), socket.close(), reject(err)));
  });
}

/** The socket of this principal, reconnected if the hub closed the last one. */
async function socketOf(who: Who): Promise<Socket> {
  const s = sockets.get(who);
  if (s?.connected) return s;
  const token = world.credentials.find((c) => c.name === who)!.token;
  const fresh = await open(token);
  const closing: string[] = [];
  fresh.on("hub:closing", (p: { reason?: string }) => closing.push(String(p?.reason)));
  (fresh as any).closing = closing;
  fresh.on("disconnect", (reason) => ((fresh as any).__lastDisconnect = reason));
  sockets.set(who, fresh);
  return fresh;
}

beforeAll(async () => {
  world = await buildWorld(hub);
  for (const who of VALID) await socketOf(who);
});
afterAll(() => {
  for (const s of sockets.values()) s.close();
});

// ---- payloads ---------------------------------------------------------------------------------

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const EVENTS = ["session:watch", "session:unwatch", "channel:watch", "channel:unwatch"] as const;
type EventName = (typeof EVENTS)[number];
const idField = (e: EventName) => (e.startsWith("session") ? "sessionId" : "channelId");
const realId = (e: EventName) => (e.startsWith("session") ? world.ids.sessionId! : world.ids.channelId!);

const badId = fc.oneof(
  junkText,
  fc.constantFrom<unknown>("", null, 1, -1, true, [], {}, ["ses_x"], { id: "x" }, "x".repeat(101), "x".repeat(10_000), "ses_does_not_exist", "ch_does_not_exist"),
  ...(enabled("nul") ? [fc.constantFrom(NUL, `ses_${NUL}`, `ch_${NUL}`, `@real${NUL}`)] : []),
);
const badSince = fc.oneof(
  fc.constantFrom<unknown>(-1, 1.5, -0.5, "abc", "-1", "1.5", "1e3", "", null, true, [], {}, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, "9999999999999999"),
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  ...(enabled("int32") ? [fc.constantFrom<unknown>(INT32_MAX + 1, 2 ** 32, String(INT32_MAX + 1), 999_999_999_999_999, "999999999999999")] : []),
  ...(enabled("deep") ? [fc.constant(nested(3000))] : []),
);

interface Emission {
  who: Who;
  event: string;
  /** Arguments before the ack. */
  args: unknown[];
  ack: "last" | "none";
  /** Why a watch must be refused; empty for events that may answer ok. */
  faults: string[];
}

const show = (e: Emission) =>
  `${e.who}: emit(${JSON.stringify(e.event)}, ${e.args.map((a) => brief(JSON.stringify(a) ?? "undefined", 120)).join(", ")}${e.ack === "last" ? ", ack" : ""}) (bad: ${e.faults.join(", ") || "-"})`;

/** A payload for a known event with at least one thing wrong in it. */
function payloadFor(event: EventName): fc.Arbitrary<{ payload: unknown; faults: string[] }> {
  const field = idField(event);
  const watch = event.endsWith(":watch");
  const id = fc.oneof(fc.constant("@real"), badId);
  const arbs: Array<fc.Arbitrary<{ payload: unknown; faults: string[] }>> = [
    fc.constantFrom<unknown>(undefined, null, 0, 42, "ses_x", "", true, [], [{}], () => 1).map((p) => ({ payload: p, faults: ["payload is not an object"] })),
    badId.map((bad) => ({ payload: { [field]: bad }, faults: [`${field} ${brief(String(JSON.stringify(bad)), 40)}`] })),
    fc.record({ since: badSince, id }).map(({ since, id }) => ({ payload: { [field]: id, since }, faults: [`since ${brief(String(JSON.stringify(since)), 40)}`] })),
    fc.tuple(id, fc.constantFrom("sessionId", "channelId", "SessionId", "id", "__proto__")).map(([v, k]) => ({ payload: k === field ? {} : { [k]: v }, faults: [`no ${field}`] })),
  ];
  if (enabled("proto")) arbs.push(fc.constant({ payload: withProto({ [field]: "@real" }, { since: -1 }), faults: ["__proto__ key"] }));
  if (enabled("deep")) arbs.push(fc.constant({ payload: { [field]: nested(3000) }, faults: [`${field} nested 3,000 deep`] }));
  // Unwatching anything is fine; extra keys are ignored: both may answer ok.
  if (!watch) arbs.push(fc.tuple(id, junkText).map(([v, k]) => ({ payload: { [field]: v, [k]: 1 }, faults: [] })));
  return fc.oneof(...arbs);
}

const bind = (v: unknown, e: EventName): unknown => {
  if (v === "@real") return realId(e);
  if (typeof v === "string" && v.startsWith("@real")) return realId(e) + v.slice(5);
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: bind((v as Record<string, unknown>)[k], e), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
};

const emission: fc.Arbitrary<Emission> = fc
  .oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...VALID), fc.constantFrom(...EVENTS))
        .chain(([who, event]) =>
          fc.record({
            who: fc.constant(who),
            event: fc.constant<string>(event),
            p: payloadFor(event),
            shape: fc.constantFrom("payload+ack", "payload+ack", "payload+ack", "payload, no ack", ...(enabled("ackshape") ? ["no payload, ack", "two payloads + ack"] : [])),
          }),
        )
        .map(({ who, event, p, shape }): Emission => {
          const payload = bind(p.payload, event as EventName);
          const watch = event.endsWith(":watch");
          if (shape === "payload, no ack") return { who, event, args: [payload], ack: "none", faults: p.faults };
          if (shape === "no payload, ack") return { who, event, args: [], ack: "last", faults: ["no payload"] };
          if (shape === "two payloads + ack") return { who, event, args: [payload, { extra: 1 }], ack: "last", faults: watch ? [...p.faults, "extra argument"] : p.faults };
          return { who, event, args: [payload], ack: "last", faults: watch ? p.faults : p.faults };
        }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        who: fc.constantFrom(...VALID),
        event: fc.oneof(
          fc.constantFrom("foo", "session:watch ", "SESSION:WATCH", "session", "channel:publish", "agent:serve", "agent:event", "turn:request", "hub:closing", "channel:message", "session:message", "__proto__", "constructor", "toString", "x".repeat(5000)),
          junkText,
        ),
        args: fc.array(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)), { maxLength: 3 }),
        ack: fc.constantFrom<"last" | "none">("last", "none"),
        faults: fc.constant<string[]>(["unknown event"]),
      }),
    },
  )
  .map((e) => printable(e, show));

// ---- the property ----------------------------------------------------------------------------

const ACK_WAIT_MS = 3000;

function emit(socket: Socket, e: Emission, waitMs = ACK_WAIT_MS): Promise<unknown> {
  // The hub ignores events it does not know, acks included: send one, wait for nothing.
  const known = (EVENTS as readonly string[]).includes(e.event);
  if (e.ack === "none" || !known) {
    if (e.ack === "last") {
      socket.emit(e.event, ...e.args, () => {});
      return Promise.resolve(NO_ACK);
    }
    socket.emit(e.event, ...e.args);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(NO_ACK), waitMs);
    socket.emit(e.event, ...e.args, (res: unknown) => (clearTimeout(timer), resolve(res)));
  });
}
const NO_ACK = Symbol("no ack");

function ackViolations(e: Emission, ack: unknown, waitedMs = ACK_WAIT_MS): string[] {
  const known = (EVENTS as readonly string[]).includes(e.event);
  if (!known || e.ack === "none") return [];
  if (ack === NO_ACK) return [`no ack within ${waitedMs} ms`];
  const a = ack as { ok?: unknown; error?: Record<string, unknown> };
  if (a?.ok === true) return e.faults.length && e.event.endsWith(":watch") ? [`acked ok though the payload is bad: ${brief(JSON.stringify(ack), 200)}`] : [];
  if (a?.ok !== false || !a.error) return [`ack is neither {ok: true} nor {ok: false, error}: ${brief(JSON.stringify(ack) ?? "undefined", 200)}`];
  const err = a.error;
  const out: string[] = [];
  if (typeof err.status !== "number" || err.status < 400 || err.status >= 500) out.push(`ack error status ${err.status} (must be 4xx): ${brief(JSON.stringify(err), 200)}`);
  if (typeof err.type !== "string" || !err.type.startsWith("urn:agenthub:problem:")) out.push(`ack error type ${JSON.stringify(err.type)}`);
  if (typeof err.title !== "string" || typeof err.detail !== "string") out.push("ack error lacks title/detail");
  return out;
}

/** After an emission: the socket answers a harmless event, or was closed with a reason. */
async function usableOrClosed(socket: Socket): Promise<string[]> {
  if (socket.connected) {
    const probe = await emit(socket, { who: "master key", event: "session:unwatch", args: [{ sessionId: "ses_probe" }], ack: "last", faults: [] });
    if (socket.connected && (probe as { ok?: boolean })?.ok !== true) return [`the socket no longer answers: probe got ${brief(String(JSON.stringify(probe) ?? String(probe)), 200)}`];
    if (socket.connected) return [];
  }
  const reasons = (socket as any).closing as string[];
  return reasons?.length ? [] : [`the socket was closed without a hub:closing reason (disconnect: ${(socket as any).__lastDisconnect ?? "?"})`];
}

describe("fuzz: socket events with generated bad payloads", () => {
  it("known and unknown client events: 4xx acks, usable sockets, a live hub, no state change", async () => {
    const stats = new AnswerStats("socket events");
    await fc.assert(
      fc.asyncProperty(emission, async (e) => {
        const socket = await socketOf(e.who);
        const before = await snapshot(hub.db);
        const ack = await emit(socket, e);
        const a = ack as { ok?: boolean; error?: { status?: number; type?: string } } | undefined;
        stats.see(`${e.event.slice(0, 20)} ${ack === NO_ACK ? "no ack" : a?.ok ? "ok" : `${a?.error?.status} ${a?.error?.type?.replace("urn:agenthub:problem:", "")}`}${socket.connected ? "" : " (closed)"}`);
        const wrong = [...ackViolations(e, ack), ...(await usableOrClosed(socket))];
        const health = await send(hub.url, { method: "GET", path: "/healthz", headers: {}, faults: [] }).catch((err: Error) => ({ status: 0, text: err.message }));
        if (health.status !== 200) wrong.push(`the hub stopped answering: /healthz ${health.status} ${health.text}`);
        wrong.push(...stateChanges(before, await snapshot(hub.db)));
        if (wrong.length) throw new Error(`${show(e)}\n  ack: ${ack === NO_ACK ? "none" : brief(String(JSON.stringify(ack)), 300)}\n  ${wrong.join("\n  ")}`);
      }),
      fuzzParams(150),
    );
    stats.print();
  }, 60_000);

  it.skipIf(!enabled("ackshape"))("each event sent with no payload, or an extra argument, before its ack is still acked with a 4xx problem", async () => {
    const failures: string[] = [];
    for (const who of ["master key", "agent key (all scopes)"] as const) {
      for (const event of EVENTS) {
        const cases: Array<[unknown[], string[]]> = [
          [[], ["no payload"]],
          [[undefined, undefined], ["no payload, an extra argument"]],
          // A valid payload and an extra argument: either answer will do, but there must be one.
          [[{ [idField(event)]: realId(event) }, { extra: 1 }], []],
        ];
        for (const [args, faults] of cases) {
          const e: Emission = { who, event, args, ack: "last", faults };
          const socket = await socketOf(who);
          const ack = await emit(socket, e, 500);
          const wrong = [...ackViolations(e, ack, 500), ...(await usableOrClosed(socket))];
          if (wrong.length) failures.push(`${show(e)}: ${wrong.join("; ")}`);
        }
      }
    }
    if (failures.length) throw new Error(`${failures.length} failing emission(s):\n${failures.join("\n")}`);
  }, 60_000);

  it("handshakes with bad credentials are refused as unauthorized, and change nothing", async () => {
    const bad = world.credentials.filter((c) => !c.valid).map((c) => ({ name: c.name, token: c.token }));
    const odd = [1, 0, true, {}, [], ["g_master_x"], { token: "x" }, null, ...(enabled("nul") ? [NUL, `g_agent_${NUL}`, `a.b.${NUL}`] : []), "x".repeat(30_000)].map((t) => ({
      name: `token ${brief(JSON.stringify(t), 40)}`,
      token: t as unknown,
    }));
    const arb = fc.record({
      cred: fc.constantFrom(...bad, ...odd),
      since: fc.option(fc.constantFrom<unknown>({ channels: { x: -1 } }, { sessions: { [`ses_${NUL}`]: INT32_MAX + 1 } }, "x", [1], null, nested(3000)), { nil: undefined }),
    }).map((c) => printable(c, (v) => `${v.cred.name}${v.since === undefined ? "" : ` + since ${brief(JSON.stringify(v.since), 60)}`}`));
    await fc.assert(
      fc.asyncProperty(arb, async ({ cred, since }) => {
        const before = await snapshot(hub.db);
        const outcome = await open(cred.token, since === undefined ? {} : { since }).then(
          (s) => (s.close(), "connected"),
          (err: Error) => err.message,
        );
        const wrong: string[] = [];
        if (outcome !== "unauthorized") wrong.push(`handshake ended with ${JSON.stringify(outcome)}, not "unauthorized"`);
        wrong.push(...stateChanges(before, await snapshot(hub.db)));
        if (wrong.length) throw new Error(`${cred.name}: ${wrong.join("; ")}`);
      }),
      fuzzParams(60),
    );
  }, 60_000);

  it("valid credentials with a junk `since` in the handshake still connect (or are refused with a reason), and the socket works", async () => {
    const arb = fc.record({
      who: fc.constantFrom(...VALID),
      since: fc.oneof(
        fc.constantFrom<unknown>("x", 1, [1], null, true, { channels: "x" }, { sessions: [1] }, { channels: { [world?.ids.channelId ?? "ch"]: -1 } }),
        fc.record({ channels: fc.dictionary(junkText, badSince, { maxKeys: 2 }), sessions: fc.dictionary(junkText, badSince, { maxKeys: 2 }) }),
        ...(enabled("int32") ? [fc.constant("@int32")] : []),
      ),
    }).map((c) => printable(c, (v) => `${v.who} + since ${brief(JSON.stringify(v.since), 80)}`));
    await fc.assert(
      fc.asyncProperty(arb, async ({ who, since }) => {
        const s = since === "@int32" ? { channels: { [world.ids.channelId!]: INT32_MAX + 1 }, sessions: { [world.ids.sessionId!]: INT32_MAX + 1 } } : since;
        const token = world.credentials.find((c) => c.name === who)!.token;
        const before = await snapshot(hub.db);
        const wrong: string[] = [];
        const socket = await open(token, { since: s }).catch((err: Error) => err);
        if (socket instanceof Error) {
          if (/internal/i.test(socket.message) || !socket.message) wrong.push(`handshake refused with ${JSON.stringify(socket.message)}`);
        } else {
          const probe = await emit(socket, { who, event: "session:unwatch", args: [{ sessionId: "ses_probe" }], ack: "last", faults: [] });
          if ((probe as { ok?: boolean })?.ok !== true) wrong.push(`socket does not answer: ${String(JSON.stringify(probe))}`);
          socket.close();
        }
        wrong.push(...stateChanges(before, await snapshot(hub.db)));
        if (wrong.length) throw new Error(`${who} since=${brief(JSON.stringify(s), 120)}: ${wrong.join("; ")}`);
      }),
      fuzzParams(40),
    );
  }, 60_000);
});
