/** Shared pieces of the downstream tests: a recording receiver, stored calls, a CSV reader. */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEventPublisher } from '../../activities/event-publisher.js';
import type { EventPublisher } from '../../activities/events.js';
import { createLogger } from '../../core/logger.js';
import { insertCallIfNew } from '../../db/queries/calls.js';
import type { Call, NewCall } from '../../db/schema.js';
import { startTestStack, type TestStack, type TestStackOptions } from '../helpers/stack.js';

/** Loopback receivers may be reached, and retries come after 200 and 400 ms instead of hours. */
export const downstreamEnv = {
  ALLOW_PRIVATE_HOSTS: '127.0.0.1',
  WEBHOOK_RETRY_SCHEDULE: '0,200ms,400ms',
};

export function startDownstreamStack(options: TestStackOptions = {}): Promise<TestStack> {
  return startTestStack({ ...options, env: { ...downstreamEnv, ...options.env } });
}

export type ReceivedDelivery = {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as it arrived, for signature checks. */
  body: string;
  receivedAt: number;
};

export type Reply = {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
};

export type Receiver = {
  url: string;
  received: ReceivedDelivery[];
  /** Decides the answer to the n-th request (0-based); 204 when unset. */
  reply: (index: number, delivery: ReceivedDelivery) => Reply;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
};

/** A webhook receiver on 127.0.0.1 that records every request it gets. */
export async function startReceiver(reply?: Receiver['reply']): Promise<Receiver> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;

  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    received: [],
    reply: reply ?? (() => ({ status: 204 })),
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (receiver.received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`received ${receiver.received.length} deliveries, expected ${count}`);
        }
        await sleep(25);
      }

      return receiver.received.slice(0, count);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  server.on('request', (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const delivery: ReceivedDelivery = {
        path: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      const index = receiver.received.length;
      receiver.received.push(delivery);
      const answer = receiver.reply(index, delivery);
      setTimeout(() => {
        response.writeHead(answer.status, answer.headers ?? {});
        response.end(answer.body ?? '');
      }, answer.delayMs ?? 0);
    });
  });

  return receiver;
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not reached within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/** Stores a call directly, without a workflow, so that no event is published for it. */
export async function storeCall(
  stack: TestStack,
  integrationId: string,
  values: Partial<NewCall> = {},
): Promise<Call> {
  const externalId = values.external_id ?? `stored-${randomUUID()}`;
  const { call } = await insertCallIfNew(stack.database.db, {
    workspace_id: stack.workspaceId,
    integration_id: integrationId,
    external_id: externalId,
    call_date: new Date(),
    transcript_text: 'Agent: Hello.\nCustomer: Hi.',
    transcript_source: 'inline',
    workflow_id: `stored:${externalId}`,
    // Marked as started so that the api's recovery loop leaves it alone: no workflow, no events.
    workflow_started_at: new Date(),
    ...values,
  });

  return call;
}

/** The event publisher the worker uses, built on the stack's own database and Temporal client. */
export function publisherFor(stack: TestStack): EventPublisher {
  return createEventPublisher({
    db: stack.database.db,
    client: stack.api.client,
    taskQueue: stack.config.temporalTaskQueue,
    logger: createLogger({ level: 'silent' }),
    retrySchedule: stack.config.webhookRetryScheduleMs,
  });
}

export type CreatedEndpoint = { id: string; secret: string; [key: string]: unknown };

export async function createEndpoint(
  stack: TestStack,
  body: Record<string, unknown>,
  adminKey = stack.adminKey,
): Promise<CreatedEndpoint> {
  const response = await fetch(`${stack.baseUrl}/api/webhook-endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) {
    throw new Error(`endpoint create failed: ${response.status} ${await response.text()}`);
  }

  return (await response.json()) as CreatedEndpoint;
}

export type DeliveryView = {
  id: string;
  eventId: string;
  eventType: string;
  callId: string;
  status: string;
  attemptCount: number;
  attempts: Array<{
    attempt: number;
    trigger: string;
    succeeded: boolean;
    responseStatus: number | null;
    responseBody: string | null;
    error: string | null;
    latencyMs: number;
  }>;
};

export async function listDeliveries(
  stack: TestStack,
  endpointId: string,
): Promise<DeliveryView[]> {
  const response = await stack.admin('GET', `/api/webhook-endpoints/${endpointId}/deliveries`);
  if (response.status !== 200) {
    throw new Error(`deliveries list failed: ${response.status} ${await response.text()}`);
  }

  return ((await response.json()) as { deliveries: DeliveryView[] }).deliveries;
}

/** Waits until an endpoint's deliveries satisfy `ready`, and returns them. */
export function deliveriesWhen(
  stack: TestStack,
  endpointId: string,
  ready: (deliveries: DeliveryView[]) => boolean,
  timeoutMs = 15_000,
): Promise<DeliveryView[]> {
  return eventually(
    async () => {
      const deliveries = await listDeliveries(stack, endpointId);

      return ready(deliveries) ? deliveries : undefined;
    },
    timeoutMs,
    'deliveries state',
  );
}

/**
 * Reads RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks; records end
 * with CRLF. Written for these tests so that the export is checked by a reader of its own.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;

  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') {
        quoted = false;
      } else {
        field += char;
      }
    } else if (char === '"') {
      quoted = true;
    } else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      index += 1;
    } else {
      field += char;
    }
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }

  return records;
}

/** CSV records as objects keyed by the header row. */
export function csvObjects(text: string): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text);

  return rows.map((row) =>
    Object.fromEntries(header!.map((name, index) => [name, row[index] ?? ''])),
  );
}
