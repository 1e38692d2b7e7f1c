import { createAddressPolicy } from '../core/net/address-policy.js';
import type { Config } from '../core/config.js';
import { createSecretBox, resolveSecretsKey } from '../core/secret-box.js';
import type { Database } from '../db/database.js';
import { ensureTranscriptionSlots } from '../db/queries/recordings.js';
import type { RecordingActivityDeps } from '../activities/recordings/index.js';
import { createScorer, type Scorer } from '../scoring/index.js';
import { createLocalStorage, createS3Storage, type RecordingStorage } from '../activities/recordings/storage.js';
import { createAssemblyAiTranscriber } from '../activities/recordings/transcription.js';

/** The recording store the configuration names: a local folder, or an S3-compatible bucket. */
export function createRecordingStorage(config: Config): RecordingStorage {
  if (config.recordings.storage === 'local') {
    return createLocalStorage(config.recordings.dir);
  }

  const { s3 } = config.recordings;
  if (!s3.bucket) {
    throw new Error('RECORDINGS_STORAGE=s3 needs S3_BUCKET');
  }

  return createS3Storage({
    bucket: s3.bucket,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.region && { region: s3.region }),
    ...(s3.endpoint && { endpoint: s3.endpoint }),
    ...(s3.accessKeyId && { accessKeyId: s3.accessKeyId }),
    ...(s3.secretAccessKey && { secretAccessKey: s3.secretAccessKey }),
    ...(s3.prefix && { prefix: s3.prefix }),
  });
}

/** The scorer the configuration names: the LLM scorer when configured, else the built-in rubric. */
export function createConfiguredScorer(config: Config): Scorer {
  if (!config.llm) {
    return createScorer({ kind: 'builtin' });
  }

  const { apiKey, ...llm } = config.llm;

  return createScorer({
    kind: 'llm',
    ...llm,
    ...(apiKey && { apiKey }),
    // A model that is down or answers badly must not hold a call back: the built-in rubric scores
    // it and the scorecard records why.
    onRequestFailure: 'fallback',
  });
}

/** Everything the recording activities need, built from the configuration once per worker. */
export async function createRecordingDeps(
  config: Config,
  db: Database,
): Promise<Omit<RecordingActivityDeps, 'db' | 'events'>> {
  await ensureTranscriptionSlots(db, config.assemblyAi.concurrency);
  const { apiKey, baseUrl } = config.assemblyAi;

  return {
    storage: createRecordingStorage(config),
    transcriber: apiKey
      ? createAssemblyAiTranscriber({ apiKey, ...(baseUrl && { baseUrl }) })
      : undefined,
    addressPolicy: createAddressPolicy({
      allowPrivateHosts: config.allowPrivateHosts,
      label: 'recording URL',
    }),
    secretBox: createSecretBox(await resolveSecretsKey(config)),
    recordingLimits: {
      maxBytes: config.recordings.maxBytes,
      connectTimeoutMs: config.recordings.connectTimeoutMs,
      readTimeoutMs: config.recordings.readTimeoutMs,
    },
    ...(config.assemblyAi.webhooks && { assemblyAiWebhookBaseUrl: config.publicBaseUrl }),
  };
}
