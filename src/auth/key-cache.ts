/**
 * API keys as authentication last read them from Postgres, kept in the process for a short,
 * bounded time (KEY_CACHE_MS), so a request with a known key costs no round trip.
 *
 * Revocation still takes effect at once:
 * - every `key.revoked` event clears the key from the cache of every node: the node that
 *   committed it, synchronously after the commit (the event bus), and the others when the event
 *   transport (Redis) delivers it; a revocation (through the keys API, a master-key rotation or
 *   an agent's deletion) answers only once every other node has confirmed that it routed the
 *   event, i.e. forgot the key (`revoked`, `propagateWith`; transport.ts `settled`), or after
 *   a 2 s bound when a node does not answer;
 * - a node that missed that message (its Redis subscription was reconnecting) serves a revoked
 *   key from its cache for at most KEY_CACHE_MS after it last read the key; publishing to a
 *   channel checks the key in its own statement anyway (channels/repository.ts `append`);
 * - a key past its `expires_at` is never served from the cache (by this machine's clock, which
 *   should agree with Postgres': the expiry is set by Postgres' clock).
 * Only live keys are kept (unknown ones are always looked up), at most MAX_ENTRIES of them.
 */
import type { CredentialStore, StoredKey } from "./authenticate.js";

const MAX_ENTRIES = 10_000;

interface Entry {
  key: StoredKey;
  /** When it was read from Postgres (ms, the cache's clock). */
  readAt: number;
}

export class KeyCache {
  /** By `h:<hash>` (raw keys) and `i:<id>` (exchanged key tokens). */
  private readonly entries = new Map<string, Entry>();
  private propagate: () => Promise<void> = () => Promise.resolve();
  /** Counts revocations seen, so a read that overlapped one is not kept. */
  private generation = 0;

  constructor(
    /** How long a read stays good; 0 turns the cache off. */
    readonly maxAgeMs: number,
    /** The clock reads are aged by (tests move it); expiries are always checked against the real time, as Postgres sets them. */
    private readonly now: () => number = Date.now,
  ) {}

  /** The key, if it was read at most maxAgeMs ago and has not expired since. */
  get(lookup: string): StoredKey | undefined {
    const e = this.entries.get(lookup);
    if (!e) return undefined;
    if (this.now() - e.readAt >= this.maxAgeMs || (e.key.expiresAt && e.key.expiresAt.getTime() <= Date.now())) {
      this.entries.delete(lookup);
      return undefined;
    }
    return e.key;
  }

  set(lookup: string, key: StoredKey, readAt: number): void {
    if (this.maxAgeMs <= 0) return;
    this.entries.delete(lookup);
    // Insertion order: the first entry is the oldest read.
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(lookup, { key, readAt });
  }

  /** Drops a key (a revocation seen on this node). */
  forget(keyId: string): void {
    this.generation++;
    for (const [lookup, e] of this.entries) if (e.key.id === keyId) this.entries.delete(lookup);
  }

  /**
   * Keys revoked on this node (their `key.revoked` events are published): forgets them here and
   * resolves once the events have reached every node (when `propagateWith` was given a way to know).
   */
  async revoked(keyIds: string[]): Promise<void> {
    for (const id of keyIds) this.forget(id);
    if (keyIds.length) await this.propagate();
  }

  /** `settled` resolves once every revocation published so far has been routed by every node. */
  propagateWith(settled: () => Promise<void>): void {
    this.propagate = settled;
  }

  /** The store, reading live keys through this cache. */
  wrap(store: CredentialStore): CredentialStore {
    const through = async (lookup: string, read: () => Promise<StoredKey | undefined>) => {
      const hit = this.get(lookup);
      if (hit) return hit;
      const [readAt, generation] = [this.now(), this.generation];
      const key = await read();
      if (key && generation === this.generation) this.set(lookup, key, readAt);
      return key;
    };
    return {
      findLiveKey: (hash) => through(`h:${hash}`, () => store.findLiveKey(hash)),
      findLiveKeyById: (id) => through(`i:${id}`, () => store.findLiveKeyById(id)),
      provisionUser: (claims) => store.provisionUser(claims),
    };
  }
}
