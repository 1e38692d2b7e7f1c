import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseKind } from '../../db/database.js';
import { bootstrapDefaultWorkspace, createAdminKey } from '../../core/bootstrap.js';
import { loadConfig, type Config } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { findCallById } from '../../db/queries/calls.js';
import type { Call, CallStatus } from '../../db/schema.js';
import { startApiService, type ApiService } from '../../cli/api-service.js';
import { startWorkerService, type WorkerService } from '../../cli/worker-service.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export type IntegrationCredentials = {
  id: string;
  webhookUrl: string;
  apiKey: string;
  token: string;
};

export type TestStack = {
  config: Config;
  database: TestDatabase;
  api: ApiService;
  worker: WorkerService | undefined;
  baseUrl: string;
  adminKey: string;
  workspaceId: string;
  /** A management request with the workspace admin key. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  createIntegration(body?: Record<string, unknown>): Promise<IntegrationCredentials>;
  /** Posts a call record to an integration's webhook. */
  postCall(
    integration: IntegrationCredentials,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** Waits until the call reaches one of the statuses (default: a final one) and returns it. */
  waitForCall(callId: string, statuses?: CallStatus[], timeoutMs?: number): Promise<Call>;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
};

export type TestStackOptions = {
  databaseKind?: DatabaseKind;
  /** Environment overrides for the configuration (PORT, TRUST_PROXY, …). */
  env?: Record<string, string>;
  temporalAddress?: string;
  withWorker?: boolean;
  recoveryIntervalMs?: number;
  /** Receives every log line of the api and worker. */
  logDestination?: { write(line: string): void };
};

export function workflowBundle() {
  const codePath = process.env.CLOSERMODE_TEST_WORKFLOW_BUNDLE;

  return codePath ? { codePath } : undefined;
}

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    throw new Error('TEMPORAL_ADDRESS is not set: run the suite with `npm test`');
  }

  return address;
}

/**
 * The whole service on loopback: a fresh database, the api on a free port and a worker on a task
 * queue of its own, against the suite's real Temporal server.
 */
export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const database = await createTestDatabase(options.databaseKind);
  const dataDir = await mkdtemp(path.join(process.env.CLOSERMODE_TEST_SCRATCH ?? os.tmpdir(), 'data-'));
  const address = options.temporalAddress ?? temporalAddress();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    CLOSERMODE_DATA_DIR: dataDir,
    PUBLIC_BASE_URL: 'http://127.0.0.1',
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...options.env,
  });
  const logger = createLogger({
    level: config.logLevel,
    ...(options.logDestination && { destination: options.logDestination }),
  });

  const { workspace } = await bootstrapDefaultWorkspace(database.db, dataDir);
  const adminKey = await createAdminKey(database.db, workspace.id, 'test');

  let worker: WorkerService | undefined;
  const startWorker = async () => {
    const bundle = workflowBundle();
    worker = await startWorkerService({
      config,
      db: database.db,
      logger,
      temporalAddress: address,
      ...(bundle && { workflowBundle: bundle }),
    });
  };
  if (options.withWorker !== false) {
    await startWorker();
  }

  const api = await startApiService({
    config,
    db: database.db,
    logger,
    temporalAddress: address,
    dispatcher: { recoveryIntervalMs: options.recoveryIntervalMs ?? 500, recoveryGraceMs: 1_000 },
  });
  const baseUrl = `http://127.0.0.1:${api.server.port}`;

  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${baseUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  const stack: TestStack = {
    config,
    database,
    api,
    get worker() {
      return worker;
    },
    baseUrl,
    adminKey,
    workspaceId: workspace.id,
    admin,
    async createIntegration(body = {}) {
      const response = await admin('POST', '/api/integrations', { name: 'Test dialer', ...body });
      if (response.status !== 201) {
        throw new Error(`integration create failed: ${response.status} ${await response.text()}`);
      }
      const created = (await response.json()) as { id: string; webhookUrl: string; apiKey: string };
      const webhookPath = new URL(created.webhookUrl).pathname;

      return {
        id: created.id,
        apiKey: created.apiKey,
        webhookUrl: `${baseUrl}${webhookPath}`,
        token: webhookPath.split('/').at(-1)!,
      };
    },
    postCall(integration, body, headers = {}) {
      return fetch(integration.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${integration.apiKey}`,
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async waitForCall(callId, statuses = ['scored', 'failed'], timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let call: Call | undefined;
      while (Date.now() < deadline) {
        call = await findCallById(database.db, callId);
        if (call && statuses.includes(call.status)) {
          return call;
        }
        await sleep(100);
      }
      throw new Error(`call ${callId} is ${call?.status ?? 'missing'}, not ${statuses.join('/')}`);
    },
    async stopWorker() {
      await worker?.close();
      worker = undefined;
    },
    startWorker,
    async close() {
      await api.close();
      await worker?.close();
      await database.close();
    },
  };

  return stack;
}
