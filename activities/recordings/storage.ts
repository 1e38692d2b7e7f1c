/**
 * Where downloaded recordings are kept: a local directory for development and single-machine
 * installs, or an S3-compatible bucket. Both stream bodies through without holding them in memory and
 * compute the SHA-256 on the way, and neither ever exposes a partly written object under its key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  put(key: string, body: Readable, opts?: { contentType?: string }): Promise<StoredObject>;
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

// Node's default 16 KiB stream buffers stop the network read whenever a single 64 KiB socket chunk
// waits for the disk; a few MiB in flight lets receiving and writing overlap.
export const streamBufferBytes = 1024 * 1024;

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

type Digest = { stream: Transform; size(): number; sha256(): Buffer };

function createDigest(): Digest {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    highWaterMark: streamBufferBytes,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  let digest: Buffer | undefined;

  return {
    stream,
    size: () => size,
    sha256: () => (digest ??= hash.digest()),
  };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export type LocalStorageOptions = {
  /**
   * Flush each file to disk before it is renamed into place (default true), so a recording reported
   * stored survives a power cut. Costs disk bandwidth: about as long again as writing the file.
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
      const digest = createDigest();
      try {
        await pipeline(
          body,
          digest.stream,
          createWriteStream(temp, { flags: 'wx', flush, highWaterMark: streamBufferBytes }),
        );
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }

      return { key, size: digest.size(), sha256: digest.sha256().toString('hex') };
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
      const digest = createDigest();
      try {
        await pipeline(
          body,
          digest.stream,
          createWriteStream(spoolFile, { flags: 'wx', highWaterMark: streamBufferBytes }),
        );
        // TODO: bodies over 5 GiB need a multipart upload, which PutObject cannot do; the downloader
        // caps recordings far below that (512 MiB by default), so this only bites if the cap is raised.
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectName,
            Body: createReadStream(spoolFile),
            ContentLength: digest.size(),
            ContentType: opts?.contentType,
            ChecksumSHA256: digest.sha256().toString('base64'),
          }),
        );
      } finally {
        await rm(spool, { recursive: true, force: true });
      }

      return { key, size: digest.size(), sha256: digest.sha256().toString('hex') };
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
