import { parseRetryAfter } from './net/retry-after.js';

/**
 * A failure of a service outside our control (a recording host, AssemblyAI): whether trying again
 * may help, the HTTP status if there was one, and how long the service asked us to wait.
 */
export class ExternalServiceError<Kind extends string> extends Error {
  readonly kind: Kind;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: Kind,
    message: string,
    details: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.retryable = details.retryable;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * What an HTTP error status says about retrying: 5xx, 408 and 429 may pass, with the wait the
 * service asked for in `Retry-After` when it gave a usable one; other statuses will not.
 */
export function httpFailureDetails(
  status: number,
  retryAfter: string | null | undefined,
): { retryable: boolean; status: number; retryAfterMs: number | undefined } {
  const retryable = status >= 500 || status === 408 || status === 429;

  return { retryable, status, retryAfterMs: retryable ? parseRetryAfter(retryAfter) : undefined };
}
