import { pino, type DestinationStream, type Logger } from 'pino';

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

export function createLogger(options: {
  level: string;
  name?: string;
  /** Where lines go (default stdout); tests pass a stream to read them back. */
  destination?: DestinationStream;
}): Logger {
  const settings = {
    level: options.level,
    name: options.name ?? 'closermode',
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };

  return options.destination ? pino(settings, options.destination) : pino(settings);
}
