/**
 * Downloads a call recording from a caller-supplied URL into recording storage, safely: every hop
 * of a redirect chain is checked by the address policy (and the address actually connected to is
 * checked by its lookup), the body must look like audio, its size is capped, and a stalled
 * connection times out. Failures say whether retrying can help, so the caller can pick a retry
 * policy from `retryable` alone.
 */
import { ExternalServiceError, httpFailureDetails } from '../../core/external-error.js';
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, request } from 'undici';
import { parseFile, parseStream } from 'music-metadata';
import type { IAudioMetadata } from 'music-metadata';
import { AddressRefusedError } from '../../core/net/address-policy.js';
import type { AddressPolicy } from '../../core/net/address-policy.js';
import type { RecordingStorage, StoredObject } from './storage.js';

/** Why a download failed; `retryable` on the error says whether another attempt can succeed. */
export type RecordingDownloadErrorKind =
  | 'refused'
  | 'http_status'
  | 'not_audio'
  | 'too_large'
  | 'too_many_redirects'
  | 'timeout'
  | 'network'
  | 'aborted';

/**
 * A failed download. Permanent (`retryable: false`): `refused`, `not_audio`, `too_large`,
 * `too_many_redirects`, `aborted` and `http_status` for 4xx other than 408 and 429. Retryable:
 * `timeout`, `network`, and `http_status` for 5xx, 408 and 429, with `retryAfterMs` when the server
 * sent a usable `Retry-After`.
 */
export class RecordingDownloadError extends ExternalServiceError<RecordingDownloadErrorKind> {
  override readonly name = 'RecordingDownloadError';
}

export type DownloadRecordingOptions = {
  url: string;
  storage: RecordingStorage;
  /** Storage key to write, e.g. `recordings/<call id>.wav`. */
  key: string;
  /** From `createAddressPolicy`; decides which hosts may be fetched. */
  policy: AddressPolicy;
  /** Largest body accepted, in bytes. Default 512 MiB. */
  maxBytes?: number;
  /** Time allowed for DNS and the TCP connection of each hop. Default 10 s. */
  connectTimeoutMs?: number;
  /** Longest silence allowed while waiting for headers or between body chunks. Default 30 s. */
  readTimeoutMs?: number;
  /** Redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  /** Sent to the URL's own origin only, never to a redirect target elsewhere. */
  basicAuth?: { username: string; password: string };
  /** Called with the bytes received so far, at most every `progressIntervalMs` and once at the end. */
  onProgress?: (bytesSoFar: number) => void;
  /** Default 1000 ms. */
  progressIntervalMs?: number;
  /** Cancels the download (an activity's cancellation signal, say); it then fails as `aborted`. */
  signal?: AbortSignal;
};

export type DownloadedRecording = {
  key: string;
  size: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  /** The declared audio or video type, or the type recognised from the first bytes. */
  contentType: string;
  /**
   * Seconds of audio where the stored file's container states it (WAV, FLAC, MP4, Ogg, MP3 with a
   * Xing or VBRI header); null when it does not, or could not be read.
   */
  durationSeconds: number | null;
  /** The URL the body finally came from, after redirects. */
  finalUrl: string;
};

const defaults = {
  maxBytes: 512 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  maxRedirects: 5,
  progressIntervalMs: 1000,
};

type Settings = typeof defaults & DownloadRecordingOptions;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

// Types whose bodies are trusted to be media, as long as they do not start like markup or JSON.
const mediaTypePattern = /^(audio|video)\/[\w.+-]+$/;
const mediaContainerTypes = new Set(['application/ogg', 'application/x-ogg', 'application/mp4']);
// Types that say nothing about the content; the first bytes decide.
const genericTypes = new Set([
  'application/octet-stream',
  'binary/octet-stream',
  'application/binary',
  'application/x-download',
  'application/force-download',
]);

/** How many leading bytes the sniffer wants before deciding. */
const sniffLength = 16;

type Sniffed = { kind: 'audio'; mediaType: string } | { kind: 'text' } | { kind: 'unknown' };

function ascii(bytes: Buffer, start: number, end: number): string {
  return bytes.subarray(start, end).toString('latin1');
}

