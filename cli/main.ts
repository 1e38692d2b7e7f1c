import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Command, InvalidArgumentError, Option } from 'commander';
import { callEventTypes } from '../activities/events.js';
import type { deliveryResource, webhookEndpointResource } from '../api/routes/webhook-endpoints.js';
import { bootstrapDefaultWorkspace } from '../core/bootstrap.js';
import { ConfigError, loadConfig, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { databaseOptionsFor, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { ApiRequestError, createApiClient, resolveAdminKey } from './api-client.js';

const env = process.env;

function config(): Config {
  return loadConfig(env);
}

function print(value: unknown, asJson: boolean, human: () => string): void {
  process.stdout.write(asJson ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

async function apiClient() {
  const settings = config();
  const baseUrl = env.CLOSERMODE_URL || `http://localhost:${settings.port}`;

  return createApiClient(baseUrl, await resolveAdminKey(env, settings.dataDir));
}

/** The separate api and worker processes share one PostgreSQL server; PGlite serves one process. */
function requireServers(settings: Config): { databaseUrl: string; temporalAddress: string } {
  const missing = [
    !settings.databaseUrl && 'DATABASE_URL',
    !settings.temporalAddress && 'TEMPORAL_ADDRESS',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigError(
      `${missing.join(' and ')} must be set for a separate api or worker process; ` +
        '`closermode dev` runs everything in one process without them',
    );
  }

  return { databaseUrl: settings.databaseUrl!, temporalAddress: settings.temporalAddress! };
}

async function runUntilSignal(close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await close();
}

type IntegrationView = {
  id: string;
  name: string;
  provider: string;
  webhookUrl: string;
  apiKey?: string;
  ipAllowlist: string[];
  enabled?: boolean;
};

function describeIntegration(integration: IntegrationView): string {
  return [
    `id           ${integration.id}`,
    `name         ${integration.name} (${integration.provider})`,
    `webhook url  ${integration.webhookUrl}`,
    ...(integration.apiKey ? [`api key      ${integration.apiKey}   (shown only now)`] : []),
    `ip allowlist ${integration.ipAllowlist.length > 0 ? integration.ipAllowlist.join(', ') : '(any address)'}`,
  ].join('\n');
}

const program = new Command('closermode')
  .description('Every finished sales call from any phone system, transcribed and scored.')
  .showHelpAfterError();

program
  .command('dev')
  .description('run everything: Temporal dev server, embedded database, worker and api')
  .action(async () => {
    const settings = config();
    // Loaded per command, so the api process never loads the worker's code and dependencies.
    const { runDev } = await import('./dev.js');
    await runDev(settings, env, createLogger({ level: settings.logLevel }));
  });

program
  .command('api')
  .description('run the HTTP api (needs DATABASE_URL and TEMPORAL_ADDRESS)')
  .action(async () => {
    const settings = config();
    const { databaseUrl, temporalAddress } = requireServers(settings);
    const logger = createLogger({ level: settings.logLevel, name: 'closermode-api' });
    const database = await openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: settings.databasePoolSize });
    await migrateToLatest(database.db);
    await bootstrapDefaultWorkspace(database.db, settings.dataDir);
    const { startApiService } = await import('./api-service.js');
    const api = await startApiService({ config: settings, db: database.db, logger, temporalAddress });
    await runUntilSignal(async () => {
      await api.close();
      await database.close();
    });
  });

program
  .command('worker')
  .description('run a Temporal worker (needs DATABASE_URL and TEMPORAL_ADDRESS)')
  .action(async () => {
    const settings = config();
    const { databaseUrl, temporalAddress } = requireServers(settings);
    const logger = createLogger({ level: settings.logLevel, name: 'closermode-worker' });
    const database = await openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: settings.databasePoolSize });
    await migrateToLatest(database.db);
    const { startWorkerService } = await import('./worker-service.js');
    const worker = await startWorkerService({ config: settings, db: database.db, logger, temporalAddress });
    await Promise.race([
      worker.running,
      runUntilSignal(() => worker.close()),
    ]);
    await database.close();
  });

