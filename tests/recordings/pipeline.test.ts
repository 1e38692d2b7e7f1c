// End to end: a call posted with only a recordingUrl is downloaded from a loopback file server,
// transcribed by the real AssemblyAI SDK against a local AssemblyAI stand-in, and scored.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startFakeAssemblyAi, type FakeAssemblyAi } from '../fakes/assemblyai-server.js';
import { startTestStack, temporalAddress, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';
import { startServer, type TestServer } from './http-servers.js';

const wavPath = fileURLToPath(new URL('../fixtures/audio/two-voice-call.wav', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));

describe('recordings end to end', () => {
  let wav: Buffer;
  let files: TestServer;
  let assembly: FakeAssemblyAi;
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    wav = await readFile(wavPath);
    files = await startServer((request, response) => {
      if (request.url?.startsWith('/missing')) {
        response.writeHead(404).end('no such recording');
        return;
      }
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length }).end(wav);
    });
    assembly = await startFakeAssemblyAi({ pollsUntilCompleted: 1 });
    stack = await startTestStack({
      env: {
        ALLOW_PRIVATE_HOSTS: '127.0.0.1',
        ASSEMBLYAI_API_KEY: 'test-api-key',
        ASSEMBLYAI_BASE_URL: assembly.url,
      },
    });
    integration = await stack.createIntegration();
  });
  after(async () => {
    await stack.close();
    await assembly.close();
    await files.close();
  });

  async function post(body: Record<string, unknown>): Promise<string> {
    const response = await stack.postCall(integration, body);
    assert.equal(response.status, 200);

    return ((await response.json()) as { callId: string }).callId;
  }

  test('a call with a recording is downloaded, hashed, transcribed as Agent/Customer and scored', async () => {
    const callId = await post({
      externalId: 'rec-1',
      repName: 'Jane Smith',
      recordingUrl: `${files.origin}/recordings/rec-1.wav`,
    });

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
    assert.equal(call.status, 'scored', call.failure_reason ?? '');

    const recording = await stack.database.db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirstOrThrow();
    assert.equal(recording.sha256, createHash('sha256').update(wav).digest('hex'));
    assert.equal(Number(recording.size), wav.length);
    assert.equal(recording.content_type, 'audio/wav');
    assert.ok(Math.abs((recording.duration_seconds ?? 0) - 9) < 0.5, `duration ${recording.duration_seconds}`);
    assert.equal(assembly.state.uploads.at(-1)?.sha256, recording.sha256, 'AssemblyAI received the stored bytes');

    const submitted = [...assembly.state.transcripts.values()].at(-1)!;
    assert.equal(submitted.params.speaker_labels, true);
    assert.equal(submitted.params.speakers_expected, 2);

    const shown = (await (await stack.admin('GET', `/api/calls/${callId}`)).json()) as { transcript: { text: string; source: string }; score: { stats: { agentTurns: number } } };
    assert.equal(shown.transcript.source, 'assemblyai');
    assert.deepEqual(shown.transcript.text.split('\n'), [
      'Agent: Hi, this is Jane from Closermode. Have you got a minute?',
      'Customer: Sure, what is it about?',
      'Agent: We score every sales call for your team.',
      'Customer: Send me the details, please.',
    ]);
    assert.equal(shown.score.stats.agentTurns, 2);
  });

  test('an inline transcript skips the download and transcription entirely', async () => {
    const before = files.requests.length;
    const uploads = assembly.state.uploads.length;
    const callId = await post({
      externalId: 'rec-inline',
      recordingUrl: `${files.origin}/recordings/never.wav`,
      transcript: 'Agent: Hello there.\nCustomer: Hi.',
    });

    assert.equal((await stack.waitForCall(callId)).status, 'scored');
    assert.equal(files.requests.length, before);
    assert.equal(assembly.state.uploads.length, uploads);
  });

  test('a 404 recording fails the call after one attempt, naming the status', async () => {
    const before = files.requests.filter((request) => request.path.startsWith('/missing')).length;
    const callId = await post({ externalId: 'rec-404', recordingUrl: `${files.origin}/missing/rec.wav` });

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 30_000);
    assert.equal(call.status, 'failed');
    assert.match(call.failure_reason ?? '', /404/);
    assert.equal(files.requests.filter((request) => request.path.startsWith('/missing')).length - before, 1);
  });

  test('AssemblyAI answering 5xx five times and then succeeding ends scored', async () => {
    assembly.setBehaviour({ faults: { submit: { status: 503, times: 5 } } });
    const callId = await post({ externalId: 'rec-flaky', recordingUrl: `${files.origin}/recordings/flaky.wav` });

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 90_000);
    assert.equal(call.status, 'scored', call.failure_reason ?? '');
    const refused = assembly.state.requests.filter((request) => request.path === '/v2/transcript' && request.status === 503);
    assert.ok(refused.length >= 5, `${refused.length} refused submissions`);
  });

  test('a transcript that AssemblyAI ends in error fails the call with its message', async () => {
    assembly.setBehaviour({ faults: {}, transcriptError: 'Audio file contains no speech' });
    const callId = await post({ externalId: 'rec-error', recordingUrl: `${files.origin}/recordings/silent.wav` });

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
    assert.equal(call.status, 'failed');
    assert.match(call.failure_reason ?? '', /Audio file contains no speech/);
    assembly.setBehaviour({ transcriptError: null });
  });

  test('a recording URL on a private address is refused without being fetched', async () => {
    const canary = await startServer((_request, response) => void response.writeHead(200).end('x'), '127.0.0.3');
    try {
      const callId = await post({ externalId: 'rec-ssrf', recordingUrl: `http://169.254.169.254/latest/meta-data/` });
      const viaLoopback = await post({ externalId: 'rec-ssrf-2', recordingUrl: `${canary.origin}/steal` });

      const metadata = await stack.waitForCall(callId, ['scored', 'failed'], 30_000);
      assert.equal(metadata.status, 'failed');
      assert.match(metadata.failure_reason ?? '', /169\.254\.169\.254.*link-local/);
      const loopback = await stack.waitForCall(viaLoopback, ['scored', 'failed'], 30_000);
      assert.equal(loopback.status, 'failed');
      assert.match(loopback.failure_reason ?? '', /loopback/);
      assert.equal(canary.requests.length, 0);
    } finally {
      await canary.close();
    }
  });

  test('HTTP Basic credentials set on the integration are sent to the recording host', async () => {
    const set = await stack.admin('PATCH', `/api/integrations/${integration.id}`, {
      recordingAuth: { username: 'AC123', password: 's3cret-token' },
    });
    const shown = (await set.json()) as Record<string, unknown>;
    assert.equal(shown.hasRecordingAuth, true);
    assert.ok(!JSON.stringify(shown).includes('s3cret-token'), 'the password is never returned');

    const callId = await post({ externalId: 'rec-auth', recordingUrl: `${files.origin}/recordings/auth.wav` });
    assert.equal((await stack.waitForCall(callId, ['scored', 'failed'], 60_000)).status, 'scored');
    const request = files.requests.find((entry) => entry.path === '/recordings/auth.wav');
    assert.equal(request?.headers.authorization, `Basic ${Buffer.from('AC123:s3cret-token').toString('base64')}`);

    const row = await stack.database.db.selectFrom('integrations').select('recording_auth_sealed').where('id', '=', integration.id).executeTakeFirstOrThrow();
    assert.ok(row.recording_auth_sealed && !row.recording_auth_sealed.includes('s3cret-token'), 'stored sealed');
    await stack.admin('PATCH', `/api/integrations/${integration.id}`, { recordingAuth: null });
  });
});

