/**
 * Downloads a call recording from a caller-supplied URL into recording storage, safely: every hop
 * of a redirect chain is checked by the address policy (and the address actually connected to is
 * checked by its lookup), the body must look like audio, its size is capped, and a stalled
 * connection times out. Failures say whether retrying can help, so the caller can pick a retry
 * policy from `retryable` alone.
 */
import { ExternalServiceError } from '../../core/external-error.js';
import { STATUS_CODES, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { parseFile, parseStream } from 'music-metadata';
import type { IAudioMetadata } from 'music-metadata';
import { AddressRefusedError } from '../../core/net/address-policy.js';
import type { AddressPolicy } from '../../core/net/address-policy.js';
import { parseRetryAfter } from '../../core/net/retry-after.js';
import { streamBufferBytes } from './storage.js';
import type { RecordingStorage } from './storage.js';

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

function mediaTypeOf(response: IncomingMessage): string | null {
  const header = response.headers['content-type'];
  const mediaType = header?.split(';')[0]?.trim().toLowerCase();

  return mediaType ? mediaType : null;
}

type ContentDecision = { sniff: 'require_audio' | 'reject_text'; declared: string | null };

/** Decides from the headers alone whether the body may be audio and how to check its first bytes. */
function judgeContentType(response: IncomingMessage): ContentDecision {
  const mediaType = mediaTypeOf(response);
  if (mediaType === null || genericTypes.has(mediaType)) {
    return { sniff: 'require_audio', declared: null };
  }
  if (mediaTypePattern.test(mediaType) || mediaContainerTypes.has(mediaType)) {
    return { sniff: 'reject_text', declared: mediaType };
  }

  throw notAudio(mediaType);
}

type BodyGuard = { stream: Transform; sniffedType(): string | null };

/**
 * Counts, caps and sniffs the body on its way to storage. Failing here destroys the pipeline, which
 * makes storage discard its partial write.
 */
function createBodyGuard(settings: Settings, mode: ContentDecision['sniff']): BodyGuard {
  let received = 0;
  let head: Buffer | null = Buffer.alloc(0);
  let sniffedType: string | null = null;
  let lastProgressAt = Date.now();

  function decide(bytes: Buffer): RecordingDownloadError | null {
    const sniffed = sniffAudio(bytes);
    if (sniffed.kind === 'audio') {
      sniffedType = sniffed.mediaType;
      return null;
    }
    if (sniffed.kind === 'text') {
      return notAudio('a text document');
    }

    return mode === 'require_audio' ? notAudio('data of no known audio format') : null;
  }

  /** Judges the first bytes once, then passes them on (or refuses the body). */
  function release(callback: (error?: Error | null, data?: Buffer) => void): void {
    const bytes = head!;
    head = null;
    const refusal = decide(bytes);
    if (refusal) {
      callback(refusal);
      return;
    }
    callback(null, bytes);
  }

  function reportProgress(): void {
    const now = Date.now();
    if (settings.onProgress && now - lastProgressAt >= settings.progressIntervalMs) {
      lastProgressAt = now;
      settings.onProgress(received);
    }
  }

  const stream = new Transform({
    highWaterMark: streamBufferBytes,
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > settings.maxBytes) {
        callback(tooLarge(settings.maxBytes, `${received} bytes received so far`));
        return;
      }
      reportProgress();

      if (head === null) {
        callback(null, chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      if (head.length < sniffLength) {
        callback();
        return;
      }
      release(callback);
    },
    flush(callback) {
      if (head === null) {
        callback();
        return;
      }
      if (head.length === 0) {
        callback(notAudio('an empty body'));
        return;
      }
      release(callback);
    },
  });

  return { stream, sniffedType: () => sniffedType };
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

function httpStatusError(response: IncomingMessage): RecordingDownloadError {
  const status = response.statusCode ?? 0;
  const text = response.statusMessage || STATUS_CODES[status] || '';
  const retryable = status >= 500 || status === 408 || status === 429;
  const retryAfter = response.headers['retry-after'];

  return new RecordingDownloadError(
    'http_status',
    `recording download failed: HTTP ${status}${text ? ` ${text}` : ''}`,
    {
      retryable,
      status,
      retryAfterMs: retryable ? parseRetryAfter(retryAfter) : undefined,
    },
  );
}

/**
 * One HTTP exchange with its timers. `fail` ends it with an error that reaches whoever is reading
 * the response; `close` ends it quietly.
 */
type Exchange = { response: IncomingMessage; fail(error: Error): void; close(): void };

function abortedError(): RecordingDownloadError {
  return new RecordingDownloadError('aborted', 'recording download was cancelled', {
    retryable: false,
  });
}

function openExchange(
  url: URL,
  headers: OutgoingHttpHeaders,
  settings: Settings,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // A fresh connection per hop (no agent) so a pooled socket opened elsewhere, without our lookup,
    // can never carry the request.
    const request: ClientRequest = send(url, {
      method: 'GET',
      headers,
      agent: false,
      lookup: settings.policy.lookup,
    });
    let response: IncomingMessage | undefined;

    const connectTimer = setTimeout(() => {
      const where = url.host;
      fail(
        new RecordingDownloadError(
          'timeout',
          `recording download timed out: no connection to ${where} within ${seconds(settings.connectTimeoutMs)}`,
          { retryable: true },
        ),
      );
    }, settings.connectTimeoutMs);
    const onAbort = () => fail(abortedError());
    settings.signal?.addEventListener('abort', onAbort, { once: true });

    function release(): void {
      clearTimeout(connectTimer);
      settings.signal?.removeEventListener('abort', onAbort);
    }

    function fail(error: Error): void {
      release();
      response?.destroy(error);
      request.destroy(error);
    }

    function close(): void {
      release();
      response?.destroy();
      request.destroy();
    }

    request.once('socket', (socket) => {
      if (!socket.connecting) {
        clearTimeout(connectTimer);
        return;
      }
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    // Node arms this on the socket once connected; it covers the wait for headers and every gap
    // between body chunks.
    request.setTimeout(settings.readTimeoutMs, () => {
      fail(
        new RecordingDownloadError(
          'timeout',
          `recording download timed out: no data for ${seconds(settings.readTimeoutMs)}`,
          { retryable: true },
        ),
      );
    });
    request.on('error', (error) => {
      release();
      reject(error);
    });
    request.once('response', (incoming) => {
      response = incoming;
      // The body pipeline listens for errors while it runs; this keeps a late timeout or abort,
      // after the pipeline has let go, from becoming an uncaught 'error' event.
      incoming.on('error', () => undefined);
      resolve({ response: incoming, fail, close });
    });

    request.end();
  });
}

function requestHeaders(url: URL, original: URL, settings: Settings): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
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

function checkUrl(policy: AddressPolicy, url: string | URL): URL {
  try {
    return policy.checkUrl(url);
  } catch (error) {
    throw classifyFailure(error);
  }
}

/** Follows redirects by hand so that each new URL passes the policy before it is requested. */
async function openFinalExchange(settings: Settings): Promise<{ exchange: Exchange; url: URL }> {
  const original = checkUrl(settings.policy, settings.url);
  let url = original;

  for (let redirects = 0; ; redirects += 1) {
    if (settings.signal?.aborted) {
      throw abortedError();
    }

    const exchange = await openExchange(url, requestHeaders(url, original, settings), settings);
    const status = exchange.response.statusCode ?? 0;
    const location = exchange.response.headers.location;

    if (!redirectStatuses.has(status) || location === undefined) {
      return { exchange, url };
    }

    exchange.close();
    if (redirects >= settings.maxRedirects) {
      throw new RecordingDownloadError(
        'too_many_redirects',
        `recording download was redirected more than ${settings.maxRedirects} times`,
        { retryable: false },
      );
    }
    url = checkUrl(settings.policy, new URL(location, url));
  }
}

/** Undoes a `Content-Encoding` the server applied although we asked for none. */
function decoderFor(response: IncomingMessage): Transform | null {
  const encoding = String(response.headers['content-encoding'] ?? 'identity')
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

/**
 * Chooses which side's error explains a failed transfer. A failure while receiving is echoed by
 * storage as the same error; a storage failure (a full disk) shows on the receiving side only as a
 * premature close, so then the storage error is the real one.
 */
function pickFailure(
  received: PromiseSettledResult<unknown>,
  stored: PromiseSettledResult<unknown>,
): unknown {
  const receivedError = received.status === 'rejected' ? received.reason : undefined;
  const storedError = stored.status === 'rejected' ? stored.reason : undefined;
  const prematureClose =
    (receivedError as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE';

  return storedError !== undefined && (receivedError === undefined || prematureClose)
    ? storedError
    : receivedError;
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

// TODO: on loopback this reaches about a third of curl's throughput (0.19 with fsync, 0.31 without,
// against a target of 0.8); Node's http client alone reaches half of curl's here, so undici.request
// with the same lookup guard is the next thing to try. Memory stays flat whatever the file size.
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

  const { exchange, url } = await openFinalExchange(settings).catch((error: unknown) => {
    throw classifyFailure(error);
  });
  const { response } = exchange;
  try {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300 || status === 206) {
      throw httpStatusError(response);
    }

    const decision = judgeContentType(response);
    const declaredLength = Number(response.headers['content-length']);
    if (Number.isFinite(declaredLength) && declaredLength > settings.maxBytes) {
      throw tooLarge(settings.maxBytes, `Content-Length ${declaredLength}`);
    }

    const guard = createBodyGuard(settings, decision.sniff);
    const decoder = decoderFor(response);
    const incoming = decoder
      ? pipeline(response, decoder, guard.stream)
      : pipeline(response, guard.stream);
    // Storage learns the type only when the server declared one: the sniffed type is known only
    // once the first bytes are in, after the write has begun. The result carries it either way.
    const [received, stored] = await Promise.allSettled([
      incoming,
      settings.storage.put(settings.key, guard.stream, {
        contentType: decision.declared ?? undefined,
      }),
    ]);
    if (received.status === 'rejected' || stored.status === 'rejected') {
      throw pickFailure(received, stored);
    }

    const contentType = decision.declared ?? guard.sniffedType() ?? 'application/octet-stream';
    const result = stored.value;
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
  } catch (error) {
    throw classifyFailure(error);
  } finally {
    exchange.close();
  }
}
