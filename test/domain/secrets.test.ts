/** Sealed secrets (auth/secrets.ts): they open only under their key, reveal tampering, and survive a rotation. */
import { describe, expect, it } from "vitest";
import { SecretBox, SecretUnreadable } from "../../src/auth/secrets.js";

const OLD = "old-key-old-key-old-key-old-key-old-key";
const NEW = "new-key-new-key-new-key-new-key-new-key";

describe("SecretBox", () => {
  it("seals to a value that names its key and opens to the same text, never the same ciphertext twice", () => {
    const box = new SecretBox(NEW);
    const a = box.seal("sk-123");
    expect(a).toMatch(/^v1\.[\w-]{8}\./);
    expect(a).not.toContain("sk-123");
    expect(box.seal("sk-123")).not.toBe(a);
    expect(box.open(a)).toBe("sk-123");
    expect(box.openJson(box.sealJson({ Authorization: "Bearer x" }))).toEqual({ Authorization: "Bearer x" });
  });

  it("refuses tampered, truncated and foreign values", () => {
    const box = new SecretBox(NEW);
    const sealed = box.seal("sk-123");
    const parts = sealed.split(".");
    const flipped = Buffer.from(parts[3]!, "base64url");
    flipped[0]! ^= 1;
    expect(() => box.open([...parts.slice(0, 3), flipped.toString("base64url")].join("."))).toThrow(SecretUnreadable);
    expect(() => box.open(parts.slice(0, 3).join(".") + ".AA")).toThrow(/truncated/);
    expect(() => box.open("plain text")).toThrow(/not a sealed value/);
    expect(() => new SecretBox(OLD).open(sealed)).toThrow(/neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS/);
  });

  it("opens values sealed under a previous key, and says which are stale", () => {
    const before = new SecretBox(OLD).seal("sk-old");
    const after = new SecretBox(NEW, [OLD]);
    expect(after.open(before)).toBe("sk-old");
    expect(after.isStale(before)).toBe(true);
    expect(after.isStale(after.seal("sk-new"))).toBe(false);
  });
});
