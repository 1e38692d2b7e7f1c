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
