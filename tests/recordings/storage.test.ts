import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import {
  assertStorageKey,
  createLocalStorage,
  createS3Storage,
} from '../../activities/recordings/storage.js';
import type { RecordingStorage } from '../../activities/recordings/storage.js';
import { startFakeS3 } from './s3-fake.js';
import type { FakeS3 } from './s3-fake.js';

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A body that yields some bytes and then fails, like a connection dropping mid-download. */
function failingBody(): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.alloc(64 * 1024, 7);
      throw new Error('connection dropped');
    })(),
  );
}

/**
 * About 21 MB in chunks of uneven sizes, each filled with its own index, so that a batch written at
 * the wrong position or out of order shows up in the stored bytes.
 */
function unevenChunks(): Buffer[] {
  const chunks: Buffer[] = [];
  for (let index = 0; index < 700; index += 1) {
    chunks.push(Buffer.alloc(1 + ((index * 7919) % 60_000), index % 251));
  }

  return chunks;
}

describe('assertStorageKey', () => {
  test('accepts relative paths of plain segments', () => {
    for (const key of ['call.wav', 'recordings/2026/04/call-42.wav', 'a_b/c=d.mp3']) {
      assert.doesNotThrow(() => assertStorageKey(key), key);
    }
  });

  test('refuses traversal, absolute, empty, hidden and backslashed keys', () => {
    for (const key of [
      '',
      '../etc/passwd',
      'a/../b',
      '/abs.wav',
      'a//b',
      '.partial/x',
      'a/.',
      'a\\b',
      'x/',
    ]) {
      assert.throws(() => assertStorageKey(key), /storage key/, key);
    }
  });
});

describe('local storage', () => {
  let dir: string;
  let storage: RecordingStorage;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closermode-storage-'));
    storage = createLocalStorage(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('stores a stream and reports its size and SHA-256', async () => {
    const body = Buffer.from('RIFF fake recording bytes');
    const stored = await storage.put('calls/one.wav', Readable.from([body]));

    assert.deepEqual(stored, { key: 'calls/one.wav', size: body.length, sha256: sha256(body) });
    assert.deepEqual(await readFile(join(dir, 'calls', 'one.wav')), body);
    assert.deepEqual(await storage.stat('calls/one.wav'), { size: body.length });
    assert.equal(await text(await storage.get('calls/one.wav')), body.toString());
  });

  test('leaves nothing at the key, and no temporary file, when the body fails midway', async () => {
    await assert.rejects(storage.put('calls/broken.wav', failingBody()), /connection dropped/);

    assert.equal(await storage.stat('calls/broken.wav'), null);
    assert.deepEqual(await readdir(join(dir, '.partial')), []);
  });

  for (const fsync of [true, false]) {
    test(`stores a large body of uneven chunks byte for byte, fsync ${fsync ? 'on' : 'off'}`, async () => {
      const chunks = unevenChunks();
      const expected = Buffer.concat(chunks);
      const local = createLocalStorage(dir, { fsync });
      const stored = await local.put(`calls/large-${fsync}.wav`, Readable.from(chunks));

      assert.equal(stored.size, expected.length);
      assert.equal(stored.sha256, sha256(expected));
      assert.ok((await readFile(join(dir, 'calls', `large-${fsync}.wav`))).equals(expected));
    });
  }

  test('cleans up when the body fails after several batches are on their way to disk', async () => {
    const body = Readable.from(
      (async function* () {
        yield* unevenChunks();
        throw new Error('connection dropped late');
      })(),
    );
    await assert.rejects(storage.put('calls/late-break.wav', body), /connection dropped late/);

    assert.equal(await storage.stat('calls/late-break.wav'), null);
    assert.deepEqual(await readdir(join(dir, '.partial')), []);
  });

  test('deletes objects, and deleting a missing one is not an error', async () => {
    await storage.put('calls/gone.wav', Readable.from([Buffer.from('x')]));
    await storage.delete('calls/gone.wav');
    await storage.delete('calls/never.wav');

    assert.equal(await storage.stat('calls/gone.wav'), null);
    await assert.rejects(storage.get('calls/gone.wav'), { code: 'ENOENT' });
  });

  test('refuses a key that would escape the directory', async () => {
    await assert.rejects(
      storage.put('../outside.wav', Readable.from([Buffer.from('x')])),
      /storage key/,
    );
  });

  test('describes where it keeps files', () => {
    assert.match(storage.describe(), /^local directory \//);
  });
});

describe('S3 storage against a local S3-compatible server', () => {
  let s3: FakeS3;
  let storage: RecordingStorage;
  let spoolDir: string;

  before(async () => {
    s3 = await startFakeS3();
    spoolDir = await mkdtemp(join(tmpdir(), 'closermode-spool-test-'));
    storage = createS3Storage({
      bucket: 'recordings',
      endpoint: s3.server.origin,
      forcePathStyle: true,
      region: 'eu-central-1',
      accessKeyId: 'test-access-key',
      secretAccessKey: 'test-secret-key',
      prefix: 'calls/',
      spoolDir,
    });
  });
  after(async () => {
    await s3.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  test('uploads with length, type and a SHA-256 the server verifies, then reads it back', async () => {
    const body = Buffer.alloc(300 * 1024, 3);
    const stored = await storage.put(
      'a/one.wav',
      Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
      {
        contentType: 'audio/wav',
      },
    );

    assert.deepEqual(stored, { key: 'a/one.wav', size: body.length, sha256: sha256(body) });
    const object = s3.objects.get('/recordings/calls/a/one.wav');
    assert.ok(object);
    assert.equal(object.contentType, 'audio/wav');
    assert.equal(object.checksumSha256, createHash('sha256').update(body).digest('base64'));
    assert.equal(sha256(object.body), sha256(body));
    assert.deepEqual(await storage.stat('a/one.wav'), { size: body.length });

    const read = await storage.get('a/one.wav');
    const chunks: Buffer[] = [];
    for await (const chunk of read) {
      chunks.push(chunk as Buffer);
    }
    assert.equal(sha256(Buffer.concat(chunks)), sha256(body));
    assert.deepEqual(await readdir(spoolDir), []);
  });

  test('reports a missing object as null and deletes objects', async () => {
    assert.equal(await storage.stat('a/missing.wav'), null);

    await storage.put('a/two.wav', Readable.from([Buffer.from('two')]));
    await storage.delete('a/two.wav');
    assert.equal(s3.objects.has('/recordings/calls/a/two.wav'), false);
    await assert.rejects(storage.get('a/two.wav'), { name: 'NoSuchKey' });
  });

  test('uploads nothing and removes its spool file when the body fails midway', async () => {
    await assert.rejects(storage.put('a/broken.wav', failingBody()), /connection dropped/);

    assert.equal(s3.objects.has('/recordings/calls/a/broken.wav'), false);
    assert.deepEqual(await readdir(spoolDir), []);
  });

  test('describes its bucket, prefix and endpoint', () => {
    assert.equal(storage.describe(), `s3 bucket s3://recordings/calls/ at ${s3.server.origin}`);
  });
});
