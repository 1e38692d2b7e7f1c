/**
 * Where downloaded recordings are kept: a local directory for development and single-machine
 * installs, or an S3-compatible bucket. Both stream bodies through without holding them in memory and
 * compute the SHA-256 on the way, and neither ever exposes a partly written object under its key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

/** What `put` stored: the byte count and the lowercase hex SHA-256 of exactly those bytes. */
export type StoredObject = { key: string; size: number; sha256: string };

export type RecordingStorage = {
  /**
   * Streams `body` into the object at `key`. The object appears only once the whole body has been
   * written; if the body fails midway, nothing is left at `key` (a previous object there is kept).
   */
  put(
    key: string,
    body: AsyncIterable<Uint8Array>,
    opts?: { contentType?: string },
  ): Promise<StoredObject>;
  /** Opens the object for reading; rejects if it does not exist. */
  get(key: string): Promise<Readable>;
  /** The object's size, or null when there is none at `key`. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Where objects go, for logs and error messages, e.g. `local directory /data/recordings`. */
  describe(): string;
  /**
   * The object's path on this machine, for stores that keep files locally; readers that need random
   * access (duration probing) use it instead of streaming the whole object.
   */
  localPath?(key: string): string;
};

// Each segment starts with a letter, digit or underscore, so `.`, `..` and hidden names are impossible
// and the local store's own `.partial` directory cannot be addressed by a key.
const keySegmentPattern = /^[A-Za-z0-9_][A-Za-z0-9._=-]*$/;
const maxKeyLength = 512;

/**
 * Throws unless `key` is a relative path of plain segments (`recordings/2024/call-42.wav`): no
 * leading slash, no empty, `.` or `..` segments, no backslashes, at most 512 characters.
 */
export function assertStorageKey(key: string): void {
  const segments = key.split('/');
  const valid =
    key.length > 0 &&
    key.length <= maxKeyLength &&
    segments.every((segment) => keySegmentPattern.test(segment));
  if (!valid) {
    throw new Error(`storage key "${key}" is not a relative path of plain segments`);
  }
}

/** Bytes gathered before they are handed to the file system in one `writev`. */
const writeBatchBytes = 1024 * 1024;
/** Batches being written at once; positional writes may complete in any order. */
const writesInFlight = 4;
/**
 * With `flush`, bytes written between background flushes. Flushing as the file grows keeps the disk
 * busy during the download instead of leaving all the writeback to a final `fsync`.
 */
const flushEveryBytes = 8 * 1024 * 1024;

type SpooledFile = { size: number; sha256: Buffer };

/**
 * Writes `body` to a new file at `path` (which must not exist) and hashes it on the way. Chunks are
 * gathered into batches of about 1 MiB and written with positional `writev`s, a few at a time, so
 * the file system works while the next batch arrives, at a few MiB of memory whatever the size.
 * With `flush`, the file is on disk before this resolves. On failure the partial file is left for
 * the caller to remove.
 */
async function spoolToFile(
  body: AsyncIterable<Uint8Array>,
  path: string,
  options: { flush: boolean },
): Promise<SpooledFile> {
  const hash = createHash('sha256');
  const file = await open(path, 'wx');
  const writes = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let size = 0;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let flushedUpTo = 0;
  let flushing: Promise<void> | undefined;

  function track(operation: Promise<unknown>): void {
    const settled = operation.then(
      () => undefined,
      (error: unknown) => {
        failure ??= { error };
      },
    );
    writes.add(settled);
    void settled.finally(() => writes.delete(settled));
  }

  /** Starts a background `fdatasync` once enough has been written since the last, one at a time. */
  function flushInBackground(): void {
    if (!options.flush || flushing || size - flushedUpTo < flushEveryBytes) {
      return;
    }
    flushedUpTo = size;
    flushing = file.datasync().finally(() => {
      flushing = undefined;
    });
    track(flushing);
  }

  function writeBatch(): void {
    track(writeAll(file, batch, size - batchBytes));
    batch = [];
    batchBytes = 0;
  }

  async function settle(limit: number): Promise<void> {
    while (writes.size > limit) {
      await Promise.race(writes);
    }
    if (failure) {
      throw failure.error;
    }
  }

  try {
    for await (const bytes of body) {
      hash.update(bytes);
      size += bytes.length;
      batch.push(bytes);
      batchBytes += bytes.length;
      if (batchBytes >= writeBatchBytes) {
        writeBatch();
        flushInBackground();
        await settle(writesInFlight);
      }
    }
    if (batchBytes > 0) {
      writeBatch();
    }
    await settle(0);
    if (options.flush) {
      await file.sync();
    }
  } finally {
    // Never close the file under a write that is still running.
    await Promise.allSettled(writes);
    await file.close();
  }

  return { size, sha256: hash.digest() };
}

/** `writev` at `position` until every byte is written; the kernel may take fewer at once. */
async function writeAll(file: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let remaining = buffers;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await file.writev(remaining, at);
    if (bytesWritten === 0) {
      throw new Error('the file system accepted none of a write');
    }
    at += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
}

function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
      continue;
    }
    rest.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }

  return rest;
}

/** Makes a rename into `dir` durable; a no-op where directories cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') {
    return;
  }
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export type LocalStorageOptions = {
  /**
   * Flush each file to disk before it is renamed into place, and the rename after (default true),
   * so a recording reported stored survives a power cut. The flushing runs while the file is still
   * being written, so it costs little time on a disk that keeps up with the network.
   */
  fsync?: boolean;
};

