/**
 * Every error the API can answer with: a stable code, its HTTP status and the message clients see.
 * Clients may match on `code`; messages may be reworded.
 */
export const errorRegistry = {
  unauthorized: { status: 401, message: 'Unauthorized' },
  forbidden: { status: 403, message: 'Forbidden' },
  invalid_payload: { status: 400, message: 'Invalid payload' },
  invalid_json: { status: 400, message: 'Body is not valid JSON' },
  invalid_request: { status: 400, message: 'Invalid request' },
  not_found: { status: 404, message: 'Not found' },
  conflict: { status: 409, message: 'Conflict' },
  payload_too_large: { status: 413, message: 'Payload too large' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json' },
  rate_limited: { status: 429, message: 'Too many requests' },
  /** A webhook endpoint URL the address policy refuses: not http(s), or a private address. */
  url_refused: { status: 400, message: 'URL refused' },
  /** A delivery retry for an endpoint that is disabled; enable it first. */
  endpoint_disabled: { status: 409, message: 'Webhook endpoint is disabled' },
  internal_error: { status: 500, message: 'Internal server error' },
  not_ready: { status: 503, message: 'Service not ready' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorRegistry;

/** An error with a registered code; its message is safe to show to the client. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message?: string, headers: Record<string, string> = {}) {
    super(message ?? errorRegistry[code].message);
    this.code = code;
    this.status = errorRegistry[code].status;
    this.headers = headers;
  }
}
