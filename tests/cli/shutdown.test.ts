// SIGTERM and SIGINT sent to the real `closermode api` and `closermode worker` processes while they
// work: requests in flight are answered, running downloads finish or are handed back, no call is
// lost, and each process exits 0 in bounded time.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http, {
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { findCallById } from '../../db/queries/calls.js';
import { csvObjects, eventually } from '../downstream/helpers.js';
import { startFakeAssemblyAi, type FakeAssemblyAi } from '../fakes/assemblyai-server.js';
import {
  startTestStack,
  temporalAddress,
  type IntegrationCredentials,
  type TestStack,
} from '../helpers/stack.js';
import { startServer, type TestServer } from '../recordings/http-servers.js';

const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));
const wavPath = fileURLToPath(new URL('../fixtures/audio/two-voice-call.wav', import.meta.url));

const needsPostgres =
  !process.env.TEST_DATABASE_URL && 'needs PostgreSQL shared between processes (TEST_DATABASE_URL)';

/** The worker's `shutdownGraceTime` (see worker/worker.ts). */
const workerGraceMs = 20_000;

type LogLine = { msg: string; [field: string]: unknown };

type Exit = { code: number | null; signal: NodeJS.Signals | null; at: number };

type ServiceProcess = {
  logs: LogLine[];
  /** Settles once the process has exited, with how and when. */
  exited: Promise<Exit>;
  waitForLog(msg: string, timeoutMs: number): Promise<LogLine>;
  /** Sends the signal and returns when it was sent. */
  signal(signal: NodeJS.Signals): number;
  /** The end of what the process wrote to stderr, for assertion messages. */
  stderr(): string;
  /** SIGKILLs the process if it still runs, so that a failed test leaves nothing behind. */
  kill(): Promise<void>;
};

type ApiProcess = ServiceProcess & { port: number };

/** Rejects with a message naming `what` unless the promise settles within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits up to `ms` for the process to exit, and asserts that it exited 0 rather than by a signal. */
async function exitsCleanly(service: ServiceProcess, ms: number, what: string): Promise<Exit> {
  const exit = await within(service.exited, ms, what);
  assert.deepEqual(
    { code: exit.code, signal: exit.signal },
    { code: 0, signal: null },
    service.stderr(),
  );

  return exit;
}

/**
 * Runs `closermode <command>` as a child process joined to the stack: its database, data folder,
 * recordings folder, Temporal server and task queue.
 */
function startService(
  command: 'api' | 'worker',
  stack: TestStack,
  env: Record<string, string> = {},
): ServiceProcess {
  const child = spawn(process.execPath, [bin, command], {
    env: {
      ...process.env,
      DATABASE_URL: stack.database.url!,
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: stack.config.temporalTaskQueue,
      CLOSERMODE_DATA_DIR: stack.config.dataDir,
      RECORDINGS_DIR: stack.config.recordings.dir,
      PORT: '0',
      HOST: '127.0.0.1',
      // Info, because the api's port and readiness are read from its log.
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const logs: LogLine[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      // Not a log line: nothing to read from it.
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });

  return {
    logs,
    exited,
    waitForLog(msg, timeoutMs) {
      return eventually(
        async () => {
          if (!running) {
            throw new Error(`${command} exited before logging "${msg}": ${stderr}`);
          }

          return logs.find((line) => line.msg === msg);
        },
        timeoutMs,
        `${command} log "${msg}"`,
      );
    },
    signal(signal) {
      child.kill(signal);

      return Date.now();
    },
    stderr: () => stderr,
    async kill() {
      if (running) {
        child.kill('SIGKILL');
        await within(exited, 5_000, `${command} killed`);
      }
    },
  };
}

async function startApi(stack: TestStack, env: Record<string, string> = {}): Promise<ApiProcess> {
  const service = startService('api', stack, env);
  const listening = await service.waitForLog('api listening', 30_000);

  return Object.assign(service, { port: Number(listening.port) });
}

/** What a TCP connection attempt to the port ends in: `connected` or the error's code. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Waits until the port refuses connections, as it does once the server has stopped listening. */
function refusedSoon(port: number, timeoutMs: number): Promise<string> {
  return eventually(
    async () => {
      const outcome = await connectOutcome(port);

      return outcome === 'connected' ? undefined : outcome;
    },
    timeoutMs,
    'connections refused',
  );
}

type Answer = { status: number; headers: IncomingHttpHeaders; text: string; at: number };

/** The whole response to a request, read as it arrives. */
function answerTo(request: ClientRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () =>
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        }),
      );
    });
  });
}

