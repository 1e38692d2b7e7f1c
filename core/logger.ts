import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that must never reach a log line even if a caller passes a whole object by mistake: keys,
 * tokens, transcripts and phone numbers.
 */
const redactedPaths = [
  'apiKey',
  'adminKey',
  'token',
  'secret',
  'password',
  'authorization',
  'transcript',
  'callerPhone',
  '*.apiKey',
  '*.adminKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.transcript',
  '*.callerPhone',
  'req.headers.authorization',
];

export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    level: options.level,
    name: options.name ?? 'closermode',
    redact: { paths: redactedPaths, censor: '[redacted]' },
  });
}
