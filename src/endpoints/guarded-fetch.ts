/**
 * The one `fetch` every protocol library the hub drives as a client is given (A2A, MCP, models):
 * the same guard as agent servers (address-guard.ts) on every request, whatever URL the library
 * builds (a card's `url`, a redirect, an MCP session's endpoint):
 * - the URL is checked before the call (scheme, credentials, literal and metadata hosts), and
 *   names are resolved once and checked at connect time (DNS rebinding);
 * - redirects are not followed (a 3xx is an error naming where it pointed);
 * - connect, first byte and silence between chunks are timed out, and the caller's signal aborts;
 * - a response body is cut at `maxBytes` (the read fails with OutboundError).
 * Requests are not retried here: the libraries' own retries happen before a first byte at most.
 */
import { Agent, fetch as undiciFetch } from "undici";
import { checkAgentUrl, guardedLookup, type AgentUrlPolicy, type Resolver } from "./address-guard.js";

export interface OutboundOptions extends AgentUrlPolicy {
  connectMs: number;
  /** The answer's headers must arrive within this. */
  firstByteMs: number;
  /** The longest silence while a body streams. */
  idleMs: number;
  /** The most bytes one response body may have. */
  maxBytes: number;
  /** For tests: resolves names (the system's DNS otherwise). */
  resolve?: Resolver;
}

/** A refused or failed outbound call, with a reason fit to show a turn's watchers. */
export class OutboundError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "OutboundError";
  }
}

export type Fetch = typeof globalThis.fetch;

/** A `fetch` bound to the guard and limits; one connection pool per options object. */
export function guardedFetch(options: OutboundOptions): Fetch {
  const dispatcher = new Agent({
    connect: { timeout: options.connectMs, lookup: guardedLookup(options.allowPrivate, options.resolve) as never },
    headersTimeout: options.firstByteMs,
    bodyTimeout: options.idleMs,
  });
  const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const refusal = checkAgentUrl(url, options);
    if (refusal) throw new OutboundError(`refused ${new URL(url).host || url}: ${refusal}`);
    const request = input instanceof Request ? input : undefined;
    let res: Response;
    try {
      res = (await undiciFetch(url, {
        method: init?.method ?? request?.method,
        headers: init?.headers ?? request?.headers,
        body: (init?.body ?? request?.body) as never,
        signal: init?.signal ?? request?.signal,
        redirect: "manual",
        dispatcher,
        ...(init?.body instanceof ReadableStream || request?.body ? { duplex: "half" } : {}),
      } as never)) as unknown as Response;
    } catch (err) {
      throw outboundFailure(err, url);
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      await res.body?.cancel().catch(() => {});
      throw new OutboundError(`${new URL(url).host} answered a redirect (${res.status} to ${res.headers.get("location")}), which the hub does not follow`);
    }
    return bounded(res, options.maxBytes, new URL(url).host);
  };
  return guarded as Fetch;
}

/** The response with its body cut at `maxBytes`. */
function bounded(res: Response, maxBytes: number, host: string): Response {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    void res.body?.cancel().catch(() => {});
    throw new OutboundError(`${host} answered ${declared} bytes, more than the ${maxBytes} allowed`);
  }
  if (!res.body) return res;
  let seen = 0;
  const counted = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(new OutboundError(`${host}'s answer passed the ${maxBytes} bytes allowed`));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function outboundFailure(err: unknown, url: string): Error {
  if (err instanceof Error && err.name === "AbortError") return err;
  const cause = (err as { cause?: Error & { code?: string } })?.cause;
  const host = new URL(url).host;
  if (cause?.name === "RefusedAddressError") return new OutboundError(`refused ${host}: ${cause.message}`);
  if (cause?.code === "UND_ERR_CONNECT_TIMEOUT") return new OutboundError(`${host} did not accept a connection in time`);
  if (cause?.code === "UND_ERR_HEADERS_TIMEOUT") return new OutboundError(`${host} did not start answering in time`);
  if (cause?.code === "ECONNREFUSED") return new OutboundError(`${host} refused the connection`);
  if (cause?.code === "ENOTFOUND") return new OutboundError(`${host} could not be resolved`);
  return new OutboundError(`${host} could not be reached${cause?.code ? ` (${cause.code})` : ""}`);
}
