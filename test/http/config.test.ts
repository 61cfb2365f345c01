import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("configuration", () => {
  it("has working defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, databaseUrl: undefined, redisUrl: undefined, logLevel: "info", bodyLimit: 1024 * 1024 });
  });

  it("names every bad value", () => {
    try {
      loadConfig({ PORT: "abc", DATABASE_URL: "mysql://x", JWT_PUBLIC_KEY: "not a pem", LOG_LEVEL: "loud", BODY_LIMIT: "lots" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as Error).message;
      for (const name of ["PORT", "DATABASE_URL", "JWT_PUBLIC_KEY", "LOG_LEVEL", "BODY_LIMIT"]) expect(text).toContain(name);
    }
  });

  it("reads sizes with units", () => {
    expect(loadConfig({ BODY_LIMIT: "512kb" }).bodyLimit).toBe(512 * 1024);
  });
});