describe('the api process on a stop signal', { skip: needsPostgres }, () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    // The in-process api only sets up and inspects: its recovery loop is held off, so that any
    // workflow started in these tests was started by the api process under test.
    stack = await startTestStack({ withWorker: false, recoveryIntervalMs: 3_600_000 });
    integration = await stack.createIntegration();
  });
  after(() => stack.close());

  const webhookPath = () => new URL(integration.webhookUrl).pathname;

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`an idle api exits 0 within two seconds of ${signal}, though a client keeps a connection open`, async () => {
      const api = await startApi(stack);
      const agent = new http.Agent({ keepAlive: true });
      try {
        const health = await answerTo(
          http.get({ host: '127.0.0.1', port: api.port, path: '/healthz', agent }),
        );
        assert.equal(health.status, 200);
        assert.equal(health.headers.connection, 'keep-alive');

        const signalledAt = api.signal(signal);
        const exit = await exitsCleanly(api, 10_000, `api exit after ${signal}`);
        assert.ok(
          exit.at - signalledAt < 2_000,
          `exited ${exit.at - signalledAt} ms after ${signal}`,
        );
      } finally {
        agent.destroy();
        await api.kill();
      }
    });
  }

  test('a webhook post in flight at SIGTERM is answered 200, new connections are refused, and the api exits 0 with the call started', async () => {
    const api = await startApi(stack);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const body = JSON.stringify({
        externalId: 'in-flight',
        repName: 'Jane Smith',
        transcript: 'Agent: Thanks for taking my call.\nCustomer: Sure, go ahead.',
      });
      const request = http.request({
        host: '127.0.0.1',
        port: api.port,
        method: 'POST',
        path: webhookPath(),
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${integration.apiKey}`,
          // The api answers 100 Continue once it holds the request: proof that it is in flight.
          expect: '100-continue',
        },
      });
      let answered = false;
      const answer = answerTo(request).finally(() => {
        answered = true;
      });
      request.flushHeaders();
      await within(once(request, 'continue'), 5_000, '100 Continue');
      request.write(body.slice(0, 20));

      const signalledAt = api.signal('SIGTERM');
      assert.equal(await refusedSoon(api.port, 3_000), 'ECONNREFUSED');
      assert.equal(answered, false, 'the api cannot answer before the body is whole');

      request.end(body.slice(20));
      const {
        status,
        headers,
        text,
        at: answeredAt,
      } = await within(answer, 5_000, 'webhook answer');
      assert.equal(status, 200, text);
      const { success, callId } = JSON.parse(text) as { success: boolean; callId: string };
      assert.equal(success, true);
      assert.equal(headers.connection, 'close', 'the client is told not to reuse the connection');

      const exit = await exitsCleanly(api, 15_000, 'api exit');
      assert.ok(
        exit.at - answeredAt < 2_000,
        `exited ${exit.at - answeredAt} ms after its last answer`,
      );
      assert.ok(exit.at - signalledAt < 5_000, `exited ${exit.at - signalledAt} ms after SIGTERM`);

      // Started before the process ended: the dispatcher waits for starts in flight.
      const call = await findCallById(stack.database.db, callId);
      assert.equal(call?.external_id, 'in-flight');
      assert.notEqual(call.workflow_started_at, null, 'the workflow start was recorded');
      const workflow = stack.api.client.workflow.getHandle(call.workflow_id);
      const description = await workflow.describe();
      assert.equal(description.status.name, 'RUNNING');
      assert.equal(description.taskQueue, stack.config.temporalTaskQueue);
      await workflow.terminate('shutdown test done');
    } finally {
      agent.destroy();
      await api.kill();
    }
  });

  test('a CSV export read slowly when SIGTERM arrives is delivered whole before the api exits 0', async () => {
    const exporter = await stack.createIntegration({ name: 'exported dialer' });
    const callCount = 4_000;
    const transcript = 'Agent: Thank you for your time today. '.repeat(100).trim();
    // About 16 MB of CSV, far more than the socket buffers take while the client does not read:
    // most of it is still to be written by the api when the signal comes. Marked as started, so
    // that no recovery loop starts workflows for them.
    await sql`
      insert into calls (workspace_id, integration_id, external_id, call_date, transcript_text,
                         transcript_source, workflow_id, workflow_started_at)
      select ${stack.workspaceId}, ${exporter.id}, 'export-' || n,
             timestamptz '2026-01-01' + n * interval '1 second', ${transcript},
             'inline', 'stored:export-' || n, now()
      from generate_series(1, ${callCount}::int) as n
    `.execute(stack.database.db);

    const api = await startApi(stack);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const request = http.get({
        host: '127.0.0.1',
        port: api.port,
        path: `/api/calls/export?format=csv&includeTranscript=true&integrationId=${exporter.id}`,
        agent,
        headers: { authorization: `Bearer ${stack.adminKey}` },
      });
      const [response] = (await within(once(request, 'response'), 10_000, 'export response')) as [
        IncomingMessage,
      ];
      assert.equal(response.statusCode, 200);

      const chunks: Buffer[] = [];
      let received = 0;
      let receivedAtSignal = 0;
      let signalledAt = 0;
      for await (const chunk of response as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        received += chunk.length;
        if (signalledAt === 0) {
          receivedAtSignal = received;
          signalledAt = api.signal('SIGTERM');
          assert.equal(await refusedSoon(api.port, 3_000), 'ECONNREFUSED');
        }
        // A slow reader: a pause after every megabyte keeps the export streaming for a while.
        if (Math.floor(received / 1_000_000) > Math.floor((received - chunk.length) / 1_000_000)) {
          await sleep(50);
        }
      }
      const finishedAt = Date.now();

      const text = Buffer.concat(chunks).toString('utf8');
      assert.ok(
        receivedAtSignal < received / 10,
        `${receivedAtSignal} of ${received} bytes read at SIGTERM`,
      );
      assert.ok(text.endsWith('\r\n'), 'the export ends with a whole record');
      const rows = csvObjects(text);
      assert.equal(rows.length, callCount);
      assert.equal(new Set(rows.map((row) => row.id)).size, callCount);
      assert.equal(rows.at(-1)?.externalId, `export-${callCount}`);
      assert.ok(rows.every((row) => row.transcript === transcript));

      const exit = await exitsCleanly(api, 15_000, 'api exit');
      assert.ok(
        exit.at - finishedAt < 2_000,
        `exited ${exit.at - finishedAt} ms after the export ended`,
      );
      assert.ok(finishedAt - signalledAt > 300, 'the export was still streaming after the signal');
    } finally {
      agent.destroy();
      await api.kill();
    }
  });

  test('an api stopped while Temporal is unreachable exits 0 in bounded time, and the next api recovers its call', async () => {
    // A loopback port that hangs up on every connection: a Temporal frontend that is down.
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const { port: deadPort } = hangUp.address() as AddressInfo;
    const api = await startApi(stack, { TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}` });
    try {
      const response = await fetch(`http://127.0.0.1:${api.port}${webhookPath()}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${integration.apiKey}`,
        },
        body: JSON.stringify({ externalId: 'temporal-down', transcript: 'Agent: Hello there.' }),
      });
      assert.equal(response.status, 200);
      const { callId } = (await response.json()) as { callId: string };

      const signalledAt = api.signal('SIGTERM');
      const exit = await exitsCleanly(api, 15_000, 'api exit');
      // The dispatcher gives a start in flight its 5 s deadline, and no more.
      assert.ok(exit.at - signalledAt < 8_000, `exited ${exit.at - signalledAt} ms after SIGTERM`);

      const stored = await findCallById(stack.database.db, callId);
      assert.equal(stored?.workflow_started_at, null, 'left unstarted for the next api');

      // One pass of the recovery loop, as any api process runs it every few seconds.
      const recovered = await eventually(
        async () => {
          await stack.api.dispatcher.recoverPending();
          const call = await findCallById(stack.database.db, callId);

          return call?.workflow_started_at ? call : undefined;
        },
        10_000,
        'the call recovered',
      );
      const workflow = stack.api.client.workflow.getHandle(recovered.workflow_id);
      assert.equal((await workflow.describe()).status.name, 'RUNNING');
      await workflow.terminate('shutdown test done');
    } finally {
      await api.kill();
      await new Promise((resolve) => hangUp.close(resolve));
    }
  });
});

