import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startTemporalDevServer, type TemporalDevServer } from '../../cli/temporal-dev-server.js';
import { createLogger } from '../../core/logger.js';
import { freePort } from '../helpers/ports.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

describe('a Temporal outage', () => {
  let temporal: TemporalDevServer | undefined;
  let stack: TestStack | undefined;

  after(async () => {
    await stack?.close();
    await temporal?.stop();
  });

  test('a call posted while Temporal is down is stored, answered 200 and scored once it is back', async () => {
    const cliPath = process.env.CLOSERMODE_TEST_TEMPORAL_CLI;
    const port = await freePort();
    const dbFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'outage-')), 'temporal.sqlite');
    const start = () => startTemporalDevServer({ cliPath, port, dbFile, namespace: 'default', logger: createLogger({ level: 'silent' }) });

    temporal = await start();
    stack = await startTestStack({ temporalAddress: temporal.address, recoveryIntervalMs: 300 });
    const integration = await stack.createIntegration();

    await stack.stopWorker();
    await temporal.stop();
    temporal = undefined;

    const started = Date.now();
    const response = await stack.postCall(integration, {
      externalId: 'during-outage',
      transcript: 'Agent: Hello, how are you?\nCustomer: Fine.',
    });
    assert.equal(response.status, 200);
    const { success, callId } = (await response.json()) as { success: boolean; callId: string };
    assert.equal(success, true);
    assert.ok(Date.now() - started < 10_000, 'the answer does not wait for Temporal');

    const stored = await stack.database.db.selectFrom('calls').selectAll().where('id', '=', callId).executeTakeFirstOrThrow();
    assert.equal(stored.status, 'queued');
    assert.equal(stored.workflow_started_at, null);

    // A second call during the outage is answered without waiting on Temporal at all.
    const second = await stack.postCall(integration, { externalId: 'during-outage-2', transcript: 'Agent: hi' });
    const { callId: secondId } = (await second.json()) as { callId: string };

    temporal = await start();
    await stack.startWorker();

    const call = await stack.waitForCall(callId, ['scored', 'failed'], 60_000);
    assert.equal(call.status, 'scored');
    assert.notEqual(call.workflow_started_at, null);
    assert.equal((await stack.waitForCall(secondId, ['scored', 'failed'], 60_000)).status, 'scored');
  });
});
