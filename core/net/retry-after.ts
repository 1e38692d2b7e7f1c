/**
 * Parses an HTTP `Retry-After` header (RFC 9110 §10.2.3) into milliseconds from `now`: either a
 * whole number of seconds or an HTTP-date. Returns undefined when the header is absent or unusable;
 * a date in the past gives 0.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) {
    return undefined;
  }
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }

  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) {
    return undefined;
  }

  return Math.max(0, date - now);
}