/** A WAV file of silence: the fixture's 8 kHz 16-bit mono header over `dataBytes` of zeros. */
async function silentWav(dataBytes: number): Promise<Buffer> {
  const header = (await readFile(wavPath)).subarray(0, 44);
  const wav = Buffer.concat([header, Buffer.alloc(dataBytes)]);
  wav.writeUInt32LE(wav.length - 8, 4);
  wav.writeUInt32LE(dataBytes, 40);

  return wav;
}

type Served = { bytes: number; completedAt: number | undefined };

/**
 * Serves the recording: the first request paced at `chunkBytes` every `intervalMs`, so that a
 * worker is mid-download when it is signalled, and later requests at once.
 */
async function startRecordingServer(
  wav: Buffer,
  pace: { chunkBytes: number; intervalMs: number },
): Promise<TestServer & { served: Served[] }> {
  const served: Served[] = [];
  const server = await startServer(async (_request, response) => {
    const record: Served = { bytes: 0, completedAt: undefined };
    const paced = served.length === 0;
    served.push(record);
    response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
    for (let offset = 0; offset < wav.length; offset += pace.chunkBytes) {
      if (paced && offset > 0) {
        await sleep(pace.intervalMs);
      }
      if (response.destroyed) {
        return;
      }
      const chunk = wav.subarray(offset, offset + pace.chunkBytes);
      response.write(chunk);
      record.bytes += chunk.length;
    }
    response.end();
    record.completedAt = Date.now();
  });

  return Object.assign(server, { served });
}

