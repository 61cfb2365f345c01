/** Time helpers: every time leaves the service as an ISO 8601 UTC string. */
export function toIso(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) throw new Error("toIso: missing time");
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export function toIsoOrNull(value: Date | string | null | undefined): string | null {
  return value === null || value === undefined ? null : toIso(value);
}

/** Parses a `since` value: ISO 8601 or Unix milliseconds. Returns undefined when it is neither. */
export function parseSince(value: string): Date | undefined {
  const trimmed = value.trim();
  if (/^\d{1,15}$/.test(trimmed)) return new Date(Number(trimmed));
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const d = new Date(trimmed);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** A clock that tests can move. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
