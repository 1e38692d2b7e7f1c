import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAdminKey } from '../../core/bootstrap.js';
import { ensureWorkspace } from '../../db/queries/workspaces.js';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

describe('the calls API', () => {
  let stack: TestStack;
  let first: IntegrationCredentials;
  let second: IntegrationCredentials;
  const ids: string[] = [];

  before(async () => {
    stack = await startTestStack({ withWorker: false });
    first = await stack.createIntegration({ name: 'first' });
    second = await stack.createIntegration({ name: 'second' });
    for (let i = 0; i < 7; i += 1) {
      const target = i % 2 === 0 ? first : second;
      const response = await stack.postCall(target, { externalId: `list-${i}`, transcript: `Agent: call ${i}` });
      ids.push(((await response.json()) as { callId: string }).callId);
    }
  });
  after(() => stack.close());

  test('a call is returned with exactly the documented fields', async () => {
    const response = await stack.admin('GET', `/api/calls/${ids[0]}`);
    assert.equal(response.status, 200);
    const call = (await response.json()) as Record<string, unknown>;

    assert.deepEqual(Object.keys(call).sort(), [
      'callDate', 'callerPhone', 'createdAt', 'duration', 'externalId', 'failureReason', 'id',
      'integrationId', 'metadata', 'recordingUrl', 'repName', 'score', 'status', 'transcript',
      'updatedAt', 'workflowId',
    ]);
    assert.equal(call.integrationId, first.id);
    assert.equal(call.workflowId, `call:${first.id}:list-0`);
    assert.deepEqual(call.transcript, { text: 'Agent: call 0', source: 'inline' });
  });

  test('calls are listed newest first', async () => {
    const { calls } = (await (await stack.admin('GET', '/api/calls')).json()) as { calls: Array<{ id: string }> };
    assert.deepEqual(calls.map((call) => call.id), [...ids].reverse());
  });

  test('pages follow the cursor without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const page = (await (await stack.admin('GET', `/api/calls${query}`)).json()) as { calls: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...page.calls.map((call) => call.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);

    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse());
  });

  test('calls can be filtered by integration and status', async () => {
    const byIntegration = (await (await stack.admin('GET', `/api/calls?integrationId=${second.id}`)).json()) as { calls: Array<{ integrationId: string }> };
    assert.equal(byIntegration.calls.length, 3);
    assert.ok(byIntegration.calls.every((call) => call.integrationId === second.id));

    const queued = (await (await stack.admin('GET', '/api/calls?status=queued')).json()) as { calls: unknown[] };
    assert.equal(queued.calls.length, 7);
    const scored = (await (await stack.admin('GET', '/api/calls?status=scored')).json()) as { calls: unknown[] };
    assert.equal(scored.calls.length, 0);
  });

  test('bad list parameters are refused with 400', async () => {
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'status=done', 'integrationId=nope', 'cursor=nope']) {
      const response = await stack.admin('GET', `/api/calls?${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(((await response.json()) as { code: string }).code, 'invalid_request');
    }
  });

  test('an unknown call is 404', async () => {
    const response = await stack.admin('GET', `/api/calls/${crypto.randomUUID()}`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: 'Call not found', code: 'not_found' });
  });

  test("another workspace's admin key sees none of these calls", async () => {
    const { workspace } = await ensureWorkspace(stack.database.db, 'other-team');
    const otherKey = await createAdminKey(stack.database.db, workspace.id, 'other');
    const headers = { authorization: `Bearer ${otherKey}` };

    const single = await fetch(`${stack.baseUrl}/api/calls/${ids[0]}`, { headers });
    assert.equal(single.status, 404);
    const list = (await (await fetch(`${stack.baseUrl}/api/calls`, { headers })).json()) as { calls: unknown[] };
    assert.equal(list.calls.length, 0);
    const integrations = (await (await fetch(`${stack.baseUrl}/api/integrations`, { headers })).json()) as { integrations: unknown[] };
    assert.equal(integrations.integrations.length, 0);
    const rotate = await fetch(`${stack.baseUrl}/api/integrations/${first.id}/rotate-key`, { method: 'POST', headers });
    assert.equal(rotate.status, 404);
  });
});
