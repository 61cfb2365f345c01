/**
 * A tiny HTTP client for tests: `api(url).as(credential).post(path, body)`. Every answer is
 * checked against the hub's OpenAPI document (openapi-check.ts): one that does not match it
 * throws, failing the test that received it.
 */
import { answerProblem } from "./openapi-check.js";

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface Api {
  as(credential: string | undefined): Api;
  get<T = any>(path: string): Promise<Res<T>>;
  delete<T = any>(path: string): Promise<Res<T>>;
  post<T = any>(path: string, body?: unknown): Promise<Res<T>>;
  put<T = any>(path: string, body?: unknown): Promise<Res<T>>;
  patch<T = any>(path: string, body?: unknown): Promise<Res<T>>;
  raw(path: string, init: RequestInit): Promise<Res>;
}

export function api(baseUrl: string, credential?: string): Api {
  const raw = async (path: string, init: RequestInit): Promise<Res> => {
    const headers = new Headers(init.headers);
    if (credential && !headers.has("authorization")) headers.set("authorization", `Bearer ${credential}`);
    const res = await fetch(baseUrl + path, { ...init, headers });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const mismatch = answerProblem(init.method ?? "GET", res.url || baseUrl + path, res.status, res.headers.get("content-type"), body);
    if (mismatch) throw new Error(`The answer does not match the OpenAPI document: ${mismatch}`);
    return { status: res.status, body, headers: res.headers, text };
  };
  const send = (method: string) => (path: string, body?: unknown) =>
    raw(path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
  return {
    as: (c) => api(baseUrl, c),
    get: (p) => raw(p, { method: "GET" }),
    delete: (p) => raw(p, { method: "DELETE" }),
    post: send("POST"),
    put: send("PUT"),
    patch: send("PATCH"),
    raw,
  };
}
