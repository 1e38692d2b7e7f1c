import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createAddressPolicy } from '../../core/net/address-policy.js';
import {
  RecordingDownloadError,
  downloadRecording,
  sniffAudio,
} from '../../activities/recordings/download.js';
import type { DownloadRecordingOptions } from '../../activities/recordings/download.js';
import { createLocalStorage, createS3Storage } from '../../activities/recordings/storage.js';
import type { RecordingStorage } from '../../activities/recordings/storage.js';
import { startServer } from './http-servers.js';
import { startFakeS3 } from './s3-fake.js';
import type { TestServer } from './http-servers.js';

const fixturePath = new URL('../fixtures/audio/two-voice-call.wav', import.meta.url);
// sox reports 8.994375 s for the fixture: 71955 samples at 8 kHz.
const fixtureSeconds = 8.994375;

const credentials = { username: 'recordings', password: 's3cret' };
const expectedAuthorization = `Basic ${Buffer.from('recordings:s3cret').toString('base64')}`;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes `total` bytes of WAV-looking data in chunks, `pauseMs` apart, until done or closed. */
async function trickle(
  response: ServerResponse,
  head: Buffer,
  total: number,
  chunkSize: number,
  pauseMs: number,
): Promise<void> {
  response.write(head);
  let sent = head.length;
  while (sent < total && !response.destroyed) {
    const size = Math.min(chunkSize, total - sent);
    response.write(Buffer.alloc(size, 1));
    sent += size;
    await delay(pauseMs);
  }
  response.end();
}

