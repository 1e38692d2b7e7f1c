/**
 * Transcription through AssemblyAI's official SDK: upload the recording, submit it with speaker
 * labels, and read the result back. Every failure becomes a `TranscriptionError` that says whether a
 * retry can help, which the SDK alone cannot tell: it reports HTTP failures as plain errors holding
 * only the response text, so the services below are the SDK's own classes with the one method that
 * judges responses replaced by one that keeps the status.
 */
import { ExternalServiceError, httpFailureDetails } from '../../core/external-error.js';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { FileService, TranscriptService } from 'assemblyai';
import type { BaseServiceParams, Transcript, TranscriptParams } from 'assemblyai';

/**
 * `http`: AssemblyAI answered with an error status. `network`: it could not be reached.
 * `transcript_failed`: it accepted the job but could not transcribe the audio. `not_ready`: the
 * transcript is still queued or processing. `invalid_request`: refused before anything was sent.
 */
export type TranscriptionErrorKind =
  'http' | 'network' | 'transcript_failed' | 'not_ready' | 'invalid_request';

/**
 * A transcription failure. Retryable: HTTP 408, 429 and 5xx, network failures and `not_ready`.
 * Permanent: other 4xx (a bad API key is 401) and transcripts that ended in `error`, whose message is
 * AssemblyAI's own.
 */
export class TranscriptionError extends ExternalServiceError<TranscriptionErrorKind> {
  override readonly name = 'TranscriptionError';
}

export type TranscriptStatus = 'queued' | 'processing' | 'completed' | 'error';

/** One speaker turn as AssemblyAI diarised it; times are milliseconds from the start. */
export type Utterance = {
  speaker: string;
  text: string;
  start: number;
  end: number;
  confidence: number;
};

export type TranscriptState = {
  transcriptId: string;
  status: TranscriptStatus;
  /** AssemblyAI's explanation when `status` is `error`. */
  error?: string;
  text?: string;
  utterances?: Utterance[];
};

export type CompletedTranscript = TranscriptState & {
  status: 'completed';
  text: string;
  utterances: Utterance[];
};

export type SubmitTranscriptionInput = {
  /** The recording: a stream, its bytes, or a local file path. */
  audio: Readable | Buffer | string;
  /** An AssemblyAI language code (`en_us`, `de`, …); AssemblyAI's default applies when omitted. */
  languageCode?: string;
  /** AssemblyAI POSTs `{ transcript_id, status }` here when the transcript is done. */
  webhookUrl?: string;
  /** A header AssemblyAI adds to that webhook call, so the receiver can tell it is genuine. */
  webhookAuthHeader?: { name: string; value: string };
};

export type AssemblyAiTranscriber = {
  /** Uploads the audio and queues a two-speaker transcript of it. */
  submit(input: SubmitTranscriptionInput): Promise<{ transcriptId: string }>;
  /** Reads a transcript's current state; an `error` status is returned, not thrown. */
  get(transcriptId: string): Promise<TranscriptState>;
};

export type AssemblyAiOptions = {
  apiKey: string;
  /** Defaults to AssemblyAI's public API; the EU region and tests pass their own. */
  baseUrl?: string;
};

const defaultBaseUrl = 'https://api.assemblyai.com';

async function errorMessageOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string' && body.error !== '') {
      return body.error;
    }
  } catch {
    // Not JSON; the raw text (or the status line) is the best explanation there is.
  }

  return text.trim() !== '' ? text.trim().slice(0, 500) : response.statusText;
}

/** The shared replacement for the SDK's response check, used by both services below. */
async function judgedFetch(send: () => Promise<Response>, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await send();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    const detail = cause?.code ?? (error as Error).message;

    throw new TranscriptionError('network', `AssemblyAI ${what} failed: ${detail}`, {
      retryable: true,
      cause: error,
    });
  }

  if (response.status >= 400) {
    const message = await errorMessageOf(response);

    throw new TranscriptionError(
      'http',
      `AssemblyAI ${what} failed: HTTP ${response.status}: ${message}`,
      httpFailureDetails(response.status, response.headers.get('retry-after')),
    );
  }

  return response;
}

