import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestStack, type TestStack } from '../helpers/stack.js';

describe('logs', () => {
  const lines: string[] = [];
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({
      env: { LOG_LEVEL: 'trace' },
      logDestination: { write: (line: string) => void lines.push(line) },
    });
  });
  after(() => stack.close());

  test('never contain keys, tokens, transcripts or phone numbers, and carry request ids', async () => {
    const integration = await stack.createIntegration({ name: 'log check' });
    const transcript = 'Agent: The secret discount code is PINEAPPLE-42.\nCustomer: Lovely.';
    const callerPhone = '+15559876543';

    const response = await stack.postCall(
      integration,
      { externalId: 'log-1', callerPhone, transcript, metadata: { ssn: 'meta-value-77' } },
      { 'x-request-id': 'req-log-test-1' },
    );
    const { callId } = (await response.json()) as { callId: string };
    assert.equal(response.headers.get('x-request-id'), 'req-log-test-1');
    await stack.postCall({ ...integration, apiKey: 'cm_live_attackerguess' }, { externalId: 'log-2', transcript });
    await stack.postCall(integration, { externalId: '', transcript, callerPhone });
    await stack.waitForCall(callId);
    await stack.admin('POST', `/api/integrations/${integration.id}/rotate-key`);

    const all = lines.join('');
    assert.ok(lines.length > 5, 'something was logged');
    for (const secret of [
      integration.apiKey,
      integration.token,
      stack.adminKey,
      'cm_live_attackerguess',
      'PINEAPPLE-42',
      callerPhone,
      'meta-value-77',
    ]) {
      assert.ok(!all.includes(secret), `a log line contains ${secret}`);
    }

    const accepted = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'call accepted');
    assert.equal(accepted?.requestId, 'req-log-test-1');
    assert.equal(accepted?.callId, callId);
    const completed = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request completed');
    assert.ok(completed.some((entry) => entry.route === '/api/webhooks/phone/generic/:token' && entry.status === 401));
  });
});