program
  .command('migrate')
  .description('bring the database schema up to date')
  .action(async () => {
    const settings = config();
    const database = await openDatabase(databaseOptionsFor(settings));
    try {
      const result = await migrateToLatest(database.db);
      const applied = result.results?.filter((entry) => entry.status === 'Success') ?? [];
      process.stdout.write(
        applied.length > 0
          ? `applied ${applied.map((entry) => entry.migrationName).join(', ')}\n`
          : 'schema already up to date\n',
      );
    } finally {
      await database.close();
    }
  });

const integrations = program.command('integrations').description('manage webhook integrations');

integrations
  .command('create')
  .description('create an integration: prints its webhook URL and API key (shown only once)')
  .requiredOption('--name <name>', 'a name, such as the dialer it serves')
  .option('--provider <provider>', 'twilio, salesforce, 360cti, generic…')
  .option('--allow-ip <cidr>', 'accept requests only from this range (repeatable)', collect, [])
  .option('--json', 'print the JSON object the API returned')
  .action(async (options: { name: string; provider?: string; allowIp: string[]; json?: boolean }) => {
    const client = await apiClient();
    const created = await client.request<IntegrationView>('POST', '/api/integrations', {
      name: options.name,
      ...(options.provider && { provider: options.provider }),
      ...(options.allowIp.length > 0 && { ipAllowlist: options.allowIp }),
    });
    print(created, Boolean(options.json), () => describeIntegration(created));
  });

integrations
  .command('list')
  .description('list integrations')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const client = await apiClient();
    const result = await client.request<{ integrations: IntegrationView[] }>('GET', '/api/integrations');
    print(result, Boolean(options.json), () =>
      result.integrations.length === 0
        ? 'no integrations yet'
        : result.integrations.map(describeIntegration).join('\n\n'),
    );
  });

integrations
  .command('rotate-key')
  .description('issue a new API key; the old one stops working at once')
  .argument('<id>', 'integration id')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { json?: boolean }) => {
    const client = await apiClient();
    const rotated = await client.request<IntegrationView>(
      'POST',
      `/api/integrations/${encodeURIComponent(id)}/rotate-key`,
    );
    print(rotated, Boolean(options.json), () => describeIntegration(rotated));
  });

integrations
  .command('allowlist')
  .description('set the IP allowlist (CIDRs or addresses); no CIDR clears it')
  .argument('<id>', 'integration id')
  .argument('[cidrs...]', 'ranges to accept requests from')
  .option('--json', 'print JSON')
  .action(async (id: string, cidrs: string[], options: { json?: boolean }) => {
    const client = await apiClient();
    const updated = await client.request<IntegrationView>(
      'PATCH',
      `/api/integrations/${encodeURIComponent(id)}`,
      { ipAllowlist: cidrs },
    );
    print(updated, Boolean(options.json), () => describeIntegration(updated));
  });

// The shapes the API answers with, taken from the functions that build them (types only: the CLI
// loads no server code).
type WebhookEndpointView = ReturnType<typeof webhookEndpointResource> & { secret?: string };
type DeliveryView = ReturnType<typeof deliveryResource>;
type DeliveryAttemptView = DeliveryView['attempts'][number];

function describeEndpointState(endpoint: WebhookEndpointView): string {
  if (!endpoint.enabled) {
    return `disabled (${endpoint.disabledReason ?? 'manual'})`;
  }

  return endpoint.failingSince ? `enabled, failing since ${endpoint.failingSince}` : 'enabled';
}

