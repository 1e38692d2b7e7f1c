import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../core/logger.js';
import { AppError } from '../errors.js';
import type { AppState } from '../context.js';

const acceptableRequestId = /^[\w.:-]{1,128}$/;

type HttpError = Error & { status?: number; statusCode?: number; expose?: boolean; type?: string };

/** Maps errors thrown by Koa's own parts (body parsing, `ctx.throw`) onto the registry. */
function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) {
    return error;
  }

  const status = (error as HttpError)?.status ?? (error as HttpError)?.statusCode;
  switch (status) {
    case 400:
      return new AppError('invalid_json');
    case 413:
      return new AppError('payload_too_large');
    case 415:
      return new AppError('unsupported_media_type');
    case 404:
      return new AppError('not_found');
    default:
      return undefined;
  }
}

/**
 * Gives each request an id and a child logger, logs its outcome, and turns every error into a
 * registered answer. Unknown errors become a generic 500; their details go to the log only.
 */
export function requestContext(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = acceptableRequestId.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);

    const started = performance.now();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('not_found');
      }
    } catch (error) {
      const known = toAppError(error);
      const appError = known ?? new AppError('internal_error');
      if (!known) {
        ctx.state.log.error({ err: error }, 'request failed');
      }

      ctx.status = appError.status;
      ctx.set(appError.headers);
      ctx.body = ctx.state.contractErrors
        ? { error: appError.message }
        : { error: appError.message, code: appError.code };
    }

    // The matched route, never the raw URL: webhook paths carry the integration's token.
    const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    const fields = {
      method: ctx.method,
      route,
      status: ctx.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    };
    if (ctx.status >= 500) {
      ctx.state.log.error(fields, 'request completed');
    } else if (ctx.status >= 400) {
      ctx.state.log.info(fields, 'request completed');
    } else {
      ctx.state.log.debug(fields, 'request completed');
    }
  };
}

