import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { createLogger } from '../../core/logger.js';
import type { PruneDeliveryLogResult } from '../../activities/retention.js';
import {
  ensurePruneDeliveryLogSchedule,
  pruneDeliveryLogScheduleId,
} from '../../worker/schedules.js';
import type { IntegrationCredentials, TestStack } from '../helpers/stack.js';
import { createEndpoint, eventually, startDownstreamStack, storeCall } from './helpers.js';

const dayMs = 86_400_000;

describe('delivery log retention', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;
  let endpointId: string;

  before(async () => {
    stack = await startDownstreamStack({ env: { DELIVERY_LOG_RETENTION_DAYS: '7' } });
    integration = await stack.createIntegration({ name: 'retention' });
    endpointId = (await createEndpoint(stack, { url: 'http://127.0.0.1:9/hooks' })).id;
  });
  after(() => stack.close());

  /** An event of `ageDays` with one delivery per given status, each with one logged attempt. */
  async function storeEvent(
    ageDays: number,
    deliveries: Array<'pending' | 'succeeded' | 'failed'>,
  ) {
    const { db } = stack.database;
    const call = await storeCall(stack, integration.id);
    const createdAt = new Date(Date.now() - ageDays * dayMs);
    const eventId = randomUUID();
    await db
      .insertInto('events')
      .values({
        id: eventId,
        workspace_id: stack.workspaceId,
        call_id: call.id,
        type: 'call.scored',
        payload: JSON.stringify({ id: eventId }),
        created_at: createdAt,
      })
      .execute();

    for (const status of deliveries) {
      // One endpoint receives an event once, so each further delivery goes to an endpoint of its own.
      const target =
        deliveries.indexOf(status) === 0
          ? endpointId
          : (await createEndpoint(stack, { url: 'http://127.0.0.1:9/other' })).id;
      const delivery = await db
        .insertInto('webhook_deliveries')
        .values({
          workspace_id: stack.workspaceId,
          event_id: eventId,
          endpoint_id: target,
          status,
          attempt_count: 1,
          created_at: createdAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('webhook_delivery_attempts')
        .values({
          delivery_id: delivery.id,
          attempt: 1,
          trigger: 'scheduled',
          started_at: createdAt,
          latency_ms: 12,
          succeeded: status === 'succeeded',
        })
        .execute();
    }

    return eventId;
  }

  async function eventExists(id: string): Promise<boolean> {
    const row = await stack.database.db
      .selectFrom('events')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();

    return row !== undefined;
  }

  async function countFor(eventIds: string[]) {
    const { db } = stack.database;
    const deliveries = await db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('event_id', 'in', eventIds)
      .execute();
    const attempts =
      deliveries.length === 0
        ? []
        : await db
            .selectFrom('webhook_delivery_attempts')
            .select('id')
            .where(
              'delivery_id',
              'in',
              deliveries.map((each) => each.id),
            )
            .execute();

    return { deliveries: deliveries.length, attempts: attempts.length };
  }

  test('the worker registers an hourly schedule on its task queue that never overlaps itself', async () => {
    const schedule = await stack.api.client.schedule
      .getHandle(pruneDeliveryLogScheduleId(stack.config.temporalTaskQueue))
      .describe();

    assert.equal(schedule.action.type, 'startWorkflow');
    assert.equal(schedule.action.workflowType, 'pruneDeliveryLog');
    assert.equal(schedule.action.taskQueue, stack.config.temporalTaskQueue);
    assert.deepEqual(
      schedule.spec.intervals?.map((interval) => interval.every),
      [3_600_000],
    );
    assert.equal(schedule.policies.overlap, 'SKIP');
  });

  test('a scheduled run deletes settled events past retention with their log, and keeps the rest', async () => {
    const oldSettled = await storeEvent(10, ['succeeded', 'failed']);
    const oldUndelivered = await storeEvent(10, []);
    const oldPending = await storeEvent(10, ['succeeded', 'pending']);
    const recent = await storeEvent(2, ['succeeded']);

    await stack.api.client.schedule
      .getHandle(pruneDeliveryLogScheduleId(stack.config.temporalTaskQueue))
      .trigger();
    await eventually(
      async () => ((await eventExists(oldSettled)) ? undefined : true),
      20_000,
      'the old settled event deleted',
    );

    assert.equal(await eventExists(oldUndelivered), false);
    assert.deepEqual(await countFor([oldSettled, oldUndelivered]), { deliveries: 0, attempts: 0 });
    assert.equal(await eventExists(oldPending), true, 'an event with a pending delivery stays');
    assert.deepEqual(await countFor([oldPending]), { deliveries: 2, attempts: 2 });
    assert.equal(await eventExists(recent), true, 'an event within retention stays');
    assert.deepEqual(await countFor([recent]), { deliveries: 1, attempts: 1 });
  });

  test('a run with nothing past retention deletes nothing and says which cut-off it used', async () => {
    const result = (await stack.api.client.workflow.execute('pruneDeliveryLog', {
      taskQueue: stack.config.temporalTaskQueue,
      workflowId: `prune-test-${randomUUID()}`,
      args: [],
    })) as PruneDeliveryLogResult;

    assert.equal(result.deleted, 0);
    const cutoff = Date.parse(result.olderThan ?? '');
    assert.ok(Math.abs(cutoff - (Date.now() - 7 * dayMs)) < 60_000, result.olderThan ?? 'null');
  });

  test('retention 0 removes the schedule, and registering again is idempotent', async () => {
    const logger = createLogger({ level: 'silent' });
    const options = { taskQueue: stack.config.temporalTaskQueue, logger };
    const handle = stack.api.client.schedule.getHandle(
      pruneDeliveryLogScheduleId(stack.config.temporalTaskQueue),
    );

    await ensurePruneDeliveryLogSchedule(stack.api.client, { ...options, retentionDays: 0 });
    await assert.rejects(handle.describe(), ScheduleNotFoundError);
    await ensurePruneDeliveryLogSchedule(stack.api.client, { ...options, retentionDays: 0 });

    await ensurePruneDeliveryLogSchedule(stack.api.client, { ...options, retentionDays: 7 });
    await ensurePruneDeliveryLogSchedule(stack.api.client, { ...options, retentionDays: 7 });
    assert.equal((await handle.describe()).action.workflowType, 'pruneDeliveryLog');
  });
});