describe('the worker process on SIGTERM', { skip: needsPostgres }, () => {
  let assembly: FakeAssemblyAi;

  before(async () => {
    assembly = await startFakeAssemblyAi({ pollsUntilCompleted: 1 });
  });
  after(() => assembly.close());

  const recordingEnv = () => ({
    ALLOW_PRIVATE_HOSTS: '127.0.0.1',
    ASSEMBLYAI_API_KEY: 'test-api-key',
    ASSEMBLYAI_BASE_URL: assembly.url,
  });

  /** Posts a call with a recording and waits until a worker process is downloading it. */
  async function downloadInWorkerProcess(
    stack: TestStack,
    files: TestServer & { served: Served[] },
    externalId: string,
  ): Promise<{ worker: ServiceProcess; callId: string }> {
    const worker = startService('worker', stack, recordingEnv());
    const integration = await stack.createIntegration();
    const response = await stack.postCall(integration, {
      externalId,
      recordingUrl: `${files.origin}/${externalId}.wav`,
    });
    const { callId } = (await response.json()) as { callId: string };

    await stack.waitForCall(callId, ['downloading'], 30_000);
    await eventually(
      async () => ((files.served[0]?.bytes ?? 0) > 0 ? true : undefined),
      10_000,
      'the first bytes sent',
    );

    return { worker, callId };
  }

  test('a download running at SIGTERM is finished and stored before the worker exits 0, and a fresh worker scores the call', async () => {
    // About six seconds of paced download, well inside the grace time.
    const wav = await silentWav(300_000);
    const files = await startRecordingServer(wav, { chunkBytes: 20_000, intervalMs: 400 });
    const stack = await startTestStack({ withWorker: false, env: recordingEnv() });
    let worker: ServiceProcess | undefined;
    try {
      const started = await downloadInWorkerProcess(stack, files, 'finish-on-shutdown');
      worker = started.worker;
      const signalledAt = worker.signal('SIGTERM');

      const exit = await exitsCleanly(worker, workerGraceMs + 10_000, 'worker exit');
      const completedAt = files.served[0]?.completedAt;
      assert.ok(completedAt && completedAt > signalledAt, 'the download went on after the signal');
      assert.ok(exit.at >= completedAt, 'the worker did not exit before the download ended');
      assert.ok(
        exit.at - completedAt < 5_000,
        `exited ${exit.at - completedAt} ms after the download`,
      );

      // No other worker has run yet: the stopping worker stored the recording itself.
      const recording = await stack.database.db
        .selectFrom('recordings')
        .selectAll()
        .where('call_id', '=', started.callId)
        .executeTakeFirst();
      assert.equal(recording?.sha256, createHash('sha256').update(wav).digest('hex'));

      await stack.startWorker();
      const call = await stack.waitForCall(started.callId, ['scored', 'failed'], 30_000);
      assert.equal(call.status, 'scored', call.failure_reason ?? '');
      assert.equal(files.served.length, 1, 'the recording was downloaded once');
    } finally {
      await worker?.kill();
      await stack.close();
      await files.close();
    }
  });

  test('a download outlasting the grace time is handed back at SIGTERM, and a fresh worker downloads it again and scores the call', async () => {
    // Over a minute of paced download: the grace time runs out first.
    const wav = await silentWav(300_000);
    const files = await startRecordingServer(wav, { chunkBytes: 2_000, intervalMs: 500 });
    const stack = await startTestStack({ withWorker: false, env: recordingEnv() });
    let worker: ServiceProcess | undefined;
    try {
      const started = await downloadInWorkerProcess(stack, files, 'hand-back-on-shutdown');
      worker = started.worker;
      const signalledAt = worker.signal('SIGTERM');

      const exit = await exitsCleanly(worker, workerGraceMs + 10_000, 'worker exit');
      const waited = exit.at - signalledAt;
      assert.ok(
        waited >= workerGraceMs - 1_000,
        `exited ${waited} ms after SIGTERM, before its grace time`,
      );
      assert.equal(files.served[0]?.completedAt, undefined, 'the first download was cut off');

      await stack.startWorker();
      const call = await stack.waitForCall(started.callId, ['scored', 'failed'], 30_000);
      assert.equal(call.status, 'scored', call.failure_reason ?? '');
      assert.equal(files.served.length, 2, 'downloaded again by the fresh worker');
      const recording = await stack.database.db
        .selectFrom('recordings')
        .selectAll()
        .where('call_id', '=', started.callId)
        .executeTakeFirstOrThrow();
      assert.equal(recording.sha256, createHash('sha256').update(wav).digest('hex'));
    } finally {
      await worker?.kill();
      await stack.close();
      await files.close();
    }
  });
});