function describeEndpoint(endpoint: WebhookEndpointView): string {
  const events = endpoint.eventTypes.length > 0 ? endpoint.eventTypes.join(', ') : '(every event)';

  return [
    `id           ${endpoint.id}`,
    `url          ${endpoint.url}`,
    ...(endpoint.description ? [`description  ${endpoint.description}`] : []),
    `events       ${events}`,
    `state        ${describeEndpointState(endpoint)}`,
    ...(endpoint.secret ? [`secret       ${endpoint.secret}   (shown only now)`] : []),
    ...(endpoint.previousSecretExpiresAt
      ? [`old secret   still signs until ${endpoint.previousSecretExpiresAt}`]
      : []),
    // The API never returns the secret again, so losing it means rotating.
    ...(endpoint.secret
      ? [
          '',
          'Store the secret now: receivers verify signatures with it, and it is not shown again.',
        ]
      : []),
  ].join('\n');
}

function describeAttempt(attempt: DeliveryAttemptView): string {
  const status = attempt.responseStatus === null ? '---' : String(attempt.responseStatus);
  const outcome = attempt.succeeded ? 'ok' : `failed: ${attempt.error ?? 'no reason recorded'}`;

  const when = `${attempt.startedAt} ${attempt.trigger.padEnd(9)}`;

  return `  #${attempt.attempt} ${when} ${status} ${attempt.latencyMs} ms  ${outcome}`;
}

function describeDelivery(delivery: DeliveryView): string {
  return [
    `${delivery.id}  ${delivery.status.padEnd(9)} ${delivery.eventType}  call ${delivery.callId}`,
    ...delivery.attempts.map(describeAttempt),
    ...(delivery.nextAttemptAt ? [`  next attempt ${delivery.nextAttemptAt}`] : []),
  ].join('\n');
}

/** Collects a repeated `--event`, refusing a type no event is published under. */
function collectEventType(value: string, previous: string[] = []): string[] {
  if (!(callEventTypes as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`Allowed choices are ${callEventTypes.join(', ')}.`);
  }

  return [...previous, value];
}

const webhooks = program
  .command('webhooks')
  .description('manage outbound webhook endpoints and their deliveries');

webhooks
  .command('create')
  .description('create an endpoint: prints its signing secret (shown only once)')
  .requiredOption('--url <url>', 'where events are posted (http or https)')
  .option(
    '--event <type>',
    `send only this event type (repeatable; default every type): ${callEventTypes.join(', ')}`,
    collectEventType,
    [],
  )
  .option('--description <text>', 'what the endpoint is for')
  .option('--json', 'print the JSON object the API returned')
  .action(
    async (options: { url: string; event: string[]; description?: string; json?: boolean }) => {
      const client = await apiClient();
      const created = await client.request<WebhookEndpointView>('POST', '/api/webhook-endpoints', {
        url: options.url,
        ...(options.event.length > 0 && { eventTypes: options.event }),
        ...(options.description !== undefined && { description: options.description }),
      });
      print(created, Boolean(options.json), () => describeEndpoint(created));
    },
  );

webhooks
  .command('list')
  .description('list endpoints')
  .option('--json', 'print JSON')
  .action(async (options: { json?: boolean }) => {
    const client = await apiClient();
    const result = await client.request<{ endpoints: WebhookEndpointView[] }>(
      'GET',
      '/api/webhook-endpoints',
    );
    print(result, Boolean(options.json), () =>
      result.endpoints.length === 0
        ? 'no webhook endpoints yet'
        : result.endpoints.map(describeEndpoint).join('\n\n'),
    );
  });

webhooks
  .command('get')
  .description('show one endpoint')
  .argument('<id>', 'endpoint id')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { json?: boolean }) => {
    const client = await apiClient();
    const endpoint = await client.request<WebhookEndpointView>(
      'GET',
      `/api/webhook-endpoints/${encodeURIComponent(id)}`,
    );
    print(endpoint, Boolean(options.json), () => describeEndpoint(endpoint));
  });