describe('recordings without transcription configured', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ env: { ALLOW_PRIVATE_HOSTS: '127.0.0.1' } });
  });
  after(() => stack.close());

  test('a call with only a recording fails at once, saying transcription is not configured', async () => {
    const integration = await stack.createIntegration();
    const response = await stack.postCall(integration, { externalId: 'no-asr', recordingUrl: 'https://example.com/a.mp3' });
    const { callId } = (await response.json()) as { callId: string };

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 30_000);
    assert.equal(call.status, 'failed');
    assert.equal(call.failure_reason, 'transcription is not configured: set ASSEMBLYAI_API_KEY, or send a transcript');
  });
});

describe('a worker killed mid-download', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL shared between processes (TEST_DATABASE_URL)' }, () => {
  test('the download starts again on another worker and the call is scored', async () => {
    // Two seconds of 8 kHz 16-bit silence per 32 KB, sent slowly so the worker dies while it streams.
    const header = (await readFile(wavPath)).subarray(0, 44);
    const body = Buffer.alloc(600_000);
    const wav = Buffer.concat([header, body]);
    wav.writeUInt32LE(wav.length - 8, 4);
    wav.writeUInt32LE(body.length, 40);
    let firstRequest = true;
    const files = await startServer(async (_request, response) => {
      const slow = firstRequest;
      firstRequest = false;
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
      for (let offset = 0; offset < wav.length; offset += 20_000) {
        if (response.destroyed) {
          return;
        }
        response.write(wav.subarray(offset, offset + 20_000));
        if (slow) {
          await sleep(500);
        }
      }
      response.end();
    });
    const assembly = await startFakeAssemblyAi({ pollsUntilCompleted: 1 });
    const env = {
      ALLOW_PRIVATE_HOSTS: '127.0.0.1',
      ASSEMBLYAI_API_KEY: 'test-api-key',
      ASSEMBLYAI_BASE_URL: assembly.url,
    };
    const stack = await startTestStack({ withWorker: false, env });

    try {
      const child = spawn(process.execPath, [bin, 'worker'], {
        env: {
          ...process.env,
          ...env,
          DATABASE_URL: stack.database.url!,
          TEMPORAL_ADDRESS: temporalAddress(),
          TEMPORAL_TASK_QUEUE: stack.config.temporalTaskQueue,
          CLOSERMODE_DATA_DIR: stack.config.dataDir,
          RECORDINGS_DIR: stack.config.recordings.dir,
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      });
      const integration = await stack.createIntegration();
      const { callId } = (await (await stack.postCall(integration, { externalId: 'killed', recordingUrl: `${files.origin}/slow.wav` })).json()) as { callId: string };

      await stack.waitForCall(callId, ['downloading'], 60_000);
      await sleep(1_500);
      child.kill('SIGKILL');
      await stack.startWorker();

      const call = await stack.waitForCall(callId, ['scored', 'failed'], 90_000);
      assert.equal(call.status, 'scored', call.failure_reason ?? '');
      assert.equal(files.requests.length, 2, 'downloaded again after the first worker died');
      const recording = await stack.database.db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirstOrThrow();
      assert.equal(recording.sha256, createHash('sha256').update(wav).digest('hex'));
    } finally {
      await stack.close();
      await assembly.close();
      await files.close();
    }
  });
});

