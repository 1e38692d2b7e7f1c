/**
 * A local stand-in for AssemblyAI's v2 REST API, for tests that drive the real `assemblyai` SDK.
 * It implements the endpoints the transcription module calls, as AssemblyAI documents them:
 *
 * - `POST /v2/upload` takes raw bytes and answers `{ upload_url }`;
 * - `POST /v2/transcript` takes the transcript parameters as JSON and answers the queued transcript;
 * - `GET /v2/transcript/:id` answers the transcript, which moves queued → processing → completed
 *   (or error) after a set number of polls or milliseconds.
 *
 * It cannot recognise speech, so a completed transcript is built from a script (by default a short
 * two-speaker sales exchange matching the `two-voice-call.wav` fixture). It records what it received
 * and can be told to fail: a transcript ending in `error`, or N responses of a given status from an
 * endpoint before it recovers. Listens on 127.0.0.1 only.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeEndpoint = 'upload' | 'submit' | 'get';

/** Answer the next `times` requests to an endpoint with `status` (and `error` as the message). */
export type FakeFault = { status: number; times: number; error?: string; retryAfter?: string };

export type FakeScriptLine = { speaker: string; text: string };

export type FakeBehaviour = {
  /** Polls answered `queued`/`processing` before the transcript is final. Default 2. */
  pollsUntilCompleted: number;
  /** When set, the transcript becomes final this long after submission instead, polled or not. */
  processingMs: number | null;
  /** When set, transcripts end in status `error` with this message instead of completing. */
  transcriptError: string | null;
  faults: Partial<Record<FakeEndpoint, FakeFault>>;
  script: FakeScriptLine[];
};

export type FakeAssemblyAiOptions = Partial<FakeBehaviour> & {
  /** The API key the fake accepts in the `Authorization` header. Default `test-api-key`. */
  apiKey?: string;
};

export type FakeUpload = { id: string; bytes: number; sha256: string };

export type FakeTranscriptRecord = {
  id: string;
  /** The JSON body the client submitted. */
  params: Record<string, unknown>;
  status: 'queued' | 'processing' | 'completed' | 'error';
  polls: number;
  createdAt: number;
  behaviour: FakeBehaviour;
};

export type FakeWebhookCall = {
  url: string;
  body: { transcript_id: string; status: string };
  headers: Record<string, string>;
  /** The receiver's HTTP status, or null if it could not be reached. */
  responseStatus: number | null;
};

export type FakeAssemblyAiState = {
  uploads: FakeUpload[];
  transcripts: Map<string, FakeTranscriptRecord>;
  requests: Array<{ method: string; path: string; status: number }>;
  webhooks: FakeWebhookCall[];
};