/** Recognises common audio containers by their magic bytes, and markup or JSON by its first byte. */
export function sniffAudio(head: Buffer): Sniffed {
  const tag = ascii(head, 0, 4);
  const form = ascii(head, 8, 12);

  if ((tag === 'RIFF' || tag === 'RF64') && form === 'WAVE') {
    return { kind: 'audio', mediaType: 'audio/wav' };
  }
  if (tag === 'FORM' && (form === 'AIFF' || form === 'AIFC')) {
    return { kind: 'audio', mediaType: 'audio/aiff' };
  }
  if (ascii(head, 0, 3) === 'ID3') {
    return { kind: 'audio', mediaType: 'audio/mpeg' };
  }
  const first = head[0] ?? 0;
  const second = head[1] ?? 0;
  if (first === 0xff && (second & 0xe0) === 0xe0) {
    // Frame sync; a zero layer field marks AAC in ADTS framing rather than MPEG audio.
    return { kind: 'audio', mediaType: (second & 0x06) === 0 ? 'audio/aac' : 'audio/mpeg' };
  }
  if (tag === 'OggS') {
    return { kind: 'audio', mediaType: 'audio/ogg' };
  }
  if (tag === 'fLaC') {
    return { kind: 'audio', mediaType: 'audio/flac' };
  }
  if (ascii(head, 4, 8) === 'ftyp') {
    return { kind: 'audio', mediaType: 'audio/mp4' };
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))) {
    return { kind: 'audio', mediaType: 'audio/webm' };
  }
  if (ascii(head, 0, 8) === '#!AMR-WB') {
    return { kind: 'audio', mediaType: 'audio/amr-wb' };
  }
  if (ascii(head, 0, 5) === '#!AMR') {
    return { kind: 'audio', mediaType: 'audio/amr' };
  }
  if (tag === 'caff') {
    return { kind: 'audio', mediaType: 'audio/x-caf' };
  }
  if (head.subarray(0, 8).equals(Buffer.from('3026b2758e66cf11', 'hex'))) {
    return { kind: 'audio', mediaType: 'audio/x-ms-wma' };
  }
  if (tag === '.snd') {
    return { kind: 'audio', mediaType: 'audio/basic' };
  }

  return looksLikeMarkup(head) ? { kind: 'text' } : { kind: 'unknown' };
}

/**
 * An HTML, XML or JSON document: printable ASCII throughout, first non-blank character `<`, `{` or
 * `[`. Requiring every byte to be printable keeps raw PCM, which can start with any byte, from
 * being mistaken for it.
 */
function looksLikeMarkup(head: Buffer): boolean {
  const bom = head.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? 3 : 0;
  const body = head.subarray(bom);
  const printable = body.every(
    (byte) => byte === 0x09 || byte === 0x0a || byte === 0x0d || (byte >= 0x20 && byte < 0x7f),
  );

  return printable && /^\s*[<{[]/.test(body.toString('latin1'));
}

function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) {
    return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  }
  if (bytes >= 1024) {
    return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  }

  return `${bytes} bytes`;
}

function tooLarge(maxBytes: number, detail: string): RecordingDownloadError {
  return new RecordingDownloadError(
    'too_large',
    `recording is larger than the ${describeBytes(maxBytes)} limit (${detail})`,
    { retryable: false },
  );
}

