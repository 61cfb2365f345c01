/**
 * Write-only secrets at rest: a model agent's API key, an MCP server's headers. Sealed with
 * AES-256-GCM under a key from the environment (`SECRETS_KEY`), so a copy of the database alone
 * does not hand them out. Each sealed value names the key it was sealed with (`v1.<kid>.…`), so
 * keys can be rotated: set the new key as `SECRETS_KEY` and the old one in
 * `SECRETS_KEY_PREVIOUS` (comma-separated), and every process opens values sealed with either;
 * values are sealed anew with the current key whenever they are written, and `agenthub secrets
 * rotate` re-seals them all at once, after which the previous key can go.
 *
 * Without `SECRETS_KEY` (the embedded default, and a warning on other hubs) the key is one kept
 * in the database's settings: secrets are still never answered back, but a database dump holds
 * both the key and what it seals.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value that no key of this process opens, or that was tampered with. */
export class SecretUnreadable extends Error {
  constructor(reason: string) {
    super(`a stored secret could not be read: ${reason}`);
    this.name = "SecretUnreadable";
  }
}

interface Key {
  id: string;
  bytes: Buffer;
}

/** Any string of at least 32 characters becomes a 256-bit key (HKDF-SHA256), named by its hash. */
function keyFrom(material: string): Key {
  const bytes = Buffer.from(hkdfSync("sha256", Buffer.from(material, "utf8"), Buffer.alloc(0), "agenthub secrets v1", 32));
  return { id: createHash("sha256").update(bytes).digest("base64url").slice(0, 8), bytes };
}

export class SecretBox {
  private readonly current: Key;
  private readonly byId = new Map<string, Key>();

  /** `current` seals; it and `previous` open. */
  constructor(current: string, previous: readonly string[] = []) {
    this.current = keyFrom(current);
    for (const key of [this.current, ...previous.map(keyFrom)]) this.byId.set(key.id, key);
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current.bytes, iv);
    cipher.setAAD(Buffer.from(`${VERSION}.${this.current.id}`));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${this.current.id}.${iv.toString("base64url")}.${body.toString("base64url")}`;
  }

  open(sealed: string): string {
    const [version, kid, iv, body] = sealed.split(".");
    if (version !== VERSION || !kid || !iv || !body) throw new SecretUnreadable("not a sealed value");
    const key = this.byId.get(kid);
    if (!key) throw new SecretUnreadable(`sealed with key ${kid}, which is neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS`);
    const data = Buffer.from(body, "base64url");
    if (data.length < TAG_BYTES) throw new SecretUnreadable("truncated");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.bytes, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(`${VERSION}.${kid}`));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretUnreadable("it does not authenticate under its key");
    }
  }

  /** Whether `sealed` was sealed with a key other than the current one (rotate re-seals it). */
  isStale(sealed: string): boolean {
    return sealed.split(".")[1] !== this.current.id;
  }

  /** Seals a JSON value. */
  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: string): T {
    return JSON.parse(this.open(sealed)) as T;
  }
}