export type FakeAssemblyAi = {
  /** Base URL to hand the SDK as `baseUrl`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  state: FakeAssemblyAiState;
  /** Changes behaviour for requests from now on; transcripts keep the behaviour they started with. */
  setBehaviour(change: Partial<FakeBehaviour>): void;
  /** Resolves once every webhook call started so far has finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
};

/** The exchange recorded in `tests/fixtures/audio/two-voice-call.wav`. */
export const defaultScript: FakeScriptLine[] = [
  { speaker: 'A', text: 'Hi, this is Jane from Closermode. Have you got a minute?' },
  { speaker: 'B', text: 'Sure, what is it about?' },
  { speaker: 'A', text: 'We score every sales call for your team.' },
  { speaker: 'B', text: 'Send me the details, please.' },
];

const wordMs = 280;
const pauseMs = 300;

type FakeWord = {
  text: string;
  start: number;
  end: number;
  confidence: number;
  speaker: string;
};

/** Lays the script out in time, word by word, deterministically. */
function renderScript(script: FakeScriptLine[]) {
  let cursor = 0;
  const words: FakeWord[] = [];
  const utterances = script.map((line, lineIndex) => {
    const lineWords = line.text
      .split(/\s+/)
      .filter((word) => word !== '')
      .map((text, wordIndex) => {
        const start = cursor;
        cursor += wordMs;
        const confidence = 0.9 + ((lineIndex + wordIndex) % 10) / 100;

        return { text, start, end: cursor - 20, confidence, speaker: line.speaker };
      });
    cursor += pauseMs;
    words.push(...lineWords);
    const confidence =
      lineWords.reduce((sum, word) => sum + word.confidence, 0) / Math.max(lineWords.length, 1);

    return {
      speaker: line.speaker,
      text: line.text,
      start: lineWords[0]?.start ?? cursor,
      end: lineWords.at(-1)?.end ?? cursor,
      confidence,
      words: lineWords,
    };
  });
  const confidence =
    words.reduce((sum, word) => sum + word.confidence, 0) / Math.max(words.length, 1);

  return {
    text: script.map((line) => line.text).join(' '),
    words,
    utterances,
    confidence,
    audio_duration: Math.ceil(cursor / 1000),
  };
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }

  return Buffer.concat(chunks);
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeAssemblyAi(
  options: FakeAssemblyAiOptions = {},
): Promise<FakeAssemblyAi> {
  const apiKey = options.apiKey ?? 'test-api-key';
  const behaviour: FakeBehaviour = {
    pollsUntilCompleted: options.pollsUntilCompleted ?? 2,
    processingMs: options.processingMs ?? null,
    transcriptError: options.transcriptError ?? null,
    faults: { ...options.faults },
    script: options.script ?? defaultScript,
  };
  const state: FakeAssemblyAiState = {
    uploads: [],
    transcripts: new Map(),
    requests: [],
    webhooks: [],
  };
  const timers = new Set<NodeJS.Timeout>();
  const pendingWebhooks = new Set<Promise<void>>();
  let baseUrl = '';

  function transcriptJson(record: FakeTranscriptRecord): Record<string, unknown> {
    const params = record.params;
    const common = {
      id: record.id,
      status: record.status,
      audio_url: params.audio_url,
      language_code: params.language_code ?? 'en_us',
      speaker_labels: params.speaker_labels ?? false,
      speakers_expected: params.speakers_expected ?? null,
      webhook_url: params.webhook_url ?? null,
      webhook_auth: typeof params.webhook_auth_header_name === 'string',
      webhook_auth_header_name: params.webhook_auth_header_name ?? null,
      acoustic_model: 'assemblyai_default',
      language_model: 'assemblyai_default',
      speech_model: null,
      punctuate: true,
      format_text: true,
      text: null,
      words: null,
      utterances: null,
      confidence: null,
      audio_duration: null,
      error: undefined as string | undefined,
    };
    if (record.status === 'completed') {
      return { ...common, ...renderScript(record.behaviour.script) };
    }
    if (record.status === 'error') {
      return { ...common, error: record.behaviour.transcriptError ?? 'transcription failed' };
    }

    return common;
  }

  function sendWebhook(record: FakeTranscriptRecord): void {
    const url = record.params.webhook_url;
    if (typeof url !== 'string') {
      return;
    }

    const body = { transcript_id: record.id, status: record.status };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const name = record.params.webhook_auth_header_name;
    const value = record.params.webhook_auth_header_value;
    if (typeof name === 'string' && typeof value === 'string') {
      headers[name.toLowerCase()] = value;
    }
    const call: FakeWebhookCall = { url, body, headers, responseStatus: null };
    state.webhooks.push(call);

    const delivery = fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
      .then(async (response) => {
        call.responseStatus = response.status;
        await response.body?.cancel();
      })
      .catch(() => undefined)
      .finally(() => pendingWebhooks.delete(delivery));
    pendingWebhooks.add(delivery);
  }

  function finish(record: FakeTranscriptRecord): void {
    if (record.status === 'completed' || record.status === 'error') {
      return;
    }
    record.status = record.behaviour.transcriptError === null ? 'completed' : 'error';
    sendWebhook(record);
  }

  function advance(record: FakeTranscriptRecord): void {
    record.polls += 1;
    const { processingMs, pollsUntilCompleted } = record.behaviour;
    if (processingMs !== null) {
      const age = Date.now() - record.createdAt;
      if (age >= processingMs) {
        finish(record);
      } else if (age >= processingMs / 2 && record.status === 'queued') {
        record.status = 'processing';
      }
      return;
    }

    if (record.polls > pollsUntilCompleted) {
      finish(record);
    } else if (record.polls > 1) {
      record.status = 'processing';
    }
  }

  /** Answers with the endpoint's fault if one is armed, and says whether it did. */
  function injectFault(endpoint: FakeEndpoint, response: ServerResponse): number | null {
    const fault = behaviour.faults[endpoint];
    if (!fault || fault.times <= 0) {
      return null;
    }

    fault.times -= 1;
    const headers: Record<string, string> = fault.retryAfter
      ? { 'retry-after': fault.retryAfter }
      : {};
    sendJson(response, fault.status, { error: fault.error ?? `fake ${endpoint} failure` }, headers);

    return fault.status;
  }

  async function handleUpload(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of request) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }

    const faulted = injectFault('upload', response);
    if (faulted !== null) {
      return faulted;
    }
    const id = randomUUID();
    state.uploads.push({ id, bytes, sha256: hash.digest('hex') });
    sendJson(response, 200, { upload_url: `${baseUrl}/upload/${id}` });

    return 200;
  }

  async function handleSubmit(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const raw = await readBody(request);
    const faulted = injectFault('submit', response);
    if (faulted !== null) {
      return faulted;
    }

    let params: Record<string, unknown>;
    try {
      params = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      sendJson(response, 400, { error: 'Request body is not valid JSON' });
      return 400;
    }
    if (typeof params.audio_url !== 'string' || params.audio_url === '') {
      sendJson(response, 400, { error: 'audio_url is required' });
      return 400;
    }

    const record: FakeTranscriptRecord = {
      id: randomUUID(),
      params,
      status: 'queued',
      polls: 0,
      createdAt: Date.now(),
      behaviour: structuredClone(behaviour),
    };
    state.transcripts.set(record.id, record);
    if (record.behaviour.processingMs !== null) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        finish(record);
      }, record.behaviour.processingMs);
      timers.add(timer);
    }
    sendJson(response, 200, transcriptJson(record));

    return 200;
  }

  function handleGet(id: string, response: ServerResponse): number {
    const faulted = injectFault('get', response);
    if (faulted !== null) {
      return faulted;
    }

    const record = state.transcripts.get(id);
    if (!record) {
      sendJson(response, 404, { error: 'Transcript not found' });
      return 404;
    }
    advance(record);
    sendJson(response, 200, transcriptJson(record));

    return 200;
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    if (request.headers.authorization !== apiKey) {
      request.resume();
      sendJson(response, 401, { error: 'Authentication error, API token missing/invalid' });
      return 401;
    }

    const transcriptPath = /^\/v2\/transcript\/([^/]+)$/.exec(path);
    if (request.method === 'POST' && path === '/v2/upload') {
      return handleUpload(request, response);
    }
    if (request.method === 'POST' && path === '/v2/transcript') {
      return handleSubmit(request, response);
    }
    if (request.method === 'GET' && transcriptPath) {
      return handleGet(decodeURIComponent(transcriptPath[1] ?? ''), response);
    }

    request.resume();
    sendJson(response, 404, { error: 'Not found' });

    return 404;
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    route(request, response).then(
      (status) => state.requests.push({ method: request.method ?? 'GET', path, status }),
      (error: unknown) => {
        state.requests.push({ method: request.method ?? 'GET', path, status: 500 });
        if (!response.headersSent) {
          sendJson(response, 500, { error: String(error) });
        }
      },
    );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    state,
    setBehaviour(change) {
      Object.assign(behaviour, change);
    },
    async settled() {
      await Promise.all(pendingWebhooks);
    },
    async close() {
      for (const timer of timers) {
        clearTimeout(timer);
      }
      await Promise.all(pendingWebhooks);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