describe('the bound on AssemblyAI concurrency', () => {
  test('however many calls arrive, no more transcripts run at once than ASSEMBLYAI_CONCURRENCY', async () => {
    const wav = await readFile(wavPath);
    const files = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
    });
    const assembly = await startFakeAssemblyAi({ pollsUntilCompleted: 2 });
    const stack = await startTestStack({
      env: {
        ALLOW_PRIVATE_HOSTS: '127.0.0.1',
        ASSEMBLYAI_API_KEY: 'test-api-key',
        ASSEMBLYAI_BASE_URL: assembly.url,
        ASSEMBLYAI_CONCURRENCY: '2',
      },
    });

    try {
      const integration = await stack.createIntegration();
      const callIds = await Promise.all(
        Array.from({ length: 6 }, async (_, index) => {
          const response = await stack.postCall(integration, { externalId: `bound-${index}`, recordingUrl: `${files.origin}/${index}.wav` });

          return ((await response.json()) as { callId: string }).callId;
        }),
      );

      let most = 0;
      let done = false;
      const sampling = (async () => {
        while (!done) {
          const open = [...assembly.state.transcripts.values()].filter((transcript) => transcript.status === 'queued' || transcript.status === 'processing');
          most = Math.max(most, open.length);
          await sleep(20);
        }
      })();
      for (const callId of callIds) {
        assert.equal((await stack.waitForCall(callId, ['scored', 'failed'], 120_000)).status, 'scored');
      }
      done = true;
      await sampling;

      assert.equal(assembly.state.transcripts.size, 6);
      assert.ok(most <= 2, `${most} transcripts ran at once`);
      assert.equal(most, 2, 'the slots were used in parallel');
    } finally {
      await stack.close();
      await assembly.close();
      await files.close();
    }
  });
});
