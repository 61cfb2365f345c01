import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { ConfigError, loadConfig, settingsTable, type Config } from "../../src/config.js";

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.join("\n");
  }
  return expect.unreachable();
}

describe("configuration", () => {
  it("has working defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, databaseUrl: undefined, redisUrl: undefined, logLevel: "info", bodyLimit: 1024 * 1024 });
    expect(c).toMatchObject({ rateLimitPer10s: 6000, shutdownTimeoutMs: 10_000, redisPrefix: "agenthub", banner: true });
    expect(c.socket).toEqual({
      maxPayload: 64 * 1024,
      eventsPer10s: 100,
      agentEventsPer10s: 20_000,
      maxBuffered: 8 * 1024 * 1024,
      maxStreams: 1000,
      perCredential: 1000,
      recheckMs: 30_000,
      handshakesPer10sPerIp: 1000,
      failedAuthPer10sPerIp: 100,
    });
    expect(c).toMatchObject({ publicPer10sPerIp: 600, trustProxy: false, trustedProxyHops: 1 });
    expect(c.dataDir).toBe(path.resolve("data"));
    expect(Object.isFrozen(c) && Object.isFrozen(c.jwt) && Object.isFrozen(c.socket)).toBe(true);
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

  it("names an out-of-range number with its range", () => {
    expect(problems({ SOCKET_EVENTS_PER_10S: "0", DATABASE_POOL_MAX: "500" })).toBe(
      "DATABASE_POOL_MAX must be a whole number from 2 to 200\nSOCKET_EVENTS_PER_10S must be a whole number from 1 to 100000",
    );
  });

  it("reads sizes with units", () => {
    expect(loadConfig({ BODY_LIMIT: "512kb" }).bodyLimit).toBe(512 * 1024);
    expect(loadConfig({ SOCKET_MAX_BUFFERED: "2mb" }).socket.maxBuffered).toBe(2 * 1024 * 1024);
  });

  it("tidies values and treats blank as unset", () => {
    const c = loadConfig({ PUBLIC_URL: "https://hub.example//", JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nabc", PORT: " ", HOST: " ::1 " });
    expect(c).toMatchObject({ publicUrl: "https://hub.example", port: 3000, host: "::1" });
    expect(c.jwt.publicKey).toBe("-----BEGIN PUBLIC KEY-----\nabc");
  });

  it("refuses what production must not run with, naming the fix", () => {
    expect(problems({ NODE_ENV: "production" })).toContain("JWT_SECRET (or JWT_JWKS_URL / JWT_PUBLIC_KEY) must be set when NODE_ENV=production");
    expect(problems({ NODE_ENV: "production", JWT_JWKS_URL: "http://idp.example/jwks" })).toContain("JWT_JWKS_URL must be https:");
    expect(loadConfig({ NODE_ENV: "production", JWT_JWKS_URL: "https://idp.example/jwks" }).production).toBe(true);
    expect(loadConfig({ JWT_JWKS_URL: "http://idp.example/jwks" }).production).toBe(false);
  });

  it("refuses a JWT_SECRET shorter than 32 characters, naming the setting", () => {
    expect(problems({ JWT_SECRET: "x".repeat(31) })).toBe(
      "JWT_SECRET must be at least 32 characters (random ones): a shorter HS256 secret is easier to forge tokens with",
    );
    expect(loadConfig({ JWT_SECRET: "x".repeat(32) }).jwt.secret).toBe("x".repeat(32));
  });

  it("reads the banner setting", () => {
    expect(loadConfig({ AGENTHUB_BANNER: "0" }).banner).toBe(false);
    expect(loadConfig({ AGENTHUB_BANNER: "1" }).banner).toBe(true);
    expect(problems({ AGENTHUB_BANNER: "maybe" })).toContain("AGENTHUB_BANNER");
  });

  it("reads the knowledge text-search configuration, refusing one no Postgres ships unless schema-qualified", () => {
    expect(loadConfig({}).knowledgeTsConfig).toBe("english");
    expect(loadConfig({ KNOWLEDGE_TS_CONFIG: "Simple" }).knowledgeTsConfig).toBe("simple");
    expect(loadConfig({ KNOWLEDGE_TS_CONFIG: "public.my_docs" }).knowledgeTsConfig).toBe("public.my_docs");
    expect(problems({ KNOWLEDGE_TS_CONFIG: "englsh" })).toMatch(/^KNOWLEDGE_TS_CONFIG must be one of simple, .*english.*schema\.name$/);
    expect(problems({ KNOWLEDGE_TS_CONFIG: "english; drop table x" })).toContain("KNOWLEDGE_TS_CONFIG");
  });

  it("reads a Redis Cluster's nodes, and refuses it beside REDIS_URL", () => {
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002" }).redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: "10.0.0.1" })).toContain("REDIS_CLUSTER_NODES must be a comma-separated list of host:port");
    expect(problems({ REDIS_CLUSTER_NODES: "a:1", REDIS_URL: "redis://b:6379" })).toContain("REDIS_URL and REDIS_CLUSTER_NODES are both set");
  });

  it("keeps the shape the rest of the hub uses", () => {
    expectTypeOf<Omit<Config, "banner">>().toEqualTypeOf<{
      readonly port: number;
      readonly host: string;
      readonly publicUrl: string | undefined;
      readonly databaseUrl: string | undefined;
      readonly databasePoolMax: number;
      readonly redisUrl: string | undefined;
      readonly redisClusterNodes: { host: string; port: number }[] | undefined;
      readonly redisPrefix: string;
      readonly jwt: {
        readonly secret: string | undefined;
        readonly jwksUrl: string | undefined;
        readonly publicKey: string | undefined;
        readonly issuer: string | undefined;
        readonly audience: string | undefined;
        readonly adminClaim: string;
        readonly adminValue: string;
        readonly maxAgeSeconds: number;
      };
      readonly production: boolean;
      readonly dataDir: string;
      readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
      readonly bodyLimit: number;
      readonly messageMaxBytes: number;
      readonly socket: {
        readonly maxPayload: number;
        readonly eventsPer10s: number;
        readonly agentEventsPer10s: number;
        readonly maxBuffered: number;
        readonly maxStreams: number;
        readonly perCredential: number;
        readonly recheckMs: number;
        readonly handshakesPer10sPerIp: number;
        readonly failedAuthPer10sPerIp: number;
      };
      readonly keyCacheMs: number;
      readonly rateLimitPer10s: number;
      readonly publicPer10sPerIp: number;
      readonly trustProxy: boolean;
      readonly trustedProxyHops: number;
      readonly agents: {
        readonly allowPrivate: boolean;
        readonly allowHttp: boolean;
        readonly connectTimeoutMs: number;
        readonly firstByteTimeoutMs: number;
        readonly idleTimeoutMs: number;
        readonly turnTimeoutMs: number;
        readonly leaseMs: number;
        readonly maxPerAsk: number;
      };
      readonly knowledgeTsConfig: string;
      readonly shutdownTimeoutMs: number;
      readonly shutdownDelayMs: number;
      readonly secrets: { readonly key: string | undefined; readonly previous: string[] };
      readonly metricsToken: string | undefined;
    }>();
    expectTypeOf<Config["banner"]>().toEqualTypeOf<boolean>();
  });

  it("is documented in README.md exactly as the settings table renders it", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? "";
    const table = /^\|.*\|$(\n^\|.*\|$)*/m.exec(section)?.[0];
    expect(table, "README.md: paste the output of settingsTable() from src/config.ts").toBe(settingsTable());
  });
});
