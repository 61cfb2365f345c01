/** Time helpers: every time leaves the service as an ISO 8601 UTC string. */
export function toIso(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) throw new Error("toIso: missing time");
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export function toIsoOrNull(value: Date | string | null | undefined): string | null {
  return value === null || value === undefined ? null : toIso(value);
}

/** A clock that tests can move. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