function notAudio(what: string): RecordingDownloadError {
  return new RecordingDownloadError('not_audio', `recording URL returned ${what}, not audio`, {
    retryable: false,
  });
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** A response's status line and headers, whichever client received them. */
type ResponseHead = { statusCode: number; headers: IncomingHttpHeaders };

function headerValue(head: ResponseHead, name: string): string | undefined {
  const value = head.headers[name];

  return Array.isArray(value) ? value[0] : value;
}

function mediaTypeOf(response: ResponseHead): string | null {
  const header = headerValue(response, 'content-type');
  const mediaType = header?.split(';')[0]?.trim().toLowerCase();

  return mediaType ? mediaType : null;
}

type ContentDecision = { sniff: 'require_audio' | 'reject_text'; declared: string | null };

/** Decides from the headers alone whether the body may be audio and how to check its first bytes. */
function judgeContentType(response: ResponseHead): ContentDecision {
  const mediaType = mediaTypeOf(response);
  if (mediaType === null || genericTypes.has(mediaType)) {
    return { sniff: 'require_audio', declared: null };
  }
  if (mediaTypePattern.test(mediaType) || mediaContainerTypes.has(mediaType)) {
    return { sniff: 'reject_text', declared: mediaType };
  }

  throw notAudio(mediaType);
}

type BodyGuard = { chunks: AsyncGenerator<Buffer>; sniffedType(): string | null };

/**
 * Counts, caps and sniffs the body on its way to storage, as the chunks storage reads. Throwing
 * here ends storage's read, which makes it discard its partial write; storage stopping early (a
 * full disk) ends this generator, which releases the body.
 */
function guardBody(
  source: AsyncIterable<Buffer>,
  settings: Settings,
  mode: ContentDecision['sniff'],
): BodyGuard {
  let sniffedType: string | null = null;

  function judge(head: Buffer): void {
    const sniffed = sniffAudio(head);
    if (sniffed.kind === 'audio') {
      sniffedType = sniffed.mediaType;
      return;
    }
    if (sniffed.kind === 'text') {
      throw notAudio('a text document');
    }
    if (mode === 'require_audio') {
      throw notAudio('data of no known audio format');
    }
  }

  async function* chunks(): AsyncGenerator<Buffer> {
    let received = 0;
    let lastProgressAt = Date.now();
    // The first bytes are held back until there are enough to judge, then passed on together.
    let head: Buffer | null = Buffer.alloc(0);

    for await (const chunk of source) {
      received += chunk.length;
      if (received > settings.maxBytes) {
        throw tooLarge(settings.maxBytes, `${received} bytes received so far`);
      }
      const now = Date.now();
      if (settings.onProgress && now - lastProgressAt >= settings.progressIntervalMs) {
        lastProgressAt = now;
        settings.onProgress(received);
      }

      if (head === null) {
        yield chunk;
        continue;
      }
      head = Buffer.concat([head, chunk]);
      if (head.length >= sniffLength) {
        judge(head);
        const bytes = head;
        head = null;
        yield bytes;
      }
    }

    if (head !== null) {
      if (head.length === 0) {
        throw notAudio('an empty body');
      }
      judge(head);
      yield head;
    }
  }

  return { chunks: chunks(), sniffedType: () => sniffedType };
}

const retryableCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  // Undici's names for a connection that closed or broke mid-exchange.
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function isNetworkError(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;

  return (
    typeof code === 'string' &&
    (retryableCodes.has(code) ||
      code.startsWith('ERR_TLS_') ||
      code.startsWith('ERR_SSL_') ||
      code.startsWith('HPE_') ||
      code.includes('CERT'))
  );
}

function refused(error: AddressRefusedError): RecordingDownloadError {
  return new RecordingDownloadError('refused', `recording URL ${error.detail}`, {
    retryable: false,
    cause: error,
  });
}

/** Turns whatever a hop or the body pipeline threw into a `RecordingDownloadError`. */
function classifyFailure(error: unknown): unknown {
  if (error instanceof RecordingDownloadError) {
    return error;
  }
  if (error instanceof AddressRefusedError) {
    return refused(error);
  }
  if (isNetworkError(error)) {
    return new RecordingDownloadError(
      'network',
      `recording download failed: ${error.code} ${error.message}`,
      { retryable: true, cause: error },
    );
  }

  // Anything else (a storage failure, say) is not about the download; it keeps its own type.
  return error;
}

function httpStatusError(response: ResponseHead): RecordingDownloadError {
  const status = response.statusCode;
  const text = STATUS_CODES[status] ?? '';

  return new RecordingDownloadError(
    'http_status',
    `recording download failed: HTTP ${status}${text ? ` ${text}` : ''}`,
    httpFailureDetails(status, headerValue(response, 'retry-after')),
  );
}

function abortedError(): RecordingDownloadError {
  return new RecordingDownloadError('aborted', 'recording download was cancelled', {
    retryable: false,
  });
}

function readTimeout(settings: Settings): RecordingDownloadError {
  return new RecordingDownloadError(
    'timeout',
    `recording download timed out: no data for ${seconds(settings.readTimeoutMs)}`,
    { retryable: true },
  );
}

/**
 * The connections of one download. Each socket is opened through the policy's lookup, and the pool
 * lives only as long as the download, so a connection opened without that lookup can never carry
 * one of its requests. Undici's timeouts cover the connection (DNS included), the wait for headers
 * and every gap between body chunks; a paused body (storage catching up) does not count as a gap.
 */
function openConnections(settings: Settings): Agent {
  return new Agent({
    connect: { lookup: settings.policy.lookup, timeout: settings.connectTimeoutMs },
    headersTimeout: settings.readTimeoutMs,
    bodyTimeout: settings.readTimeoutMs,
    connections: 1,
  });
}

/** Turns undici's failures into ours where they say something about the download. */
function transportFailure(error: unknown, settings: Settings, url: URL): unknown {
  if (settings.signal?.aborted) {
    return abortedError();
  }
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new RecordingDownloadError(
        'timeout',
        `recording download timed out: no connection to ${url.host} within ${seconds(settings.connectTimeoutMs)}`,
        { retryable: true, cause: error },
      );
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return readTimeout(settings);
    default:
      return classifyFailure(error);
  }
}

