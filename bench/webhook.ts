/**
 * Webhook benchmark: `npm run bench:webhook` (needs PostgreSQL in DATABASE_URL; starts a Temporal dev
 * server unless TEMPORAL_ADDRESS is set). Measures in one run, against the same servers:
 *   (a) raw `client.workflow.start` throughput,
 *   (b) a bare Koa route doing one PostgreSQL insert,
 *   (c) our webhook (unique externalIds, inline transcripts) served by a separate `closermode api`
 *       process, with that process's peak RSS,
 * then posts N calls and follows them until all are scored. Prints figures; asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import autocannon from 'autocannon';
import Koa from 'koa';
import { sql } from 'kysely';
import pg from 'pg';
import { listen } from '../api/server.js';
import { findTemporalCli, startTemporalDevServer } from '../cli/temporal-dev-server.js';
import { adminKeyFile } from '../core/bootstrap.js';
import { createLogger } from '../core/logger.js';
import { openDatabase } from '../db/database.js';
import { dropThrowawayDatabase } from '../tests/helpers/database.js';
import { composeNodeOptions, freePort, percentile, rssMb, waitFor } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = 50;
const followCalls = Number(process.env.BENCH_FOLLOW_CALLS ?? 500);
const logger = createLogger({ level: 'warn', name: 'bench' });

type Figures = { name: string; requests: number; seconds: number; p50: number; p99: number };


function describe(figures: Figures): string {
  const rate = figures.requests / figures.seconds;

  return `${figures.name.padEnd(34)} ${rate.toFixed(0).padStart(7)} req/s   p50 ${figures.p50.toFixed(1).padStart(6)} ms   p99 ${figures.p99.toFixed(1).padStart(6)} ms`;
}


/** (a): as many workflow starts as 50 concurrent callers manage in the time. */
async function measureWorkflowStarts(address: string): Promise<Figures> {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const taskQueue = `bench-raw-${randomUUID()}`;
  const latencies: number[] = [];
  const deadline = Date.now() + durationSeconds * 1_000;
  const started = performance.now();

  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        const begin = performance.now();
        await client.workflow.start('processCall', {
          taskQueue,
          workflowId: `bench-raw-${randomUUID()}`,
          args: [{ callId: randomUUID() }],
        });
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  await connection.close();
  latencies.sort((x, y) => x - y);

  return {
    name: '(a) client.workflow.start',
    requests: latencies.length,
    seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

async function load(name: string, url: string, options: { headers?: Record<string, string>; body: () => string }): Promise<Figures> {
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    requests: [{ setupRequest: (request) => ({ ...request, body: options.body() }) }],
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) {
    logger.warn({ name, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts }, 'requests failed');
  }

  return {
    name,
    requests: result.requests.total - failed,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

/** (b): a Koa route that inserts one row, in this process, on its own pool. */
async function measureBareInsert(databaseUrl: string): Promise<Figures> {
  const database = await openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: 10 });
  await sql`create table if not exists bench_inserts (id uuid primary key default gen_random_uuid(), external_id text not null, body text not null, created_at timestamptz not null default now())`.execute(database.db);

  const app = new Koa();
  app.use(async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) {
      chunks.push(chunk as Buffer);
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { externalId: string };
    await sql`insert into bench_inserts (external_id, body) values (${body.externalId}, ${JSON.stringify(body)})`.execute(database.db);
    ctx.body = { ok: true };
  });
  const server = await listen(app as never, 0, '127.0.0.1');

  try {
    return await load('(b) bare Koa + one insert', `http://127.0.0.1:${server.port}/`, { body: callBody });
  } finally {
    await server.close();
    await sql`drop table bench_inserts`.execute(database.db);
    await database.close();
  }
}

function callBody(): string {
  return JSON.stringify({
    externalId: `bench-${randomUUID()}`,
    repName: 'Bench Rep',
    duration: 120,
    callDate: new Date().toISOString(),
    transcript:
      'Agent: Hi, this is Sam from Acme. How are you today?\nCustomer: Fine, thanks. What is this about?\nAgent: You asked about our pricing. What matters most to you?\nCustomer: Cost, mostly.',
    metadata: { leadId: 'lead-1', source: 'bench' },
  });
}

