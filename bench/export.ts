/**
 * Export benchmark: `npm run bench:export` (needs PostgreSQL in DATABASE_URL; makes and drops a
 * database of its own there). Stores BENCH_EXPORT_CALLS calls (default 100,000) of realistic size
 * with one SQL statement, starts a separate `closermode api` process, and exports every call over
 * HTTP as CSV and as NDJSON. Prints rows/s and the api process's memory while exporting against
 * its idle memory, once with the NODE_OPTIONS that docker-compose.yml gives the api and once with
 * Node's defaults. Asserts nothing; takes about a minute and a half.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { adminKeyFile } from '../core/bootstrap.js';
import { openDatabase } from '../db/database.js';
import { dropThrowawayDatabase } from '../tests/helpers/database.js';
import { composeNodeOptions, freePort, rssMb, waitFor } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const totalCalls = Number(process.env.BENCH_EXPORT_CALLS ?? 100_000);

/** One call's worth of realistic content: a ~3 KB transcript, ~300 B metadata, a ~1 KB scorecard. */
const transcriptLines = [
  'Agent: Hi, this is Sam from Acme Software, am I speaking with the person who looks after the phones?',
  'Customer: Yes, that is me. What is this about?',
  'Agent: You downloaded our guide on call scoring last week. What made you look into it?',
  'Customer: We have twelve reps and no idea which calls go well. Reviewing them by hand takes forever.',
  'Agent: That is common. How do you review them today, and how many calls a week is that?',
  'Customer: About four hundred calls. My team lead listens to maybe ten of them on Fridays.',
  'Agent: So most calls are never heard. What would change if every call had a score the next morning?',
  'Customer: We could coach the right people. But price matters, we tried a tool before and it was too much.',
  'Agent: Understood. Can I ask what you paid, and what it did not do for you?',
  'Customer: It was per seat and it needed a separate recorder. Setup took a month.',
].join('\n');

async function seed(
  databaseUrl: string,
  workspaceId: string,
  integrationId: string,
): Promise<void> {
  const database = await openDatabase({ kind: 'postgres', url: databaseUrl });
  const transcript = Array.from({ length: 3 }, () => transcriptLines).join('\n');
  const scorecard = JSON.stringify({
    overall: 72,
    criteria: ['discovery', 'objections', 'next_step', 'talk_ratio', 'tone'].map((key, index) => ({
      key,
      score: 60 + index * 5,
      weight: 0.2,
      explanation: `The rep handled ${key.replace('_', ' ')} reasonably, with room to ask one more question.`,
    })),
    summary: 'A friendly discovery call that found the pain but left pricing open.',
  });

  try {
    // A throwaway database: an autovacuum worker still busy at the end would block dropping it.
    await sql`alter table calls set (autovacuum_enabled = false)`.execute(database.db);
    await sql`
      insert into calls (
        workspace_id, integration_id, external_id, status, rep_name, caller_phone, duration,
        call_date, transcript_text, transcript_source, metadata, workflow_id, workflow_started_at,
        score, overall_score
      )
      select
        ${workspaceId}::uuid, ${integrationId}::uuid, 'bench-' || n, 'scored',
        'Rep ' || (n % 40), '+1555' || lpad((n % 10000000)::text, 7, '0'), 60 + (n % 900),
        timestamptz '2026-01-01' + n * interval '17 seconds',
        ${transcript} || E'\nAgent: Call ' || n || ' ends here.', 'inline',
        json_build_object(
          'leadId', 'L-' || n, 'campaign', 'spring-' || (n % 12), 'source', 'dialer',
          'crm', json_build_object('accountId', 'ACC-' || (n % 5000), 'owner', 'owner' || (n % 30) || '@example.com'),
          'tags', json_build_array('inbound', 'q' || (n % 4), '=not a formula'),
          'notes', 'Customer asked for a callback next week; prefers email, not phone.'
        ),
        'bench:' || n, now(), ${scorecard}::jsonb, 40 + (n % 60)
      from generate_series(1, ${totalCalls}::int) as n
    `.execute(database.db);
    await sql`analyze calls`.execute(database.db);
  } finally {
    await database.close();
  }
}

type Measured = { name: string; rows: number; bytes: number; seconds: number; peakRssMb: number };

