/**
 * `npm test`: starts what the suite needs once (a Temporal dev server unless `TEMPORAL_ADDRESS` is
 * set, and one workflow bundle), then runs every `tests/**\/*.test.ts` file with Node's test runner.
 * PostgreSQL comes from `TEST_DATABASE_URL` (each test file gets a database of its own); without it
 * the suite runs on the embedded PGlite database.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTemporalCli, startTemporalDevServer } from '../../cli/temporal-dev-server.js';
import { createLogger } from '../../core/logger.js';
import { installTemporalRuntime } from '../../worker/runtime-logger.js';
import { bundleWorkflows } from '../../worker/worker.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const logger = createLogger({ level: 'info', name: 'test-harness' });

async function findTestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });

  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const allFiles = await findTestFiles(path.join(root, 'tests'));
  const files = filters.length > 0 ? allFiles.filter((file) => filters.some((f) => file.includes(f))) : allFiles;
  if (files.length === 0) {
    logger.error({ filters }, 'no test files match');

    return 1;
  }

  installTemporalRuntime(logger);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'closermode-tests-'));
  const temporalCli = await findTemporalCli({
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    env: process.env,
    logger,
  });
  const server = process.env.TEMPORAL_ADDRESS
    ? undefined
    : await startTemporalDevServer({ cliPath: temporalCli, namespace: 'default', logger });
  const temporalAddress = process.env.TEMPORAL_ADDRESS ?? server!.address;

  const bundlePath = path.join(scratch, 'workflow-bundle.js');
  await writeFile(bundlePath, (await bundleWorkflows()).code);

  logger.info(
    {
      files: files.length,
      temporalAddress,
      database: process.env.TEST_DATABASE_URL ? 'postgres (TEST_DATABASE_URL)' : 'embedded pglite',
    },
    'running tests',
  );

  const exitCode = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
      {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: temporalAddress,
          CLOSERMODE_TEST_WORKFLOW_BUNDLE: bundlePath,
          CLOSERMODE_TEST_SCRATCH: scratch,
          ...(temporalCli && { CLOSERMODE_TEST_TEMPORAL_CLI: temporalCli }),
        },
      },
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });

  await server?.stop();
  await rm(scratch, { recursive: true, force: true });

  return exitCode;
}

process.exitCode = await main();