webhooks
  .command('update')
  .description('change an endpoint; options left out stay as they are')
  .argument('<id>', 'endpoint id')
  .option('--url <url>', 'a new URL')
  .addOption(
    new Option(
      '--event <type>',
      'send only this event type (repeatable); replaces the current filter',
    )
      .argParser(collectEventType)
      .conflicts('allEvents'),
  )
  .option('--all-events', 'send every event type again')
  .option('--description <text>', 'a new description; "" clears it')
  .addOption(
    new Option('--enable', 'deliver again, forgetting earlier failures').conflicts('disable'),
  )
  .option('--disable', 'stop delivering until enabled again')
  .option('--json', 'print JSON')
  .action(
    async (
      id: string,
      options: {
        url?: string;
        event?: string[];
        allEvents?: boolean;
        description?: string;
        enable?: boolean;
        disable?: boolean;
        json?: boolean;
      },
    ) => {
      const client = await apiClient();
      const updated = await client.request<WebhookEndpointView>(
        'PATCH',
        `/api/webhook-endpoints/${encodeURIComponent(id)}`,
        {
          ...(options.url !== undefined && { url: options.url }),
          ...(options.event && { eventTypes: options.event }),
          ...(options.allEvents && { eventTypes: [] }),
          ...(options.description !== undefined && { description: options.description }),
          ...(options.enable && { enabled: true }),
          ...(options.disable && { enabled: false }),
        },
      );
      print(updated, Boolean(options.json), () => describeEndpoint(updated));
    },
  );

webhooks
  .command('delete')
  .description('delete an endpoint: it gets no more deliveries')
  .argument('<id>', 'endpoint id')
  .action(async (id: string) => {
    const client = await apiClient();
    await client.request<void>('DELETE', `/api/webhook-endpoints/${encodeURIComponent(id)}`);
    process.stdout.write(`deleted webhook endpoint ${id}\n`);
  });

webhooks
  .command('rotate-secret')
  .description('issue a new signing secret; the old one keeps signing for 24 hours')
  .argument('<id>', 'endpoint id')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { json?: boolean }) => {
    const client = await apiClient();
    const rotated = await client.request<WebhookEndpointView>(
      'POST',
      `/api/webhook-endpoints/${encodeURIComponent(id)}/rotate-secret`,
    );
    print(rotated, Boolean(options.json), () => describeEndpoint(rotated));
  });

webhooks
  .command('deliveries')
  .description("list an endpoint's deliveries, newest first, with every attempt")
  .argument('<id>', 'endpoint id')
  .option('--limit <n>', 'how many (at most 200)')
  .option('--cursor <id>', 'continue after this delivery, as printed by the previous page')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { limit?: string; cursor?: string; json?: boolean }) => {
    const client = await apiClient();
    const query = new URLSearchParams({
      ...(options.limit && { limit: options.limit }),
      ...(options.cursor && { cursor: options.cursor }),
    });
    const search = query.size > 0 ? `?${query}` : '';
    const result = await client.request<{ deliveries: DeliveryView[]; nextCursor: string | null }>(
      'GET',
      `/api/webhook-endpoints/${encodeURIComponent(id)}/deliveries${search}`,
    );
    print(result, Boolean(options.json), () =>
      [
        result.deliveries.length === 0
          ? 'no deliveries yet'
          : result.deliveries.map(describeDelivery).join('\n\n'),
        ...(result.nextCursor ? ['', `more with --cursor ${result.nextCursor}`] : []),
      ].join('\n'),
    );
  });

webhooks
  .command('retry')
  .description('deliver an event again now, with the same webhook-id')
  .argument('<delivery-id>', 'delivery id, as listed by `webhooks deliveries`')
  .option('--json', 'print JSON')
  .action(async (deliveryId: string, options: { json?: boolean }) => {
    const client = await apiClient();
    const delivery = await client.request<DeliveryView>(
      'POST',
      `/api/webhook-deliveries/${encodeURIComponent(deliveryId)}/retry`,
    );
    print(delivery, Boolean(options.json), () =>
      [
        describeDelivery(delivery),
        '',
        `retry requested: follow it with closermode webhooks deliveries ${delivery.endpointId}`,
      ].join('\n'),
    );
  });

const calls = program.command('calls').description('read calls');