/** Streams one export, counting records as they arrive and sampling the api's memory. */
async function measure(
  name: string,
  url: string,
  adminKey: string,
  pid: number,
  countRecords: (chunk: string) => number,
): Promise<Measured> {
  let peakRssMb = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRssMb = Math.max(peakRssMb, (await rssMb(pid)).rss);
      await sleep(50);
    }
  })();

  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${adminKey}` } });
  if (!response.ok || !response.body) {
    throw new Error(`${name}: HTTP ${response.status}`);
  }
  const decoder = new TextDecoder();
  let rows = 0;
  let bytes = 0;
  for await (const chunk of response.body) {
    bytes += chunk.byteLength;
    rows += countRecords(decoder.decode(chunk, { stream: true }));
  }
  const seconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;

  return { name, rows, bytes, seconds, peakRssMb };
}

/** Counts `needle` across chunks, so one split between two chunks is still counted. */
function counter(needle: string): (chunk: string) => number {
  let carry = '';

  return (chunk) => {
    const text = carry + chunk;
    let count = 0;
    for (let index = text.indexOf(needle); index !== -1; index = text.indexOf(needle, index + 1)) {
      count += 1;
    }
    carry = text.slice(-(needle.length - 1) || text.length);

    return count;
  };
}

function startApi(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(root, 'bin/closermode.js'), 'api'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stopApi(api: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => api.once('exit', resolve));
  api.kill('SIGTERM');
  await exited;
}

/** `+ 12` or `- 3`: the peak can fall below idle once V8 has returned memory after a run. */
function signed(megabytes: number): string {
  return `${megabytes < 0 ? '-' : '+'} ${Math.abs(megabytes).toFixed(0)}`;
}

/** The three exports against one api process, printed with its memory against its idle memory. */
async function exportAll(base: string, adminKey: string, pid: number): Promise<void> {
  // Idle: after start and one small request, so lazily loaded code is counted as idle.
  await fetch(`${base}/api/calls/export?format=csv&to=2026-01-01T00:00:10Z`, {
    headers: { authorization: `Bearer ${adminKey}` },
  }).then((response) => response.text());
  await sleep(500);
  const idle = await rssMb(pid);
  console.log(`  api idle RSS                   ${idle.rss.toFixed(0)} MB`);

  const runs = [
    await measure(
      'CSV, transcripts included',
      `${base}/api/calls/export?format=csv&includeTranscript=true`,
      adminKey,
      pid,
      // Transcripts hold bare \n only, so every CRLF ends a record (the first one the header).
      counter('\r\n'),
    ),
    await measure(
      'NDJSON, transcripts included',
      `${base}/api/calls/export?format=ndjson&includeTranscript=true`,
      adminKey,
      pid,
      counter('\n'),
    ),
    await measure(
      'CSV, no transcripts',
      `${base}/api/calls/export?format=csv`,
      adminKey,
      pid,
      counter('\r\n'),
    ),
  ];

  for (const run of runs) {
    const records = run.name.startsWith('CSV') ? run.rows - 1 : run.rows;
    console.log(
      `  ${run.name.padEnd(30)} ${records.toLocaleString('en').padStart(8)} rows in ${run.seconds.toFixed(1).padStart(5)} s = ` +
        `${(records / run.seconds).toFixed(0).padStart(6)} rows/s, ${(run.bytes / 1_048_576 / run.seconds).toFixed(1).padStart(5)} MB/s, ` +
        `peak RSS ${run.peakRssMb.toFixed(0)} MB (idle ${signed(run.peakRssMb - idle.rss)} MB)`,
    );
  }
  const heap = await rssMb(pid);
  console.log(`  api RSS after the exports      ${heap.rss.toFixed(0)} MB`);
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(
      'set DATABASE_URL to a PostgreSQL server (the bench makes its own database on it)',
    );
  }

  const benchDb = `closermode_bench_export_${Date.now()}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database ${benchDb}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${benchDb}`;

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'closermode-bench-export-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    DATABASE_URL: url.toString(),
    // Never contacted: the export needs no Temporal, and the api connects lazily.
    TEMPORAL_ADDRESS: '127.0.0.1:9',
    CLOSERMODE_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  let api: ChildProcess | undefined;

  try {
    api = startApi({ ...env, NODE_OPTIONS: await composeNodeOptions('api') });
    await waitFor(`${base}/healthz`, 60_000);
    const adminKey = (await readFile(adminKeyFile(dataDir), 'utf8')).trim();
    const integration = (await (
      await fetch(`${base}/api/integrations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench' }),
      })
    ).json()) as { id: string };

    const database = await openDatabase({ kind: 'postgres', url: url.toString() });
    const workspace = await database.db
      .selectFrom('integrations')
      .select('workspace_id')
      .where('id', '=', integration.id)
      .executeTakeFirstOrThrow();
    await database.close();

    const seeded = performance.now();
    await seed(url.toString(), workspace.workspace_id, integration.id);
    console.log(
      `stored ${totalCalls.toLocaleString('en')} calls in ${((performance.now() - seeded) / 1000).toFixed(1)} s\n`,
    );

    const deployed = await composeNodeOptions('api');
    console.log(`api as docker-compose.yml runs it: NODE_OPTIONS=${deployed}`);
    await exportAll(base, adminKey, api.pid!);
    await stopApi(api);

    // Without a heap limit of its own, V8 sizes the heap from the machine's memory and, on a large
    // machine, lets garbage pile up to about four times the live heap before a full collection.
    console.log('\napi with node defaults');
    api = startApi({ ...env, NODE_OPTIONS: '' });
    await waitFor(`${base}/healthz`, 60_000);
    await exportAll(base, adminKey, api.pid!);
    console.log('\ntarget: peak RSS within 50 MB of idle while exporting, as deployed');
  } finally {
    if (api && api.exitCode === null) {
      await stopApi(api);
    }
    await dropThrowawayDatabase(admin, benchDb);
    await admin.end();
  }
}

console.log(
  `closermode export benchmark: ${totalCalls.toLocaleString('en')} calls, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}\n`,
);
await main();