describe('sniffAudio', () => {
  function padded(bytes: number[] | string): Buffer {
    const head = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);

    return Buffer.concat([head, Buffer.alloc(Math.max(0, 16 - head.length), 0x01)]);
  }

  const audio: Array<[string, Buffer, string]> = [
    ['WAV', padded('RIFF\x24\x00\x00\x00WAVEfmt '), 'audio/wav'],
    ['MP3 with ID3', padded('ID3\x04\x00'), 'audio/mpeg'],
    ['MP3 frame', padded([0xff, 0xfb, 0x90, 0x64]), 'audio/mpeg'],
    ['AAC in ADTS', padded([0xff, 0xf1, 0x50, 0x80]), 'audio/aac'],
    ['Ogg', padded('OggS\x00\x02'), 'audio/ogg'],
    ['FLAC', padded('fLaC\x00\x00\x00\x22'), 'audio/flac'],
    ['MP4', padded('\x00\x00\x00\x20ftypM4A '), 'audio/mp4'],
    ['WebM', padded([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'audio/webm'],
    ['AMR', padded('#!AMR\n'), 'audio/amr'],
    ['AMR-WB', padded('#!AMR-WB\n'), 'audio/amr-wb'],
  ];
  for (const [name, head, mediaType] of audio) {
    test(`recognises ${name}`, () => {
      assert.deepEqual(sniffAudio(head), { kind: 'audio', mediaType });
    });
  }

  test('recognises HTML and JSON as text, but not binary data that starts with "<"', () => {
    assert.equal(sniffAudio(Buffer.from('\n  <!DOCTYPE html><html>')).kind, 'text');
    assert.equal(sniffAudio(Buffer.from('\ufeff{"error":"expired"}')).kind, 'text');
    assert.equal(
      sniffAudio(Buffer.from([0x3c, 0x00, 0x91, 0xfe, 0x3c, 0x10, 0x80, 0x7f])).kind,
      'unknown',
    );
  });
});

describe('downloadRecording', () => {
  let fixture: Buffer;
  let files: TestServer;
  let elsewhere: TestServer;
  let dir: string;
  let storage: RecordingStorage;
  const policy = createAddressPolicy({ allowPrivateHosts: ['127.0.0.1'] });

  before(async () => {
    fixture = await readFile(fixturePath);
    dir = await mkdtemp(join(tmpdir(), 'closermode-download-'));
    storage = createLocalStorage(dir);

    elsewhere = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.end(fixture);
    });

    files = await startServer(async (request, response, self) => {
      const url = new URL(request.url ?? '/', self.origin);
      const path = url.pathname;
      const hops = /^\/hops\/(\d+)$/.exec(path);
      const status = /^\/status\/(\d+)$/.exec(path);

      if (path === '/call.wav') {
        response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': fixture.length });
        response.end(fixture);
      } else if (path === '/call-octet') {
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        response.end(fixture);
      } else if (path === '/call-gzip') {
        response.writeHead(200, { 'content-type': 'audio/wav', 'content-encoding': 'gzip' });
        response.end(gzipSync(fixture));
      } else if (hops) {
        const left = Number(hops[1]);
        response.writeHead(302, { location: left === 0 ? '/call.wav' : `/hops/${left - 1}` });
        response.end();
      } else if (status) {
        const code = Number(status[1]);
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (code === 429) {
          headers['retry-after'] = '7';
        }
        if (code === 503) {
          headers['retry-after'] = new Date(Date.now() + 60_000).toUTCString();
        }
        response.writeHead(code, headers);
        response.end('no recording here');
      } else if (path === '/page.html') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end('<!doctype html><title>Sign in</title>');
      } else if (path === '/disguised') {
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        response.end('<!doctype html><html><body>Session expired</body></html>');
      } else if (path === '/json-as-audio') {
        response.writeHead(200, { 'content-type': 'audio/mpeg' });
        response.end('{"error":"link expired"}');
      } else if (path === '/huge-declared') {
        response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': 10_000_000 });
        response.write(fixture.subarray(0, 1024));
      } else if (path === '/endless') {
        response.writeHead(200, { 'content-type': 'audio/wav' });
        await trickle(response, fixture.subarray(0, 44), 8 * 1024 * 1024, 16 * 1024, 1);
      } else if (path === '/stall') {
        response.writeHead(200, { 'content-type': 'audio/wav' });
        response.write(fixture.subarray(0, 4096));
      } else if (path === '/reset') {
        response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': fixture.length });
        response.write(fixture.subarray(0, 4096), () => response.socket?.destroy());
      } else if (path === '/slow') {
        response.writeHead(200, { 'content-type': 'audio/wav' });
        await trickle(response, fixture.subarray(0, 44), 512 * 1024, 32 * 1024, 40);
      } else if (path === '/private') {
        if (request.headers.authorization !== expectedAuthorization) {
          response.writeHead(401, { 'www-authenticate': 'Basic realm="recordings"' });
          response.end();
          return;
        }
        const target = url.searchParams.get('then');
        response.writeHead(302, { location: target ?? '/private-file' });
        response.end();
      } else if (path === '/private-file') {
        const authorised = request.headers.authorization === expectedAuthorization;
        response.writeHead(authorised ? 200 : 401, { 'content-type': 'audio/wav' });
        response.end(authorised ? fixture : undefined);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('not found');
      }
    });
  });

  after(async () => {
    await files.close();
    await elsewhere.close();
    await rm(dir, { recursive: true, force: true });
  });

  function download(path: string, extra: Partial<DownloadRecordingOptions> = {}) {
    return downloadRecording({
      url: `${files.origin}${path}`,
      storage,
      key: 'calls/test.wav',
      policy,
      readTimeoutMs: 5000,
      ...extra,
    });
  }

  async function expectFailure(
    promise: Promise<unknown>,
    expected: { kind: RecordingDownloadError['kind']; retryable: boolean; message?: RegExp },
  ): Promise<RecordingDownloadError> {
    let caught: unknown;
    await promise.catch((error: unknown) => {
      caught = error;
    });

    assert.ok(
      caught instanceof RecordingDownloadError,
      `expected a download error, got ${String(caught)}`,
    );
    assert.equal(caught.kind, expected.kind, caught.message);
    assert.equal(caught.retryable, expected.retryable);
    if (expected.message) {
      assert.match(caught.message, expected.message);
    }

    return caught;
  }

  async function assertNothingStored(key = 'calls/nothing.wav'): Promise<void> {
    assert.equal(await storage.stat(key), null);
    assert.deepEqual(await readdir(join(dir, '.partial')).catch(() => []), []);
  }

  test('stores the served file with matching size and SHA-256, and reads its duration', async () => {
    const result = await download('/call.wav');

    assert.equal(result.size, fixture.length);
    assert.equal(result.sha256, sha256(fixture));
    assert.equal(result.contentType, 'audio/wav');
    assert.equal(result.finalUrl, `${files.origin}/call.wav`);
    assert.ok(result.durationSeconds !== null);
    assert.ok(
      Math.abs(result.durationSeconds - fixtureSeconds) < 0.01,
      String(result.durationSeconds),
    );

    const stored = await readFile(join(dir, 'calls', 'test.wav'));
    assert.equal(sha256(stored), sha256(fixture));
  });

  test('accepts an octet-stream body that starts like a WAV file and reports the sniffed type', async () => {
    const result = await download('/call-octet', { key: 'calls/octet.wav' });

    assert.equal(result.sha256, sha256(fixture));
    assert.equal(result.contentType, 'audio/wav');
  });

  test('stores a body the server gzipped anyway as the decoded recording', async () => {
    const result = await download('/call-gzip', { key: 'calls/gzip.wav' });

    assert.equal(result.size, fixture.length);
    assert.equal(result.sha256, sha256(fixture));
  });

  test('follows five redirects and reports where the body came from', async () => {
    const result = await download('/hops/4', { key: 'calls/hops.wav' });

    assert.equal(result.sha256, sha256(fixture));
    assert.equal(result.finalUrl, `${files.origin}/call.wav`);
  });

  test('refuses a sixth redirect', async () => {
    await expectFailure(download('/hops/5', { key: 'calls/nothing.wav' }), {
      kind: 'too_many_redirects',
      retryable: false,
      message: /more than 5 times/,
    });
    await assertNothingStored();
  });

  for (const [code, text] of [
    [404, 'Not Found'],
    [403, 'Forbidden'],
    [410, 'Gone'],
    [401, 'Unauthorized'],
  ] as const) {
    test(`treats HTTP ${code} as permanent and names the status`, async () => {
      const error = await expectFailure(download(`/status/${code}`, { key: 'calls/nothing.wav' }), {
        kind: 'http_status',
        retryable: false,
      });

      assert.equal(error.message, `recording download failed: HTTP ${code} ${text}`);
      assert.equal(error.status, code);
      await assertNothingStored();
    });
  }

  test('treats HTTP 503 as retryable and converts an HTTP-date Retry-After', async () => {
    const error = await expectFailure(download('/status/503'), {
      kind: 'http_status',
      retryable: true,
      message: /HTTP 503 Service Unavailable/,
    });

    assert.equal(error.status, 503);
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 50_000);
  });

  test('treats HTTP 429 as retryable with Retry-After: 7 as 7000 ms', async () => {
    const error = await expectFailure(download('/status/429'), {
      kind: 'http_status',
      retryable: true,
    });

    assert.equal(error.retryAfterMs, 7000);
  });

  test('treats HTTP 408 as retryable', async () => {
    await expectFailure(download('/status/408'), { kind: 'http_status', retryable: true });
  });

  test('refuses an HTML page as not audio', async () => {
    await expectFailure(download('/page.html', { key: 'calls/nothing.wav' }), {
      kind: 'not_audio',
      retryable: false,
      message: /returned text\/html, not audio/,
    });
    await assertNothingStored();
  });

  test('refuses an HTML page served as application/octet-stream', async () => {
    await expectFailure(download('/disguised', { key: 'calls/nothing.wav' }), {
      kind: 'not_audio',
      retryable: false,
    });
    await assertNothingStored();
  });

  test('refuses a JSON error body labelled as audio', async () => {
    await expectFailure(download('/json-as-audio', { key: 'calls/nothing.wav' }), {
      kind: 'not_audio',
      retryable: false,
    });
    await assertNothingStored();
  });

  test('refuses a Content-Length over the limit before reading the body', async () => {
    const started = Date.now();
    await expectFailure(
      download('/huge-declared', { key: 'calls/nothing.wav', maxBytes: 1024 * 1024 }),
      { kind: 'too_large', retryable: false, message: /1 MiB limit \(Content-Length 10000000\)/ },
    );

    // The server never finishes that body; only refusing on the header returns this quickly.
    assert.ok(Date.now() - started < 2000);
    await assertNothingStored();
  });

  test('aborts a chunked body that grows past the limit and leaves nothing stored', async () => {
    await expectFailure(download('/endless', { key: 'calls/nothing.wav', maxBytes: 256 * 1024 }), {
      kind: 'too_large',
      retryable: false,
      message: /256 KiB limit/,
    });
    await assertNothingStored();
  });

  test('times out when the body stalls, retryably, and leaves nothing stored', async () => {
    await expectFailure(download('/stall', { key: 'calls/nothing.wav', readTimeoutMs: 300 }), {
      kind: 'timeout',
      retryable: true,
      message: /no data for 0\.3 s/,
    });
    await assertNothingStored();
  });

  test('times out, retryably, when the host cannot be resolved and connected in time', async () => {
    // A resolver that never answers stands in for an unresponsive DNS server or a dropped SYN.
    const hanging = createAddressPolicy({ resolve: () => new Promise(() => undefined) });
    const started = Date.now();

    await expectFailure(
      downloadRecording({
        url: 'http://recordings.invalid/call.wav',
        storage,
        key: 'calls/nothing.wav',
        policy: hanging,
        connectTimeoutMs: 200,
      }),
      {
        kind: 'timeout',
        retryable: true,
        message: /no connection to recordings\.invalid within 0\.2 s/,
      },
    );
    assert.ok(Date.now() - started < 2000);
    await assertNothingStored();
  });

  test('reports a connection reset mid-body as a retryable network failure', async () => {
    await expectFailure(download('/reset', { key: 'calls/nothing.wav' }), {
      kind: 'network',
      retryable: true,
    });
    await assertNothingStored();
  });

  test('stops when the caller aborts, without retrying and without leaving a file', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);

    await expectFailure(
      download('/stall', { key: 'calls/nothing.wav', signal: controller.signal }),
      {
        kind: 'aborted',
        retryable: false,
      },
    );
    await assertNothingStored();
  });

  test('keeps an existing recording when a later attempt at the same key fails', async () => {
    await download('/call.wav', { key: 'calls/kept.wav' });
    await expectFailure(download('/stall', { key: 'calls/kept.wav', readTimeoutMs: 200 }), {
      kind: 'timeout',
      retryable: true,
    });

    assert.deepEqual(await storage.stat('calls/kept.wav'), { size: fixture.length });
  });

  test('sends basic auth to the recording host and keeps it across a same-origin redirect', async () => {
    const result = await download('/private', { key: 'calls/auth.wav', basicAuth: credentials });

    assert.equal(result.sha256, sha256(fixture));
    assert.equal(result.finalUrl, `${files.origin}/private-file`);
  });

  test('does not send basic auth to a redirect target on another origin', async () => {
    const before = elsewhere.requests.length;
    const target = encodeURIComponent(`${elsewhere.origin}/call.wav`);
    const result = await download(`/private?then=${target}`, {
      key: 'calls/auth-elsewhere.wav',
      basicAuth: credentials,
    });

    const first = files.requests.findLast((request) => request.path.startsWith('/private?then='));
    const second = elsewhere.requests.at(-1);
    assert.equal(first?.headers.authorization, expectedAuthorization);
    assert.equal(elsewhere.requests.length, before + 1);
    assert.equal(second?.headers.authorization, undefined);
    assert.equal(result.finalUrl, `${elsewhere.origin}/call.wav`);
  });

  test('reads the duration of a recording in a remote store from its first bytes', async () => {
    const s3 = await startFakeS3();
    try {
      const remote = createS3Storage({
        bucket: 'recordings',
        endpoint: s3.server.origin,
        forcePathStyle: true,
        accessKeyId: 'test-access-key',
        secretAccessKey: 'test-secret-key',
      });
      const result = await download('/call.wav', { key: 'calls/remote.wav', storage: remote });

      assert.equal(result.sha256, sha256(fixture));
      assert.ok(result.durationSeconds !== null);
      assert.ok(Math.abs(result.durationSeconds - fixtureSeconds) < 0.01);
      assert.equal(s3.objects.get('/recordings/calls/remote.wav')?.contentType, 'audio/wav');
    } finally {
      await s3.close();
    }
  });

  test('reports progress at most once per interval and once at the end', async () => {
    const calls: number[] = [];
    const result = await download('/slow', {
      key: 'calls/slow.wav',
      progressIntervalMs: 150,
      onProgress: (bytes) => calls.push(bytes),
    });

    assert.equal(calls.at(-1), result.size);
    assert.ok(calls.length >= 2, `only ${calls.length} progress calls`);
    assert.ok(calls.length <= 6, `${calls.length} progress calls for a ~0.7 s download`);
    assert.deepEqual(
      calls,
      [...calls].sort((a, b) => a - b),
    );
  });

  test('reports a fast download with the default interval only at the end', async () => {
    const calls: number[] = [];
    await download('/call.wav', {
      key: 'calls/fast.wav',
      onProgress: (bytes) => calls.push(bytes),
    });

    assert.deepEqual(calls, [fixture.length]);
  });
});
