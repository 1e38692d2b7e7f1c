import path from 'node:path';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);

const port = z.coerce.number().int().min(0).max(65_535);

const byteSize = z.string().regex(/^\d+(?:\.\d+)?\s*(?:b|kb|mb|gb)?$/i, 'expected a size such as 2mb');

/**
 * `TRUST_PROXY`: `false`/`0` trusts no proxy (the client IP is the socket's), a whole number N trusts the
 * last N `X-Forwarded-For` hops, `true` trusts one.
 */
const trustProxy = z
  .string()
  .regex(/^(true|false|\d+)$/i, 'expected true, false or a number of proxy hops')
  .transform((value) => {
    const lower = value.toLowerCase();
    if (lower === 'true') {
      return 1;
    }
    if (lower === 'false') {
      return 0;
    }

    return Number(lower);
  });

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `WEBHOOK_RETRY_SCHEDULE`: comma-separated delays before each outbound delivery attempt, such as
 * `0,5s,5m,30m,2h,5h,10h,10h`; a bare number is milliseconds. At most 20 attempts, 7 days each.
 */
const retrySchedule = z
  .string()
  .transform((value, ctx) => {
    const delays: number[] = [];
    for (const part of value.split(',').map((entry) => entry.trim())) {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(part);
      const delay = match ? Number(match[1]) * durationUnits[match[2] ?? 'ms']! : NaN;
      if (!Number.isFinite(delay) || delay > 7 * durationUnits.d!) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not a delay such as 0, 200ms, 5s or 2h` });
        return z.NEVER;
      }
      delays.push(Math.round(delay));
    }
    if (delays.length > 20) {
      ctx.addIssue({ code: 'custom', message: 'at most 20 attempts' });
      return z.NEVER;
    }

    return delays;
  });

const envSchema = z.object({
  PORT: z.preprocess(emptyAsUndefined, port.default(3000)),
  HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
  CLOSERMODE_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./.data')),
  PUBLIC_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).optional(),
  ),
  DATABASE_POOL_SIZE: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).default(10)),
  TEMPORAL_ADDRESS: z.preprocess(emptyAsUndefined, z.string().optional()),
  TEMPORAL_NAMESPACE: z.preprocess(emptyAsUndefined, z.string().default('default')),
  TEMPORAL_TASK_QUEUE: z.preprocess(emptyAsUndefined, z.string().default('closermode')),
  TEMPORAL_PORT: z.preprocess(emptyAsUndefined, port.default(7233)),
  TEMPORAL_UI_PORT: z.preprocess(emptyAsUndefined, port.default(8233)),
  TEMPORAL_CLI_PATH: z.preprocess(emptyAsUndefined, z.string().optional()),
  TRUST_PROXY: z.preprocess(emptyAsUndefined, trustProxy.default(0)),
  WEBHOOK_BODY_LIMIT: z.preprocess(emptyAsUndefined, byteSize.default('2mb')),
  LOG_LEVEL: z.preprocess(emptyAsUndefined, z.enum(logLevels).default('info')),
  ALLOW_PRIVATE_HOSTS: z.preprocess(emptyAsUndefined, z.string().default('')),
  SECRETS_ENCRYPTION_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .refine(
        (value) => decodeKey(value)?.length === 32,
        'expected 32 bytes as 64 hex characters or base64',
      )
      .optional(),
  ),
  RECORDINGS_STORAGE: z.preprocess(emptyAsUndefined, z.enum(['local', 's3']).default('local')),
  RECORDINGS_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
  RECORDING_MAX_BYTES: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().positive().default(512 * 1024 * 1024),
  ),
  RECORDING_CONNECT_TIMEOUT_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(10_000)),
  RECORDING_READ_TIMEOUT_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(30_000)),
  S3_BUCKET: z.preprocess(emptyAsUndefined, z.string().optional()),
  S3_REGION: z.preprocess(emptyAsUndefined, z.string().optional()),
  S3_ENDPOINT: z.preprocess(emptyAsUndefined, z.url().optional()),
  S3_FORCE_PATH_STYLE: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
  S3_ACCESS_KEY_ID: z.preprocess(emptyAsUndefined, z.string().optional()),
  S3_SECRET_ACCESS_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  S3_PREFIX: z.preprocess(emptyAsUndefined, z.string().optional()),
  ASSEMBLYAI_API_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  ASSEMBLYAI_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  LLM_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  LLM_MODEL: z.preprocess(emptyAsUndefined, z.string().optional()),
  LLM_API_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  LLM_MAX_ATTEMPTS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(10).default(3)),
  LLM_TIMEOUT_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(120_000)),
  LLM_MAX_TRANSCRIPT_CHARS: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(1_000).default(48_000),
  ),
  ASSEMBLYAI_WEBHOOKS: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
  ASSEMBLYAI_CONCURRENCY: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1000).default(5)),
  WEBHOOK_RETRY_SCHEDULE: z.preprocess(emptyAsUndefined, retrySchedule.optional()),
  WEBHOOK_RATE_LIMIT_PER_SECOND: z.preprocess(emptyAsUndefined, z.coerce.number().positive().default(50)),
  WEBHOOK_RATE_LIMIT_BURST: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).default(200)),
  DELIVERY_LOG_RETENTION_DAYS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(3650).default(30)),
});

/** A 32-byte key given as 64 hex characters or as base64; undefined if it is neither. */
export function decodeKey(text: string): Buffer | undefined {
  if (/^[0-9a-f]{64}$/i.test(text)) {
    return Buffer.from(text, 'hex');
  }
  const bytes = Buffer.from(text, 'base64');

  return bytes.length === 32 ? bytes : undefined;
}

/** The service's configuration, read once at start-up from the environment and never changed. */
export type Config = Readonly<{
  /** `PORT`: the HTTP port of the api (default 3000). */
  port: number;
  /** `HOST`: the interface the api listens on (default all interfaces). */
  host: string;
  /** `CLOSERMODE_DATA_DIR`: where the embedded database, Temporal's state and keys live. */
  dataDir: string;
  /** `PUBLIC_BASE_URL`: the origin dialers reach us at; webhook URLs are built on it. */
  publicBaseUrl: string;
  /** `DATABASE_URL`: a PostgreSQL server; without it the embedded PGlite database is used. */
  databaseUrl: string | undefined;
  /** `DATABASE_POOL_SIZE`: connections to PostgreSQL per process (default 10). */
  databasePoolSize: number;
  /** `TEMPORAL_ADDRESS`: an existing Temporal frontend; without it `dev` starts a dev server. */
  temporalAddress: string | undefined;
  /** `TEMPORAL_NAMESPACE` (default `default`). */
  temporalNamespace: string;
  /** `TEMPORAL_TASK_QUEUE` (default `closermode`). */
  temporalTaskQueue: string;
  /** `TEMPORAL_PORT`: the frontend port of the dev server `dev` starts (default 7233). */
  temporalPort: number;
  /** `TEMPORAL_UI_PORT`: the Web UI port of the dev server `dev` starts (default 8233). */
  temporalUiPort: number;
  /** `TEMPORAL_CLI_PATH`: the `temporal` binary to run the dev server with. */
  temporalCliPath: string | undefined;
  /** `TRUST_PROXY`: how many `X-Forwarded-For` hops to trust (default 0: none). */
  trustProxyHops: number;
  /** `WEBHOOK_BODY_LIMIT`: the largest webhook body accepted (default `2mb`). */
  webhookBodyLimit: string;
  /** `LOG_LEVEL`: pino level (default `info`). */
  logLevel: (typeof logLevels)[number];
  /**
   * `ALLOW_PRIVATE_HOSTS`: comma-separated host names, addresses or CIDRs that recording downloads
   * and outbound webhooks may reach although they are private. Empty by default: only public
   * addresses are fetched. For local development and tests only.
   */
  allowPrivateHosts: readonly string[];
  /**
   * `SECRETS_ENCRYPTION_KEY`: 32 bytes (hex or base64) encrypting stored third-party credentials.
   * Without it, `dev` keeps a generated key in the data folder.
   */
  secretsEncryptionKey: Buffer | undefined;
  recordings: Readonly<{
    /** `RECORDINGS_STORAGE`: `local` (default) or `s3`. */
    storage: 'local' | 's3';
    /** `RECORDINGS_DIR`: the local store's folder (default `<data dir>/recordings`). */
    dir: string;
    /** `RECORDING_MAX_BYTES`: the largest recording downloaded (default 512 MiB). */
    maxBytes: number;
    /** `RECORDING_CONNECT_TIMEOUT_MS` (default 10 s). */
    connectTimeoutMs: number;
    /** `RECORDING_READ_TIMEOUT_MS`: longest silence while downloading (default 30 s). */
    readTimeoutMs: number;
    /** `S3_BUCKET`, `S3_REGION`, `S3_ENDPOINT`, `S3_FORCE_PATH_STYLE`, `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`, `S3_PREFIX`. */
    s3: Readonly<{
      bucket: string | undefined;
      region: string | undefined;
      endpoint: string | undefined;
      forcePathStyle: boolean;
      accessKeyId: string | undefined;
      secretAccessKey: string | undefined;
      prefix: string | undefined;
    }>;
  }>;
  /**
   * The LLM scorer, when `LLM_BASE_URL` and `LLM_MODEL` are both set (any OpenAI-compatible chat
   * completions API); otherwise calls are scored by the built-in rubric.
   */
  llm: Readonly<{
    /** `LLM_BASE_URL`: the API root with its version path, e.g. `https://api.openai.com/v1`. */
    baseUrl: string;
    /** `LLM_MODEL`. */
    model: string;
    /** `LLM_API_KEY`: sent as a Bearer token. */
    apiKey: string | undefined;
    /** `LLM_MAX_ATTEMPTS`: requests per call before falling back to the built-in rubric (default 3). */
    maxAttempts: number;
    /** `LLM_TIMEOUT_MS`: per request (default 120 s). */
    timeoutMs: number;
    /** `LLM_MAX_TRANSCRIPT_CHARS`: longer transcripts are trimmed (default 48,000). */
    maxTranscriptChars: number;
  }> | undefined;
  assemblyAi: Readonly<{
    /** `ASSEMBLYAI_API_KEY`: without it, calls that have only a recording fail with a clear reason. */
    apiKey: string | undefined;
    /** `ASSEMBLYAI_BASE_URL`: AssemblyAI's API origin (the EU region, or a local server in tests). */
    baseUrl: string | undefined;
    /** `ASSEMBLYAI_CONCURRENCY`: transcripts in progress at AssemblyAI at once, across all workers (default 5). */
    concurrency: number;
    /**
     * `ASSEMBLYAI_WEBHOOKS`: ask AssemblyAI to call `PUBLIC_BASE_URL` back when a transcript is done,
     * which ends the wait at once instead of at the next poll (default false: only when AssemblyAI
     * can reach that URL). Polling goes on either way, as the safety net.
     */
    webhooks: boolean;
  }>;
  /**
   * `WEBHOOK_RETRY_SCHEDULE`: delays in ms before each outbound webhook delivery attempt. Undefined
   * keeps the production schedule: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, with jitter.
   */
  webhookRetryScheduleMs: readonly number[] | undefined;
  /**
   * `WEBHOOK_RATE_LIMIT_PER_SECOND`: calls each integration may post per second, on average, to one
   * api process (default 50). Past it the webhook answers 429 with `Retry-After`.
   */
  webhookRateLimitPerSecond: number;
  /** `WEBHOOK_RATE_LIMIT_BURST`: calls an integration may post at once above that rate (default 200). */
  webhookRateLimitBurst: number;
  /**
   * `DELIVERY_LOG_RETENTION_DAYS`: days an outbound event, its deliveries and their attempt log are
   * kept once no delivery of it is pending (default 30). `0` keeps them forever.
   */
  deliveryLogRetentionDays: number;
}>;

/** A configuration problem, naming every variable that is missing or malformed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the configuration; throws a {@link ConfigError} naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }

  const values = parsed.data;

  return Object.freeze({
    port: values.PORT,
    host: values.HOST,
    dataDir: path.resolve(values.CLOSERMODE_DATA_DIR),
    publicBaseUrl: (values.PUBLIC_BASE_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ''),
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    temporalAddress: values.TEMPORAL_ADDRESS,
    temporalNamespace: values.TEMPORAL_NAMESPACE,
    temporalTaskQueue: values.TEMPORAL_TASK_QUEUE,
    temporalPort: values.TEMPORAL_PORT,
    temporalUiPort: values.TEMPORAL_UI_PORT,
    temporalCliPath: values.TEMPORAL_CLI_PATH,
    trustProxyHops: values.TRUST_PROXY,
    webhookBodyLimit: values.WEBHOOK_BODY_LIMIT,
    logLevel: values.LOG_LEVEL,
    allowPrivateHosts: values.ALLOW_PRIVATE_HOSTS.split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
    secretsEncryptionKey: values.SECRETS_ENCRYPTION_KEY
      ? decodeKey(values.SECRETS_ENCRYPTION_KEY)
      : undefined,
    recordings: Object.freeze({
      storage: values.RECORDINGS_STORAGE,
      dir: path.resolve(values.RECORDINGS_DIR ?? path.join(values.CLOSERMODE_DATA_DIR, 'recordings')),
      maxBytes: values.RECORDING_MAX_BYTES,
      connectTimeoutMs: values.RECORDING_CONNECT_TIMEOUT_MS,
      readTimeoutMs: values.RECORDING_READ_TIMEOUT_MS,
      s3: Object.freeze({
        bucket: values.S3_BUCKET,
        region: values.S3_REGION,
        endpoint: values.S3_ENDPOINT,
        forcePathStyle: values.S3_FORCE_PATH_STYLE,
        accessKeyId: values.S3_ACCESS_KEY_ID,
        secretAccessKey: values.S3_SECRET_ACCESS_KEY,
        prefix: values.S3_PREFIX,
      }),
    }),
    llm:
      values.LLM_BASE_URL && values.LLM_MODEL
        ? Object.freeze({
            baseUrl: values.LLM_BASE_URL,
            model: values.LLM_MODEL,
            apiKey: values.LLM_API_KEY,
            maxAttempts: values.LLM_MAX_ATTEMPTS,
            timeoutMs: values.LLM_TIMEOUT_MS,
            maxTranscriptChars: values.LLM_MAX_TRANSCRIPT_CHARS,
          })
        : undefined,
    assemblyAi: Object.freeze({
      apiKey: values.ASSEMBLYAI_API_KEY,
      baseUrl: values.ASSEMBLYAI_BASE_URL,
      concurrency: values.ASSEMBLYAI_CONCURRENCY,
      webhooks: values.ASSEMBLYAI_WEBHOOKS,
    }),
    webhookRetryScheduleMs: values.WEBHOOK_RETRY_SCHEDULE
      ? Object.freeze(values.WEBHOOK_RETRY_SCHEDULE)
      : undefined,
    webhookRateLimitPerSecond: values.WEBHOOK_RATE_LIMIT_PER_SECOND,
    webhookRateLimitBurst: values.WEBHOOK_RATE_LIMIT_BURST,
    deliveryLogRetentionDays: values.DELIVERY_LOG_RETENTION_DAYS,
  });
}