/**
 * Stores recordings as files under `dir`. Writes go to `dir/.partial/` first and are renamed into
 * place once complete (and flushed to disk), so a reader never sees a partial file. The content type
 * is not kept: files carry no metadata, and the downloader returns it to its caller instead.
 */
export function createLocalStorage(
  dir: string,
  options: LocalStorageOptions = {},
): RecordingStorage {
  const root = resolve(dir);
  const flush = options.fsync ?? true;
  const partialDir = join(root, '.partial');

  function pathFor(key: string): string {
    assertStorageKey(key);

    return join(root, ...key.split('/'));
  }

  return {
    async put(key, body) {
      const target = pathFor(key);
      await mkdir(partialDir, { recursive: true });
      await mkdir(dirname(target), { recursive: true });

      const temp = join(partialDir, `${randomUUID()}.part`);
      try {
        const written = await spoolToFile(body, temp, { flush });
        await rename(temp, target);
        if (flush) {
          await syncDirectory(dirname(target));
        }

        return { key, size: written.size, sha256: written.sha256.toString('hex') };
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },

    async get(key) {
      // Opening first turns a missing file into a rejected promise instead of a later stream error.
      const handle = await open(pathFor(key), 'r');

      return handle.createReadStream();
    },

    async stat(key) {
      try {
        const info = await stat(pathFor(key));

        return info.isFile() ? { size: info.size } : null;
      } catch (error) {
        if (isMissing(error)) {
          return null;
        }
        throw error;
      }
    },

    async delete(key) {
      await rm(pathFor(key), { force: true });
    },

    describe() {
      return `local directory ${root}`;
    },

    localPath(key) {
      return pathFor(key);
    },
  };
}

export type S3StorageOptions = {
  bucket: string;
  /** Defaults to `us-east-1`, which S3-compatible stores generally accept. */
  region?: string;
  /** For S3-compatible stores (MinIO, R2, Ceph), e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Address objects as `endpoint/bucket/key` rather than `bucket.endpoint/key`. */
  forcePathStyle?: boolean;
  /** Both or neither; without them the SDK's default credential chain applies. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Prepended to every key, e.g. `recordings/`. */
  prefix?: string;
  /** Directory for spooling uploads; defaults to the system temporary directory. */
  spoolDir?: string;
  /** A ready client, for tests or shared connection pools; the options above then only name objects. */
  client?: S3Client;
};

function isNotFound(error: unknown): boolean {
  const candidate = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;

  return (
    candidate?.name === 'NotFound' ||
    candidate?.name === 'NoSuchKey' ||
    candidate?.$metadata?.httpStatusCode === 404
  );
}

function createS3Client(options: S3StorageOptions): S3Client {
  const credentials =
    options.accessKeyId !== undefined && options.secretAccessKey !== undefined
      ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
      : undefined;

  return new S3Client({
    region: options.region ?? 'us-east-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials,
    // The SDK's default streaming checksum trailers are not understood by every S3-compatible store;
    // the SHA-256 we compute anyway is sent as a plain header and checked by S3 itself.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * Stores recordings in an S3 bucket. A single PutObject needs the length up front and
 * `@aws-sdk/lib-storage` (multipart streaming) is not a dependency, so the body is spooled to a
 * temporary file while its SHA-256 is computed, then uploaded from there with its exact length.
 * Memory use stays flat; disk use is one recording at a time per upload.
 */
export function createS3Storage(options: S3StorageOptions): RecordingStorage {
  const client = options.client ?? createS3Client(options);
  const bucket = options.bucket;
  const prefix = options.prefix ?? '';

  function objectKey(key: string): string {
    assertStorageKey(key);

    return prefix + key;
  }

  return {
    async put(key, body, opts) {
      const objectName = objectKey(key);
      const spool = await mkdtemp(join(options.spoolDir ?? tmpdir(), 'closermode-spool-'));
      const spoolFile = join(spool, 'body');
      let written: SpooledFile;
      try {
        written = await spoolToFile(body, spoolFile, { flush: false });
        // TODO: bodies over 5 GiB need a multipart upload, which PutObject cannot do; the downloader
        // caps recordings far below that (512 MiB by default), so this only bites if the cap is raised.
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectName,
            Body: createReadStream(spoolFile),
            ContentLength: written.size,
            ContentType: opts?.contentType,
            ChecksumSHA256: written.sha256.toString('base64'),
          }),
        );
      } finally {
        await rm(spool, { recursive: true, force: true });
      }

      return { key, size: written.size, sha256: written.sha256.toString('hex') };
    },

    async get(key) {
      const output = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }),
      );
      if (!(output.Body instanceof Readable)) {
        throw new Error(`s3 object ${objectKey(key)} has no readable body`);
      }

      return output.Body;
    },

    async stat(key) {
      try {
        const output = await client.send(
          new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }),
        );

        return { size: output.ContentLength ?? 0 };
      } catch (error) {
        if (isNotFound(error)) {
          return null;
        }
        throw error;
      }
    },

    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },

    describe() {
      const where = options.endpoint ? ` at ${options.endpoint}` : '';

      return `s3 bucket s3://${bucket}/${prefix}${where}`;
    },
  };
}
