import { execFile } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Logger } from '../core/logger.js';
import { installTemporalRuntime } from '../worker/runtime-logger.js';
import { callSearchAttributeKeys } from '../workflows/search-attributes.js';

const execFileAsync = promisify(execFile);

/** The Temporal CLI release built when no binary is found: the newest that `go install` builds. */
export const temporalCliVersion = 'v1.5.1';

/** Where a built Temporal CLI is kept between runs, outside any checkout. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv): string {
  const cacheRoot = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');

  return path.join(cacheRoot, 'closermode', `temporal-${temporalCliVersion}`);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);

    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) {
      return candidate;
    }
  }

  return undefined;
}

/**
 * Finds the `temporal` binary: `TEMPORAL_CLI_PATH`, then `PATH`, then the cache folder, and else
 * builds it into the cache with `go install` when Go is present. Undefined means none could be had
 * here; the caller then lets `@temporalio/testing` download one (machines that are online).
 */
export async function findTemporalCli(options: {
  explicitPath?: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<string | undefined> {
  const { explicitPath, env, logger } = options;
  if (explicitPath) {
    if (!(await isExecutable(explicitPath))) {
      throw new Error(`TEMPORAL_CLI_PATH ${explicitPath} is not an executable file`);
    }

    return explicitPath;
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) {
    return onPath;
  }

  const cacheDir = temporalCliCacheDir(env);
  const cached = path.join(cacheDir, 'temporal');
  if (await isExecutable(cached)) {
    return cached;
  }

  const go = await findOnPath('go', env);
  if (!go) {
    return undefined;
  }

  logger.info({ cacheDir }, 'building the temporal cli with go install (first run only, a few minutes)');
  await mkdir(cacheDir, { recursive: true });
  await execFileAsync(go, ['install', `github.com/temporalio/cli/cmd/temporal@${temporalCliVersion}`], {
    env: { ...env, GOBIN: cacheDir },
    maxBuffer: 64 * 1024 * 1024,
  });

  return cached;
}

export type TemporalDevServer = {
  /** host:port of the frontend. */
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
};

/**
 * Starts `temporal server start-dev` with the call search attributes registered. With `dbFile`, its
 * state survives restarts; without it, it lives in memory.
 */
export async function startTemporalDevServer(options: {
  cliPath: string | undefined;
  port?: number;
  uiPort?: number;
  dbFile?: string;
  namespace: string;
  logger: Logger;
}): Promise<TemporalDevServer> {
  installTemporalRuntime(options.logger);
  if (options.dbFile) {
    await mkdir(path.dirname(options.dbFile), { recursive: true });
  }

  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: options.cliPath
        ? { type: 'existing-path', path: options.cliPath }
        : { type: 'cached-download' },
      ip: '127.0.0.1',
      namespace: options.namespace,
      searchAttributes: [...callSearchAttributeKeys],
      ...(options.port !== undefined && { port: options.port }),
      ...(options.uiPort !== undefined ? { ui: true, uiPort: options.uiPort } : { ui: false }),
      ...(options.dbFile && { dbFilename: options.dbFile }),
    },
  });

  return {
    address: env.address,
    uiUrl: options.uiPort !== undefined ? `http://localhost:${options.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
