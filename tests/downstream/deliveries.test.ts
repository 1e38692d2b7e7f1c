import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { postWebhook } from '../../activities/deliveries.js';
import { createEventPublisher } from '../../activities/event-publisher.js';
import type { EventPublisher } from '../../activities/events.js';
import { createLogger } from '../../core/logger.js';
import { createAddressPolicy } from '../../core/net/address-policy.js';
import { workflowsPath } from '../../worker/worker.js';
import { deliveryWorkflowId } from '../../workflows/deliver-event.js';
import type { IntegrationCredentials, TestStack } from '../helpers/stack.js';
import { workflowBundle } from '../helpers/stack.js';
import {
  createEndpoint,
  deliveriesWhen,
  listDeliveries,
  publisherFor,
  startDownstreamStack,
  startReceiver,
  storeCall,
  type Receiver,
} from './helpers.js';

function headersOf(received: { headers: Record<string, unknown> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(received.headers).map(([name, value]) => [name, String(value)]),
  );
}

describe('outbound webhook deliveries', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;
  let publisher: EventPublisher;
  const receivers: Receiver[] = [];

  async function receiver(reply?: Receiver['reply']): Promise<Receiver> {
    const started = await startReceiver(reply);
    receivers.push(started);

    return started;
  }

  before(async () => {
    stack = await startDownstreamStack();
    integration = await stack.createIntegration({ name: 'deliveries' });
    publisher = publisherFor(stack);
  });
  after(async () => {
    await Promise.all(receivers.map((each) => each.close()));
    await stack.close();
  });

  test('a delivery carries the call as the API shows it, signed per Standard Webhooks', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(stack, { url: target.url });
    const metadataText = '{"zeta":1,"alpha":{"nested":[1,"two",null]},"ünïcode":"✓"}';
    const call = await storeCall(stack, integration.id, { metadata: metadataText });

    await publisher.publish('call.scored', call.id);
    const [delivery] = await target.waitFor(1);
    const headers = headersOf(delivery!);

    const verified = new Webhook(endpoint.secret).verify(delivery!.body, headers) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(verified).sort(), ['createdAt', 'data', 'id', 'type']);
    assert.equal(verified.type, 'call.scored');
    assert.equal(verified.id, headers['webhook-id']);
    const fromApi = await (await stack.admin('GET', `/api/calls/${call.id}`)).json();
    assert.deepEqual((verified.data as { call: unknown }).call, fromApi);
    assert.ok(delivery!.body.includes(`"metadata":${metadataText}`), 'metadata is sent verbatim');
    assert.equal(headers['content-type'], 'application/json');
    assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/=]+$/);

    assert.throws(() => new Webhook(endpoint.secret).verify(`${delivery!.body} `, headers));
    const stranger = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.throws(() => new Webhook(stranger).verify(delivery!.body, headers));

    const [logged] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );
    assert.equal(logged!.eventId, verified.id);
    assert.equal(logged!.callId, call.id);
    assert.equal(logged!.attempts.length, 1);
    assert.equal(logged!.attempts[0]!.responseStatus, 204);
    assert.equal(logged!.attempts[0]!.trigger, 'scheduled');
  });

  test('publishing the same event again stores and delivers it once', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.created', call.id);
    await publisher.publish('call.created', call.id);
    await target.waitFor(1);
    await sleep(700);

    assert.equal(target.received.length, 1);
    const events = await stack.database.db
      .selectFrom('events')
      .select('id')
      .where('call_id', '=', call.id)
      .execute();
    assert.equal(events.length, 1);
    assert.equal((await listDeliveries(stack, endpoint.id)).length, 1);
  });

  test('a distinct dedupe key makes a distinct event of the same type', async () => {
    const target = await receiver();
    await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id, { dedupeKey: 'v1' });
    await publisher.publish('call.scored', call.id, { dedupeKey: 'v2' });
    const deliveries = await target.waitFor(2);

    assert.notEqual(deliveries[0]!.headers['webhook-id'], deliveries[1]!.headers['webhook-id']);
  });

  test('a failing endpoint is retried on the schedule with the same webhook-id until it succeeds', async () => {
    const longBody = 'x'.repeat(5_000);
    const target = await receiver((index) =>
      index < 2 ? { status: 500, body: longBody } : { status: 200, body: 'ok' },
    );
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    const attempts = await target.waitFor(3);

    const ids = new Set(attempts.map((each) => each.headers['webhook-id']));
    assert.equal(ids.size, 1, 'every attempt carries the same webhook-id');
    for (const attempt of attempts) {
      new Webhook(endpoint.secret).verify(attempt.body, headersOf(attempt));
    }
    // 200 ms and 400 ms, each with at most 10 % jitter.
    assert.ok(attempts[1]!.receivedAt - attempts[0]!.receivedAt >= 170);
    assert.ok(attempts[2]!.receivedAt - attempts[1]!.receivedAt >= 350);

    const [logged] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );
    assert.deepEqual(
      logged!.attempts.map((each) => [each.attempt, each.responseStatus, each.succeeded]),
      [
        [1, 500, false],
        [2, 500, false],
        [3, 200, true],
      ],
    );
    assert.equal(logged!.attempts[0]!.responseBody!.length, 1024, 'bodies are cut at 1 KiB');
    assert.equal(logged!.attempts[0]!.error, 'HTTP 500');
    assert.equal(logged!.attempts[2]!.responseBody, 'ok');

    const current = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${endpoint.id}`)
    ).json()) as {
      failingSince: string | null;
    };
    assert.equal(current.failingSince, null, 'a success clears the run of failures');
  });

  test('a delivery whose schedule runs out fails, and the endpoint is marked failing', async () => {
    const target = await receiver(() => ({ status: 503 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.failed', call.id);
    const [logged] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');

    assert.equal(logged!.attempts.length, 3);
    assert.equal(target.received.length, 3);
    const current = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${endpoint.id}`)
    ).json()) as {
      enabled: boolean;
      failingSince: string | null;
    };
    assert.equal(current.enabled, true);
    assert.ok(current.failingSince);
  });

  test('410 Gone disables the endpoint and stops retrying', async () => {
    const target = await receiver(() => ({ status: 410 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    await target.waitFor(1);
    const [logged] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');
    await sleep(800);

    assert.equal(target.received.length, 1);
    assert.equal(logged!.attempts.length, 1);
    const current = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${endpoint.id}`)
    ).json()) as {
      enabled: boolean;
      disabledReason: string | null;
    };
    assert.deepEqual([current.enabled, current.disabledReason], [false, 'gone']);

    await publisher.publish('call.created', call.id);
    await sleep(500);
    assert.equal(target.received.length, 1, 'a disabled endpoint gets no new events');
  });

  test('an endpoint failing for five days without a break is disabled', async () => {
    const target = await receiver(() => ({ status: 500 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    await stack.database.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: new Date(Date.now() - 5 * 24 * 3_600_000 - 60_000) })
      .where('id', '=', endpoint.id)
      .execute();
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');

    assert.equal(target.received.length, 1, 'no retry after the endpoint is disabled');
    const current = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${endpoint.id}`)
    ).json()) as {
      enabled: boolean;
      disabledReason: string | null;
    };
    assert.deepEqual([current.enabled, current.disabledReason], [false, 'failing']);

    const enabled = (await (
      await stack.admin('PATCH', `/api/webhook-endpoints/${endpoint.id}`, { enabled: true })
    ).json()) as { enabled: boolean; disabledReason: string | null; failingSince: string | null };
    assert.deepEqual(
      [enabled.enabled, enabled.disabledReason, enabled.failingSince],
      [true, null, null],
    );
  });

  test('a redirect is a failed attempt and is not followed', async () => {
    const elsewhere = await receiver();
    const target = await receiver(() => ({ status: 307, headers: { location: elsewhere.url } }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    const [logged] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');

    assert.equal(elsewhere.received.length, 0);
    assert.deepEqual(
      logged!.attempts.map((each) => each.responseStatus),
      [307, 307, 307],
    );
  });

  test('the retry route replays a delivery now, with the same event id', async () => {
    let healthy = false;
    const target = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    const [failed] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');

    healthy = true;
    const response = await stack.admin('POST', `/api/webhook-deliveries/${failed!.id}/retry`);
    assert.equal(response.status, 202);
    assert.equal(((await response.json()) as { id: string }).id, failed!.id);
    const [replayed] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );

    assert.equal(target.received.length, 4);
    assert.equal(new Set(target.received.map((each) => each.headers['webhook-id'])).size, 1);
    assert.deepEqual(
      replayed!.attempts.map((each) => [each.trigger, each.succeeded]),
      [
        ['scheduled', false],
        ['scheduled', false],
        ['scheduled', false],
        ['manual', true],
      ],
    );

    // A delivered event can be replayed too, say after the receiver lost it.
    await stack.admin('POST', `/api/webhook-deliveries/${failed!.id}/retry`);
    await target.waitFor(5);
    const [again] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.attemptCount === 5);
    assert.equal(again!.status, 'succeeded');
    assert.equal(
      target.received[4]!.headers['webhook-id'],
      target.received[0]!.headers['webhook-id'],
    );
  });

  test('a retry cuts short the wait of a delivery still on its schedule', async () => {
    let healthy = false;
    const target = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);
    const patient = createEventPublisher({
      db: stack.database.db,
      client: stack.api.client,
      taskQueue: stack.config.temporalTaskQueue,
      logger: createLogger({ level: 'silent' }),
      retrySchedule: [0, 10 * 60_000],
    });

    await patient.publish('call.scored', call.id);
    const [waiting] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.attemptCount === 1);
    assert.equal(waiting!.status, 'pending');
    healthy = true;
    const started = Date.now();
    assert.equal(
      (await stack.admin('POST', `/api/webhook-deliveries/${waiting!.id}/retry`)).status,
      202,
    );
    const [done] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );

    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(
      done!.attempts.map((each) => each.trigger),
      ['scheduled', 'manual'],
    );
    const handle = stack.api.client.workflow.getHandle(
      deliveryWorkflowId(done!.eventId, endpoint.id),
    );
    assert.deepEqual(await handle.result(), { status: 'succeeded', attempts: 2 });
  });

  test('a retry of a delivery to a disabled endpoint is refused', async () => {
    const target = await receiver(() => ({ status: 410 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);
    await publisher.publish('call.scored', call.id);
    const [delivery] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'failed',
    );

    const response = await stack.admin('POST', `/api/webhook-deliveries/${delivery!.id}/retry`);
    assert.equal(response.status, 409);
    assert.equal(((await response.json()) as { code: string }).code, 'endpoint_disabled');
    const unknown = await stack.admin(
      'POST',
      `/api/webhook-deliveries/${crypto.randomUUID()}/retry`,
    );
    assert.equal(unknown.status, 404);
  });

  test('event filters choose which endpoints get which events', async () => {
    const scoredOnly = await receiver();
    const createdOnly = await receiver();
    const everything = await receiver();
    await createEndpoint(stack, { url: scoredOnly.url, eventTypes: ['call.scored'] });
    await createEndpoint(stack, {
      url: createdOnly.url,
      eventTypes: ['call.created', 'call.failed'],
    });
    await createEndpoint(stack, { url: everything.url, eventTypes: [] });
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.created', call.id);
    await publisher.publish('call.scored', call.id);
    await everything.waitFor(2);
    await scoredOnly.waitFor(1);
    await createdOnly.waitFor(1);
    await sleep(500);

    const typeOf = (body: string) => (JSON.parse(body) as { type: string }).type;
    assert.deepEqual(
      scoredOnly.received.map((each) => typeOf(each.body)),
      ['call.scored'],
    );
    assert.deepEqual(
      createdOnly.received.map((each) => typeOf(each.body)),
      ['call.created'],
    );
    assert.deepEqual(everything.received.map((each) => typeOf(each.body)).sort(), [
      'call.created',
      'call.scored',
    ]);
  });

  test('after a rotation both secrets verify for a day, then only the new one', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(stack, { url: target.url });
    const rotated = (await (
      await stack.admin('POST', `/api/webhook-endpoints/${endpoint.id}/rotate-secret`)
    ).json()) as { secret: string; previousSecretExpiresAt: string };
    assert.notEqual(rotated.secret, endpoint.secret);
    const overlap = Date.parse(rotated.previousSecretExpiresAt) - Date.now();
    assert.ok(overlap > 23.9 * 3_600_000 && overlap <= 24 * 3_600_000);

    const call = await storeCall(stack, integration.id);
    await publisher.publish('call.created', call.id);
    const [during] = await target.waitFor(1);
    const headers = headersOf(during!);
    assert.equal(headers['webhook-signature']!.split(' ').length, 2);
    new Webhook(rotated.secret).verify(during!.body, headers);
    new Webhook(endpoint.secret).verify(during!.body, headers);

    await stack.database.db
      .updateTable('webhook_endpoints')
      .set({ previous_secret_expires_at: new Date(Date.now() - 1_000) })
      .where('id', '=', endpoint.id)
      .execute();
    await publisher.publish('call.scored', call.id);
    const [, afterwards] = await target.waitFor(2);
    const laterHeaders = headersOf(afterwards!);
    assert.equal(laterHeaders['webhook-signature']!.split(' ').length, 1);
    new Webhook(rotated.secret).verify(afterwards!.body, laterHeaders);
    assert.throws(() => new Webhook(endpoint.secret).verify(afterwards!.body, laterHeaders));
  });

  test('a slow endpoint delays neither the publisher nor the other endpoints', async () => {
    const slow = await receiver(() => ({ status: 200, delayMs: 4_000 }));
    const fast = await receiver();
    await createEndpoint(stack, { url: slow.url });
    await createEndpoint(stack, { url: fast.url });
    const call = await storeCall(stack, integration.id);

    const started = Date.now();
    await publisher.publish('call.scored', call.id);
    const publishMs = Date.now() - started;
    await fast.waitFor(1, 3_000);
    const fastMs = Date.now() - started;

    assert.ok(publishMs < 1_500, `publish took ${publishMs} ms`);
    assert.ok(fastMs < 3_000, `the fast endpoint waited ${fastMs} ms`);
    await slow.waitFor(1);
  });

  test('disabled and deleted endpoints receive nothing', async () => {
    const disabled = await receiver();
    const deleted = await receiver();
    const off = await createEndpoint(stack, { url: disabled.url, enabled: false });
    const gone = await createEndpoint(stack, { url: deleted.url });
    assert.equal((await stack.admin('DELETE', `/api/webhook-endpoints/${gone.id}`)).status, 204);
    const call = await storeCall(stack, integration.id);

    await publisher.publish('call.scored', call.id);
    await sleep(800);

    assert.equal(disabled.received.length, 0);
    assert.equal(deleted.received.length, 0);
    assert.equal((await listDeliveries(stack, off.id)).length, 0);
  });

  test('deliveries are listed newest first, page by page', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);
    for (let index = 0; index < 5; index += 1) {
      await publisher.publish('call.scored', call.id, { dedupeKey: `page-${index}` });
    }
    await target.waitFor(5);

    const all = await listDeliveries(stack, endpoint.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = (await (
        await stack.admin('GET', `/api/webhook-endpoints/${endpoint.id}/deliveries${query}`)
      ).json()) as { deliveries: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...page.deliveries.map((each) => each.id));
      cursor = page.nextCursor;
    } while (cursor);

    assert.deepEqual(
      seen,
      all.map((each) => each.id),
    );
    assert.equal(seen.length, 5);
    const created = await stack.database.db
      .selectFrom('webhook_deliveries')
      .select(['id', sql<string>`created_at::text`.as('at')])
      .where('endpoint_id', '=', endpoint.id)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    assert.deepEqual(
      seen,
      created.map((each) => each.id),
    );
  });

  test('delivery workflow histories replay without a determinism error', async () => {
    const target = await receiver((index) => ({ status: index === 0 ? 500 : 200 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const call = await storeCall(stack, integration.id);
    await publisher.publish('call.scored', call.id);
    const [delivery] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );

    const handle = stack.api.client.workflow.getHandle(
      deliveryWorkflowId(delivery!.eventId, endpoint.id),
    );
    assert.deepEqual(await handle.result(), { status: 'succeeded', attempts: 2 });
    const history = await handle.fetchHistory();
    const bundle = workflowBundle();
    const options = bundle ? { workflowBundle: bundle } : { workflowsPath };
    for await (const result of Worker.runReplayHistories(options, [
      { workflowId: handle.workflowId, history },
    ])) {
      assert.equal(result.error, undefined, result.error?.message);
    }
  });
});

describe('a single webhook request', () => {
  let target: Receiver;

  before(async () => {
    target = await startReceiver(() => ({ status: 200, delayMs: 2_000 }));
  });
  after(() => target.close());

  test('is cut off at its timeout', async () => {
    const result = await postWebhook({
      url: target.url,
      body: '{}',
      headers: {},
      policy: createAddressPolicy({ allowPrivateHosts: ['127.0.0.1'] }),
      timeoutMs: 300,
    });

    assert.equal(result.ok, false);
    assert.equal(result.status, null);
    assert.match((result as { error: string }).error, /within 300 ms/);
    assert.ok(result.latencyMs < 1_500);
  });

  test('never reaches an address the policy refuses', async () => {
    const before = target.received.length;
    const result = await postWebhook({
      url: target.url,
      body: '{}',
      headers: {},
      policy: createAddressPolicy({ label: 'webhook URL' }),
      timeoutMs: 1_000,
    });

    assert.equal(result.ok, false);
    assert.match(
      (result as { error: string }).error,
      /webhook URL resolves to 127\.0\.0\.1, a loopback address/,
    );
    assert.equal(target.received.length, before);
  });
});
