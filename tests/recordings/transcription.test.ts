import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  TranscriptionError,
  createAssemblyAiTranscriber,
  requireCompleted,
} from '../../activities/recordings/transcription.js';
import type {
  AssemblyAiTranscriber,
  TranscriptState,
} from '../../activities/recordings/transcription.js';
import { formatTranscript } from '../../activities/recordings/speakers.js';
import { startFakeAssemblyAi } from '../fakes/assemblyai-server.js';
import type { FakeAssemblyAi } from '../fakes/assemblyai-server.js';
import { startServer } from './http-servers.js';

const fixturePath = fileURLToPath(new URL('../fixtures/audio/two-voice-call.wav', import.meta.url));

async function expectTranscriptionError(
  promise: Promise<unknown>,
  expected: { retryable: boolean; status?: number; message?: RegExp },
): Promise<TranscriptionError> {
  let caught: unknown;
  await promise.catch((error: unknown) => {
    caught = error;
  });

  assert.ok(
    caught instanceof TranscriptionError,
    `expected a TranscriptionError, got ${String(caught)}`,
  );
  assert.equal(caught.retryable, expected.retryable, caught.message);
  assert.equal(caught.status, expected.status);
  if (expected.message) {
    assert.match(caught.message, expected.message);
  }

  return caught;
}