class JudgedFileService extends FileService {
  protected override fetch(input: string, init?: RequestInit): Promise<Response> {
    return judgedFetch(() => this.fetchResponse(input, init), 'upload');
  }
}

class JudgedTranscriptService extends TranscriptService {
  protected override fetch(input: string, init?: RequestInit): Promise<Response> {
    const what = init?.method === 'POST' ? 'transcript submission' : 'transcript request';

    return judgedFetch(() => this.fetchResponse(input, init), what);
  }
}

function toUploadable(audio: Readable | Buffer | string): Readable | Uint8Array {
  // Opening the file ourselves keeps the SDK from reading a path that looks like a URL as one.
  return typeof audio === 'string' ? createReadStream(audio) : audio;
}

function toState(transcript: Transcript): TranscriptState {
  const state: TranscriptState = { transcriptId: transcript.id, status: transcript.status };
  if (transcript.error) {
    state.error = transcript.error;
  }
  if (typeof transcript.text === 'string') {
    state.text = transcript.text;
  }
  if (transcript.utterances) {
    state.utterances = transcript.utterances.map((utterance) => ({
      speaker: utterance.speaker,
      text: utterance.text,
      start: utterance.start,
      end: utterance.end,
      confidence: utterance.confidence,
    }));
  }

  return state;
}

// AssemblyAI ids are opaque tokens; anything else would be spliced into the request path.
const transcriptIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** Creates a transcriber for one AssemblyAI account. */
export function createAssemblyAiTranscriber(options: AssemblyAiOptions): AssemblyAiTranscriber {
  const params: BaseServiceParams = {
    apiKey: options.apiKey,
    baseUrl: (options.baseUrl ?? defaultBaseUrl).replace(/\/+$/, ''),
  };
  const files = new JudgedFileService(params);
  const transcripts = new JudgedTranscriptService(params, files);

  return {
    async submit(input) {
      const uploadUrl = await files.upload(toUploadable(input.audio));
      const request: TranscriptParams = {
        audio_url: uploadUrl,
        speaker_labels: true,
        speakers_expected: 2,
      };
      if (input.languageCode) {
        request.language_code = input.languageCode;
      }
      if (input.webhookUrl) {
        request.webhook_url = input.webhookUrl;
      }
      if (input.webhookAuthHeader) {
        request.webhook_auth_header_name = input.webhookAuthHeader.name;
        request.webhook_auth_header_value = input.webhookAuthHeader.value;
      }

      const transcript = await transcripts.submit(request);

      return { transcriptId: transcript.id };
    },

    async get(transcriptId) {
      if (!transcriptIdPattern.test(transcriptId)) {
        throw new TranscriptionError(
          'invalid_request',
          `"${transcriptId}" is not an AssemblyAI transcript id`,
          {
            retryable: false,
          },
        );
      }

      return toState(await transcripts.get(transcriptId));
    },
  };
}

/**
 * Returns the transcript if it is complete, and otherwise throws: a retryable `not_ready` error while
 * it is queued or processing (so a retried activity polls durably), a permanent `transcript_failed`
 * error carrying AssemblyAI's message once it has failed.
 */
export function requireCompleted(state: TranscriptState): CompletedTranscript {
  if (state.status === 'error') {
    throw new TranscriptionError(
      'transcript_failed',
      `AssemblyAI could not transcribe ${state.transcriptId}: ${state.error ?? 'no reason given'}`,
      { retryable: false },
    );
  }
  if (state.status !== 'completed') {
    throw new TranscriptionError(
      'not_ready',
      `AssemblyAI transcript ${state.transcriptId} is still ${state.status}`,
      { retryable: true },
    );
  }

  return {
    ...state,
    status: 'completed',
    text: state.text ?? '',
    utterances: state.utterances ?? [],
  };
}
