/**
 * Webhook fan-out benchmark: `npm run bench:fanout` (needs PostgreSQL in DATABASE_URL; starts a
 * Temporal dev server unless TEMPORAL_ADDRESS is set). Runs a separate `closermode api` and
 * `closermode worker`, points 10 endpoints at 10 receivers on 127.0.0.1, publishes BENCH_EVENTS
 * events (default 200) the way the call activities do, and follows the deliveries until every
 * receiver has every event. Prints figures; asserts nothing; gives up after two minutes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import pg from 'pg';
import { createEventPublisher } from '../activities/event-publisher.js';
import { findTemporalCli, startTemporalDevServer } from '../cli/temporal-dev-server.js';
import { adminKeyFile } from '../core/bootstrap.js';
import { createLogger } from '../core/logger.js';
import { openDatabase } from '../db/database.js';
import { dropThrowawayDatabase } from '../tests/helpers/database.js';
import { freePort, percentile, waitFor } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const eventCount = Number(process.env.BENCH_EVENTS ?? 200);
const endpointCount = 10;
const publishConcurrency = 16;
const deadlineMs = 120_000;
const logger = createLogger({ level: 'warn', name: 'bench' });

type Receiver = {
  url: string;
  /** Event ids seen, with the latency from the event's creation to its first arrival. */
  seen: Map<string, number>;
  requests: number;
  server: Server;
};

async function startReceiver(): Promise<Receiver> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hooks`,
    seen: new Map(),
    requests: 0,
    server,
  };
  server.on('request', (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      receiver.requests += 1;
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        id: string;
        createdAt: string;
      };
      if (!receiver.seen.has(event.id)) {
        receiver.seen.set(event.id, Date.now() - Date.parse(event.createdAt));
      }
      response.writeHead(204).end();
    });
  });

  return receiver;
}




async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(
      'set DATABASE_URL to a PostgreSQL server (the bench makes its own database on it)',
    );
  }

  const temporal = process.env.TEMPORAL_ADDRESS
    ? undefined
    : await startTemporalDevServer({
        cliPath: await findTemporalCli({
          explicitPath: process.env.TEMPORAL_CLI_PATH,
          env: process.env,
          logger,
        }),
        namespace: 'default',
        logger,
      });
  const temporalAddress = process.env.TEMPORAL_ADDRESS ?? temporal!.address;

  const benchDb = `closermode_bench_fanout_${Date.now()}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database ${benchDb}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${benchDb}`;

  const receivers = await Promise.all(Array.from({ length: endpointCount }, startReceiver));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'closermode-bench-fanout-'));
  const port = await freePort();
  const taskQueue = `bench-fanout-${randomUUID()}`;
  const env = {
    ...process.env,
    DATABASE_URL: url.toString(),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    CLOSERMODE_DATA_DIR: dataDir,
    ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  const children: ChildProcess[] = [];
  const start = (command: 'api' | 'worker') => {
    const child = spawn(process.execPath, [path.join(root, 'bin/closermode.js'), command], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
  };
  const connection = await Connection.connect({ address: temporalAddress });
  const database = await openDatabase({ kind: 'postgres', url: url.toString() });

  try {
    start('api');
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/readyz`, 60_000);
    start('worker');
    const adminKey = (await readFile(adminKeyFile(dataDir), 'utf8')).trim();
    const request = async <T>(route: string, body: unknown): Promise<T> => {
      const response = await fetch(`${base}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        throw new Error(`${route}: HTTP ${response.status} ${await response.text()}`);
      }

      return (await response.json()) as T;
    };

    const integration = await request<{ id: string }>('/api/integrations', { name: 'bench' });
    for (const receiver of receivers) {
      await request('/api/webhook-endpoints', { url: receiver.url });
    }
    const { workspace_id: workspaceId } = await database.db
      .selectFrom('integrations')
      .select('workspace_id')
      .where('id', '=', integration.id)
      .executeTakeFirstOrThrow();
    const calls = await sql<{ id: string }>`
      insert into calls (workspace_id, integration_id, external_id, status, call_date,
        transcript_text, transcript_source, metadata, workflow_id, workflow_started_at)
      select ${workspaceId}::uuid, ${integration.id}::uuid, 'fanout-' || n, 'scored', now(),
        'Agent: Hello.' || E'\\n' || 'Customer: Hi.', 'inline',
        json_build_object('leadId', 'L-' || n), 'fanout:' || n, now()
      from generate_series(1, ${eventCount}::int) as n
      returning id
    `.execute(database.db);

    const publisher = createEventPublisher({
      db: database.db,
      client: new Client({ connection }),
      taskQueue,
      logger,
    });
    const started = performance.now();
    const queue = calls.rows.map((row) => row.id);
    await Promise.all(
      Array.from({ length: publishConcurrency }, async () => {
        for (let callId = queue.shift(); callId; callId = queue.shift()) {
          await publisher.publish('call.scored', callId);
        }
      }),
    );
    const publishSeconds = (performance.now() - started) / 1000;

    const expected = eventCount * endpointCount;
    const delivered = () => receivers.reduce((sum, receiver) => sum + receiver.seen.size, 0);
    while (delivered() < expected && performance.now() - started < deadlineMs) {
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    const latencies = receivers
      .flatMap((receiver) => [...receiver.seen.values()])
      .sort((a, b) => a - b);
    const requests = receivers.reduce((sum, receiver) => sum + receiver.requests, 0);

    console.log(
      `published ${eventCount} events to ${endpointCount} endpoints in ${publishSeconds.toFixed(1)} s = ${(eventCount / publishSeconds).toFixed(0)} events/s`,
    );
    console.log(
      `delivered ${delivered()}/${expected} in ${seconds.toFixed(1)} s = ${(delivered() / seconds).toFixed(0)} deliveries/s` +
        (delivered() < expected ? ' (gave up at the deadline)' : ''),
    );
    console.log(
      `event-to-receiver latency          p50 ${percentile(latencies, 0.5).toFixed(0)} ms   p95 ${percentile(latencies, 0.95).toFixed(0)} ms   p99 ${percentile(latencies, 0.99).toFixed(0)} ms`,
    );
    console.log(
      `requests received                  ${requests} (${requests - delivered()} repeats)`,
    );
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
    }
    await sleep(1_500);
    await database.close();
    await connection.close();
    for (const receiver of receivers) {
      receiver.server.closeAllConnections();
      receiver.server.close();
    }
    await dropThrowawayDatabase(admin, benchDb);
    await admin.end();
    await temporal?.stop();
  }
}

console.log(
  `closermode webhook fan-out benchmark: ${eventCount} events x ${endpointCount} endpoints, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}\n`,
);
await main();