describe('AssemblyAI transcription through the official SDK', () => {
  let fake: FakeAssemblyAi;
  let transcriber: AssemblyAiTranscriber;
  let fixture: Buffer;

  before(async () => {
    fixture = await readFile(fixturePath);
    fake = await startFakeAssemblyAi();
    transcriber = createAssemblyAiTranscriber({ apiKey: 'test-api-key', baseUrl: fake.url });
  });
  after(() => fake.close());
  beforeEach(() => {
    fake.setBehaviour({
      pollsUntilCompleted: 2,
      processingMs: null,
      transcriptError: null,
      faults: {},
    });
  });

  async function pollUntilDone(transcriptId: string): Promise<TranscriptState[]> {
    const states: TranscriptState[] = [];
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const state = await transcriber.get(transcriptId);
      states.push(state);
      if (state.status === 'completed' || state.status === 'error') {
        break;
      }
    }

    return states;
  }

  test('uploads the file, asks for two speakers and maps the finished utterances', async () => {
    const { transcriptId } = await transcriber.submit({
      audio: fixturePath,
      languageCode: 'en_us',
    });

    const upload = fake.state.uploads.at(-1);
    assert.equal(upload?.bytes, fixture.length);
    assert.equal(upload?.sha256, createHash('sha256').update(fixture).digest('hex'));
    const params = fake.state.transcripts.get(transcriptId)?.params;
    assert.equal(params?.audio_url, `${fake.url}/upload/${upload?.id}`);
    assert.equal(params?.speaker_labels, true);
    assert.equal(params?.speakers_expected, 2);
    assert.equal(params?.language_code, 'en_us');

    const states = await pollUntilDone(transcriptId);
    assert.deepEqual(
      states.map((state) => state.status),
      ['queued', 'processing', 'completed'],
    );

    const done = requireCompleted(states.at(-1) as TranscriptState);
    assert.equal(done.utterances.length, 4);
    assert.equal(done.utterances[0]?.speaker, 'A');
    assert.ok(done.utterances.every((utterance) => utterance.end > utterance.start));
    const formatted = formatTranscript(done.utterances, { repName: 'Jane Smith' });
    assert.equal(formatted.agentSpeaker, 'A');
    assert.equal(
      formatted.text,
      [
        'Agent: Hi, this is Jane from Closermode. Have you got a minute?',
        'Customer: Sure, what is it about?',
        'Agent: We score every sales call for your team.',
        'Customer: Send me the details, please.',
      ].join('\n'),
    );
  });

  test('uploads streams and buffers byte for byte', async () => {
    await transcriber.submit({ audio: createReadStream(fixturePath) });
    const fromStream = fake.state.uploads.at(-1);
    await transcriber.submit({ audio: fixture });
    const fromBuffer = fake.state.uploads.at(-1);

    assert.equal(fromStream?.bytes, fixture.length);
    assert.equal(fromStream?.sha256, createHash('sha256').update(fixture).digest('hex'));
    assert.equal(fromBuffer?.sha256, fromStream?.sha256);
  });

  test('returns an error-status transcript, which requireCompleted turns into a permanent failure', async () => {
    fake.setBehaviour({
      transcriptError: 'File does not appear to contain audio.',
      pollsUntilCompleted: 0,
    });
    const { transcriptId } = await transcriber.submit({ audio: fixture });

    const state = await transcriber.get(transcriptId);
    assert.equal(state.status, 'error');
    assert.equal(state.error, 'File does not appear to contain audio.');
    const error = await expectTranscriptionError(
      Promise.resolve().then(() => requireCompleted(state)),
      {
        retryable: false,
        message: /File does not appear to contain audio\./,
      },
    );
    assert.equal(error.kind, 'transcript_failed');
  });

  test('treats a transcript still in progress as retryable not_ready', async () => {
    const { transcriptId } = await transcriber.submit({ audio: fixture });
    const state = await transcriber.get(transcriptId);

    const error = await expectTranscriptionError(
      Promise.resolve().then(() => requireCompleted(state)),
      {
        retryable: true,
      },
    );
    assert.equal(error.kind, 'not_ready');
  });

  test('reports HTTP 429 on upload as retryable with Retry-After, then succeeds', async () => {
    fake.setBehaviour({
      faults: { upload: { status: 429, times: 2, retryAfter: '3', error: 'Too many requests' } },
    });

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await expectTranscriptionError(transcriber.submit({ audio: fixture }), {
        retryable: true,
        status: 429,
        message: /HTTP 429: Too many requests/,
      });
      assert.equal(error.retryAfterMs, 3000);
    }
    const { transcriptId } = await transcriber.submit({ audio: fixture });
    assert.ok(fake.state.transcripts.has(transcriptId));
  });

  test('reports HTTP 5xx on submission and on polling as retryable, then succeeds', async () => {
    fake.setBehaviour({ faults: { submit: { status: 500, times: 1 } } });
    await expectTranscriptionError(transcriber.submit({ audio: fixture }), {
      retryable: true,
      status: 500,
    });
    const { transcriptId } = await transcriber.submit({ audio: fixture });

    fake.setBehaviour({ faults: { get: { status: 503, times: 2 } } });
    await expectTranscriptionError(transcriber.get(transcriptId), { retryable: true, status: 503 });
    await expectTranscriptionError(transcriber.get(transcriptId), { retryable: true, status: 503 });
    assert.equal((await transcriber.get(transcriptId)).status, 'queued');
  });

  test('reports a 400 from AssemblyAI as permanent with its message', async () => {
    fake.setBehaviour({
      faults: { submit: { status: 400, times: 1, error: 'Invalid language_code' } },
    });

    await expectTranscriptionError(transcriber.submit({ audio: fixture, languageCode: 'xx' }), {
      retryable: false,
      status: 400,
      message: /Invalid language_code/,
    });
  });

  test('reports a bad API key as permanent', async () => {
    const wrongKey = createAssemblyAiTranscriber({ apiKey: 'wrong-key', baseUrl: fake.url });

    await expectTranscriptionError(wrongKey.submit({ audio: fixture }), {
      retryable: false,
      status: 401,
      message: /Authentication error/,
    });
    await expectTranscriptionError(wrongKey.get('abc123'), { retryable: false, status: 401 });
  });

  test('refuses a transcript id that is not an opaque token without calling AssemblyAI', async () => {
    const before = fake.state.requests.length;
    const error = await expectTranscriptionError(transcriber.get('../upload'), {
      retryable: false,
    });

    assert.equal(error.kind, 'invalid_request');
    assert.equal(fake.state.requests.length, before);
  });

  test('reports an unreachable API as a retryable network failure', async () => {
    const closed = await startServer(() => undefined);
    const url = closed.origin;
    await closed.close();
    const unreachable = createAssemblyAiTranscriber({ apiKey: 'test-api-key', baseUrl: url });

    const error = await expectTranscriptionError(unreachable.submit({ audio: fixture }), {
      retryable: true,
      message: /ECONNREFUSED/,
    });
    assert.equal(error.kind, 'network');
  });

  test('asks for a webhook, which the fake calls with the auth header once done', async () => {
    const calls: Array<{ body: string; auth: string | undefined }> = [];
    const receiver = await startServer(async (request, response) => {
      let body = '';
      for await (const chunk of request) {
        body += String(chunk);
      }
      calls.push({ body, auth: request.headers['x-closermode-webhook'] as string | undefined });
      response.end('ok');
    });
    fake.setBehaviour({ processingMs: 50 });

    try {
      const { transcriptId } = await transcriber.submit({
        audio: fixture,
        webhookUrl: `${receiver.origin}/hooks/assemblyai`,
        webhookAuthHeader: { name: 'X-Closermode-Webhook', value: 'hook-secret' },
      });
      const deadline = Date.now() + 3000;
      while (calls.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await fake.settled();

      assert.deepEqual(calls, [
        {
          body: JSON.stringify({ transcript_id: transcriptId, status: 'completed' }),
          auth: 'hook-secret',
        },
      ]);
      assert.equal(
        fake.state.transcripts.get(transcriptId)?.params.webhook_auth_header_name,
        'X-Closermode-Webhook',
      );
    } finally {
      await receiver.close();
    }
  });
});
