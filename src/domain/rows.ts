/**
 * Row normalisation, in one place for every repository: int8 columns may come back as strings
 * (PGlite) or numbers (pg, with the parser set in db.ts), and JSON columns as text or values.
 */
export const int = (v: unknown): number => (typeof v === "number" ? v : Number(v));

export const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : int(v));

/** A JSON column's value, whether the driver parsed it or not. */
export function json<T>(v: unknown, fallback: T): T {
  if (v === null || v === undefined) return fallback;
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}