/** Starts `closermode <command>` with the NODE_OPTIONS docker-compose.yml gives that service. */
async function startProcess(
  command: 'api' | 'worker',
  env: NodeJS.ProcessEnv,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin/closermode.js'), command], {
    env: { ...env, NODE_OPTIONS: await composeNodeOptions(command) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  return child;
}



async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('set DATABASE_URL to a PostgreSQL server (the bench creates its own database on it)');
  }

  const server = process.env.TEMPORAL_ADDRESS
    ? undefined
    : await startTemporalDevServer({
        cliPath: await findTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, env: process.env, logger }),
        namespace: 'default',
        logger,
      });
  const temporalAddress = process.env.TEMPORAL_ADDRESS ?? server!.address;

  const benchDb = `closermode_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database ${benchDb}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${benchDb}`;

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'closermode-bench-'));
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: url.toString(),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: `bench-${randomUUID()}`,
    CLOSERMODE_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The per-integration rate limit would otherwise cap (c) at its own rate.
    WEBHOOK_RATE_LIMIT_PER_SECOND: '1000000',
    WEBHOOK_RATE_LIMIT_BURST: '1000000',
  };
  const children: ChildProcess[] = [];

  try {
    const a = await measureWorkflowStarts(temporalAddress);
    console.log(describe(a));
    const b = await measureBareInsert(url.toString());
    console.log(describe(b));

    const api = await startProcess('api', env);
    children.push(api);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/readyz`, 60_000);
    const adminKey = (await readFile(adminKeyFile(dataDir), 'utf8')).trim();
    const created = (await (
      await fetch(`${base}/api/integrations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench' }),
      })
    ).json()) as { webhookUrl: string; apiKey: string };
    const webhook = `${base}${new URL(created.webhookUrl).pathname}`;

    const c = await load('(c) closermode webhook', webhook, {
      headers: { authorization: `Bearer ${created.apiKey}` },
      body: callBody,
    });
    console.log(describe(c));
    const rss = (await rssMb(api.pid!)).peak;

    const baseline = Math.min(a.requests / a.seconds, b.requests / b.seconds);
    const ratio = c.requests / c.seconds / baseline;
    console.log('');
    console.log(`ratio (c) / min(a, b)              ${ratio.toFixed(2)}   (target >= 0.70)`);
    console.log(`p99 (c) / p99 (a)                  ${(c.p99 / a.p99).toFixed(2)}   (target <= 2.00)`);
    console.log(`api peak RSS                       ${rss.toFixed(0)} MB   (target <= 250 MB)`);

    // End to end on a fresh task queue, so the workflows (c) left queued do not compete.
    api.kill('SIGTERM');
    await new Promise((resolve) => api.once('exit', resolve));
    const backlog = await openDatabase({ kind: 'postgres', url: url.toString() });
    const unstarted = await sql<{ count: string }>`select count(*) from calls where workflow_started_at is null`.execute(backlog.db);
    console.log(`(c) calls stored but not yet started when (c) ended: ${unstarted.rows[0]!.count} (the recovery loop would start them)`);
    // Set aside so the end-to-end phase measures only its own calls.
    await sql`update calls set workflow_started_at = now() where workflow_started_at is null`.execute(backlog.db);
    await backlog.close();
    const followEnv = { ...env, TEMPORAL_TASK_QUEUE: `bench-follow-${randomUUID()}` };
    children.push(await startProcess('api', followEnv), await startProcess('worker', followEnv));
    await waitFor(`${base}/readyz`, 60_000);
    const database = await openDatabase({ kind: 'postgres', url: url.toString() });

    const posted = Date.now();
    const limit = 25;
    for (let offset = 0; offset < followCalls; offset += limit) {
      const responses = await Promise.all(
        Array.from({ length: Math.min(limit, followCalls - offset) }, () =>
          fetch(webhook, {
            method: 'POST',
            headers: { authorization: `Bearer ${created.apiKey}`, 'content-type': 'application/json' },
            body: callBody(),
          }),
        ),
      );
      const refused = responses.filter((response) => response.status !== 200);
      if (refused.length > 0) {
        throw new Error(`${refused.length} posts were refused with HTTP ${refused[0]!.status}`);
      }
    }

    let scored = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const row = await sql<{ scored: string }>`select count(*) as scored from calls where status = 'scored'`.execute(database.db);
      scored = Number(row.rows[0]!.scored);
      if (scored >= followCalls) {
        break;
      }
      await sleep(250);
    }
    const elapsed = (Date.now() - posted) / 1_000;
    const latency = await sql<{ ms: number }>`select extract(epoch from (updated_at - created_at)) * 1000 as ms from calls where status = 'scored' and created_at >= ${new Date(posted)} order by 1`.execute(database.db);
    const latencies = latency.rows.map((row) => Number(row.ms));
    console.log('');
    console.log(`end to end: ${scored}/${followCalls} calls scored in ${elapsed.toFixed(1)} s = ${(scored / elapsed).toFixed(0)} calls/s`);
    console.log(`post-to-scored latency            p50 ${percentile(latencies, 0.5).toFixed(0)} ms   p95 ${percentile(latencies, 0.95).toFixed(0)} ms`);

    // Scoring's share: from sampled workflow histories, the scoreCall activity's run time against
    // the whole workflow's.
    const sampled = await sql<{ workflow_id: string }>`select workflow_id from calls where status = 'scored' and created_at >= ${new Date(posted)} order by random() limit 50`.execute(database.db);
    const connection = await Connection.connect({ address: temporalAddress });
    const client = new Client({ connection });
    let scoringMs = 0;
    let workflowMs = 0;
    for (const { workflow_id: workflowId } of sampled.rows) {
      const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
      const at = (index: number) => Number(events![index]!.eventTime!.seconds) * 1_000 + events![index]!.eventTime!.nanos! / 1e6;
      const scheduled = events!.findIndex((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'scoreCall');
      const completed = events!.findIndex((event, index) => index > scheduled && event.activityTaskCompletedEventAttributes);
      scoringMs += at(completed) - at(scheduled);
      workflowMs += at(events!.length - 1) - at(0);
    }
    await connection.close();
    console.log(`scoring's share of workflow time   ${((scoringMs / workflowMs) * 100).toFixed(1)} %   (scoreCall scheduled-to-completed over workflow start-to-close, ${sampled.rows.length} calls)`);
    await database.close();
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
    }
    await sleep(1_500);
    await dropThrowawayDatabase(admin, benchDb);
    await admin.end();
    await server?.stop();
  }
}

console.log(`closermode webhook benchmark: ${durationSeconds} s per phase, ${connections} connections, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}\n`);
await main();
