import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorRegistry } from '../../api/errors.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

describe('the error registry', () => {
  test('every code has an HTTP error status and a message', () => {
    for (const [code, entry] of Object.entries(errorRegistry)) {
      assert.match(code, /^[a-z_]+$/);
      assert.ok(entry.status >= 400 && entry.status < 600, code);
      assert.ok(entry.message.length > 0, code);
    }
  });

  test('the contract errors carry the contract texts', () => {
    assert.deepEqual(errorRegistry.unauthorized, { status: 401, message: 'Unauthorized' });
    assert.deepEqual(errorRegistry.forbidden, { status: 403, message: 'Forbidden' });
    assert.equal(errorRegistry.invalid_payload.status, 400);
  });
});

describe('health probes', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ withWorker: false });
  });
  after(() => stack.close());

  test('/healthz answers while the process is up', async () => {
    const response = await fetch(`${stack.baseUrl}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  test('/readyz answers 200 when the database and Temporal answer', async () => {
    const response = await fetch(`${stack.baseUrl}/readyz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
  });
});

describe('when dependencies are down', () => {
  let stack: TestStack;

  before(async () => {
    // Port 9 (discard) on loopback: nothing listens there, so Temporal is unreachable.
    stack = await startTestStack({ withWorker: false, temporalAddress: '127.0.0.1:9' });
  });
  after(() => stack.close());

  test('/readyz answers 503 naming what is unreachable', async () => {
    const response = await fetch(`${stack.baseUrl}/readyz`);
    assert.equal(response.status, 503);
    const body = (await response.json()) as { status: string; checks: Record<string, string> };
    assert.equal(body.status, 'not_ready');
    assert.equal(body.checks.database, 'ok');
    assert.notEqual(body.checks.temporal, 'ok');
  });

  test('an unexpected failure is a generic 500 that leaks nothing', async () => {
    const integration = await stack.createIntegration();
    await stack.database.db.schema.dropTable('scores').execute();
    await stack.database.db.schema.alterTable('calls').renameTo('calls_moved').execute();

    const response = await stack.postCall(integration, { externalId: 'boom', transcript: 'Agent: hi' });
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: 'Internal server error' });

    const managed = await stack.admin('GET', '/api/calls');
    assert.equal(managed.status, 500);
    assert.deepEqual(await managed.json(), { error: 'Internal server error', code: 'internal_error' });

    await stack.database.db.schema.alterTable('calls_moved').renameTo('calls').execute();
  });
});