/** One response: its status, headers and a body that must be consumed or discarded. */
type Exchange = ResponseHead & { body: Readable };

/** Drops whatever is left of a body. Undici reports that as an error on the body; nobody reads it. */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function exchange(
  connections: Agent,
  url: URL,
  headers: Record<string, string>,
  settings: Settings,
): Promise<Exchange> {
  try {
    const response = await request(url, {
      method: 'GET',
      headers,
      dispatcher: connections,
      signal: settings.signal,
    });

    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  } catch (error) {
    throw transportFailure(error, settings, url);
  }
}

function requestHeaders(url: URL, original: URL, settings: Settings): Record<string, string> {
  const headers: Record<string, string> = {
    'user-agent': 'closermode-recordings/1',
    accept: 'audio/*, video/*;q=0.9, application/octet-stream;q=0.8, */*;q=0.1',
    'accept-encoding': 'identity',
  };
  if (settings.basicAuth && url.origin === original.origin) {
    const { username, password } = settings.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  return headers;
}

/**
 * Follows redirects by hand so that each new URL passes the policy before it is requested. A
 * refusal is thrown as the policy's error; the caller turns it into a download error.
 */
async function openFinalExchange(
  connections: Agent,
  settings: Settings,
): Promise<{ response: Exchange; url: URL }> {
  const original = settings.policy.checkUrl(settings.url);
  let url = original;

  for (let redirects = 0; ; redirects += 1) {
    if (settings.signal?.aborted) {
      throw abortedError();
    }

    const response = await exchange(
      connections,
      url,
      requestHeaders(url, original, settings),
      settings,
    );
    const location = headerValue(response, 'location');
    if (!redirectStatuses.has(response.statusCode) || location === undefined) {
      return { response, url };
    }

    discard(response.body);
    if (redirects >= settings.maxRedirects) {
      throw new RecordingDownloadError(
        'too_many_redirects',
        `recording download was redirected more than ${settings.maxRedirects} times`,
        { retryable: false },
      );
    }
    url = settings.policy.checkUrl(new URL(location, url));
  }
}

/** Undoes a `Content-Encoding` the server applied although we asked for none. */
function decoderFor(response: ResponseHead): Transform | null {
  const encoding = String(headerValue(response, 'content-encoding') ?? 'identity')
    .trim()
    .toLowerCase();
  switch (encoding) {
    case 'identity':
    case '':
      return null;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw notAudio(`content encoded as ${encoding}`);
  }
}

/** How much of a remote object is read for its duration. */
const durationProbeBytes = 4 * 1024 * 1024;

async function* firstBytes(source: Readable, limit: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of source) {
    const buffer = chunk as Buffer;
    yield buffer.subarray(0, limit - seen);
    seen += buffer.length;
    if (seen >= limit) {
      // Leaving the loop destroys the source, so the rest of the object is never fetched.
      return;
    }
  }
}

