import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from '../core/logger.js';

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Sends the Temporal SDK's log lines (worker, workflow and activity loggers) to our pino logger. */
function pinoAdapter(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) =>
    logger[levels[level]]({ ...meta }, message);

  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

let installed = false;

/**
 * Installs the process-wide Temporal runtime with our logger. The SDK allows one runtime per process
 * and creates a default one on first use, so this runs before the first worker or native connection.
 */
export function installTemporalRuntime(logger: Logger): void {
  if (installed) {
    return;
  }

  Runtime.install({ logger: pinoAdapter(logger.child({ component: 'temporal' })) });
  installed = true;
}