calls
  .command('get')
  .description('show one call')
  .argument('<id>', 'call id')
  .option('--json', 'print JSON')
  .action(async (id: string, options: { json?: boolean }) => {
    const client = await apiClient();
    const call = await client.request<Record<string, unknown>>('GET', `/api/calls/${encodeURIComponent(id)}`);
    print(call, Boolean(options.json), () =>
      Object.entries(call)
        .map(([key, value]) => `${key.padEnd(14)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
        .join('\n'),
    );
  });

calls
  .command('list')
  .description('list calls, newest first')
  .option('--integration <id>', 'only this integration')
  .addOption(new Option('--status <status>', 'only this status').choices(['queued', 'downloading', 'transcribing', 'scoring', 'scored', 'failed']))
  .option('--limit <n>', 'how many', '20')
  .option('--json', 'print JSON')
  .action(async (options: { integration?: string; status?: string; limit: string; json?: boolean }) => {
    const client = await apiClient();
    const query = new URLSearchParams({
      limit: options.limit,
      ...(options.integration && { integrationId: options.integration }),
      ...(options.status && { status: options.status }),
    });
    const result = await client.request<{ calls: Array<Record<string, unknown>> }>('GET', `/api/calls?${query}`);
    print(result, Boolean(options.json), () =>
      result.calls
        .map((call) => `${call.id}  ${String(call.status).padEnd(12)} ${call.externalId}`)
        .join('\n') || 'no calls',
    );
  });

calls
  .command('export')
  .description('export calls as CSV or NDJSON, streamed to a file or stdout')
  .addOption(new Option('--format <format>', 'file format').choices(['csv', 'ndjson']).default('csv'))
  .option('--from <date>', 'calls on or after this date or date-time (ISO 8601)')
  .option('--to <date>', 'calls before this date or date-time (ISO 8601)')
  .option('--integration <id>', 'only this integration')
  .addOption(new Option('--status <status>', 'only this status').choices(['queued', 'downloading', 'transcribing', 'scoring', 'scored', 'failed']))
  .option('--include-transcript', 'add each call\'s transcript')
  .option('--output <file>', 'write to this file instead of stdout')
  .action(
    async (options: {
      format: string;
      from?: string;
      to?: string;
      integration?: string;
      status?: string;
      includeTranscript?: boolean;
      output?: string;
    }) => {
      const client = await apiClient();
      const query = new URLSearchParams({
        format: options.format,
        ...(options.from && { from: options.from }),
        ...(options.to && { to: options.to }),
        ...(options.integration && { integrationId: options.integration }),
        ...(options.status && { status: options.status }),
        ...(options.includeTranscript && { includeTranscript: 'true' }),
      });
      const response = await client.fetch('GET', `/api/calls/export?${query}`);
      const source = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>);
      if (!options.output) {
        await pipeline(source, process.stdout, { end: false });
        return;
      }

      try {
        await pipeline(source, createWriteStream(options.output));
      } catch (error) {
        // A cut-off export must not be mistaken for a whole one.
        await rm(options.output, { force: true });
        throw error;
      }
    },
  );

const workspaces = program
  .command('workspaces')
  .description('manage workspaces (needs an admin key of the default workspace)');

workspaces
  .command('create')
  .description('create a workspace: prints its first admin key (shown only once)')
  .requiredOption('--name <name>', 'a unique name, such as the team it is for')
  .option('--json', 'print the JSON object the API returned')
  .action(async (options: { name: string; json?: boolean }) => {
    const client = await apiClient();
    const created = await client.request<{ id: string; name: string; adminKey: string }>(
      'POST',
      '/api/workspaces',
      { name: options.name },
    );
    print(created, Boolean(options.json), () =>
      [
        `id           ${created.id}`,
        `name         ${created.name}`,
        `admin key    ${created.adminKey}   (shown only now)`,
      ].join('\n'),
    );
  });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ApiRequestError || error instanceof ConfigError || error instanceof Error) {
    process.stderr.write(`closermode: ${error.message}\n`);
  } else {
    process.stderr.write(`closermode: ${String(error)}\n`);
  }
  process.exitCode = 1;
});