function durationOf(metadata: IAudioMetadata): number | null {
  const duration = metadata.format.duration;

  return typeof duration === 'number' && Number.isFinite(duration) && duration > 0
    ? duration
    : null;
}

/**
 * Reads the duration the container states; never fails the download. A local file is probed with
 * random access; a remote object only through its first 4 MiB, which holds the header of WAV, FLAC,
 * MP3 and faststart MP4 files, so formats that keep it at the end (Ogg, MP4 with a trailing index)
 * come back as null there rather than being downloaded a second time.
 */
async function readDuration(
  storage: RecordingStorage,
  key: string,
  mimeType: string,
  size: number,
): Promise<number | null> {
  const options = { duration: false, skipCovers: true };
  let probe: Readable | undefined;
  try {
    if (storage.localPath) {
      return durationOf(await parseFile(storage.localPath(key), options));
    }

    // Byte mode: the parser reads exact lengths, which object-mode chunks do not allow.
    probe = Readable.from(firstBytes(await storage.get(key), durationProbeBytes), {
      objectMode: false,
    });

    return durationOf(await parseStream(probe, { mimeType, size }, options));
  } catch {
    return null;
  } finally {
    // Ends the generator too, which releases the object's stream if the parser stopped early.
    probe?.destroy();
  }
}

/**
 * Streams the recording at `options.url` into `options.storage` under `options.key`, and returns
 * what was stored. Throws `RecordingDownloadError` for every failure of the download itself; when it
 * throws, nothing new is left at the key (storage writes are all-or-nothing).
 */
export async function downloadRecording(
  options: DownloadRecordingOptions,
): Promise<DownloadedRecording> {
  const settings: Settings = {
    ...options,
    maxBytes: options.maxBytes ?? defaults.maxBytes,
    connectTimeoutMs: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
    readTimeoutMs: options.readTimeoutMs ?? defaults.readTimeoutMs,
    maxRedirects: options.maxRedirects ?? defaults.maxRedirects,
    progressIntervalMs: options.progressIntervalMs ?? defaults.progressIntervalMs,
  };

  const connections = openConnections(settings);
  try {
    const { response, url } = await openFinalExchange(connections, settings);
    try {
      return await receive(response, url, settings);
    } finally {
      discard(response.body);
    }
  } catch (error) {
    throw classifyFailure(error);
  } finally {
    await connections.destroy();
  }
}

/** Checks the final response and streams its body into storage. */
async function receive(
  response: Exchange,
  url: URL,
  settings: Settings,
): Promise<DownloadedRecording> {
  const status = response.statusCode;
  if (status < 200 || status >= 300 || status === 206) {
    throw httpStatusError(response);
  }

  const decision = judgeContentType(response);
  const declaredLength = Number(headerValue(response, 'content-length'));
  if (Number.isFinite(declaredLength) && declaredLength > settings.maxBytes) {
    throw tooLarge(settings.maxBytes, `Content-Length ${declaredLength}`);
  }

  const decoder = decoderFor(response);
  // Through a decoder, a broken body ends the decoder with the body's error, which the read below
  // then reports; the pipeline's own callback has nothing left to do.
  const body = decoder ? pipeline(response.body, decoder, () => undefined) : response.body;
  const guard = guardBody(body, settings, decision.sniff);
  let result: StoredObject;
  try {
    // Storage learns the type only when the server declared one: the sniffed type is known only
    // once the first bytes are in, after the write has begun. The result carries it either way.
    result = await settings.storage.put(settings.key, guard.chunks, {
      contentType: decision.declared ?? undefined,
    });
  } catch (error) {
    throw transportFailure(error, settings, url);
  } finally {
    decoder?.destroy();
  }

  const contentType = decision.declared ?? guard.sniffedType() ?? 'application/octet-stream';
  const durationSeconds = await readDuration(
    settings.storage,
    settings.key,
    contentType,
    result.size,
  );
  settings.onProgress?.(result.size);

  return {
    key: result.key,
    size: result.size,
    sha256: result.sha256,
    contentType,
    durationSeconds,
    finalUrl: url.href,
  };
}
