// One test per line of the public webhook contract (shared reference: phone-webhook-api.txt).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the webhook contract', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    stack = await startTestStack();
    integration = await stack.createIntegration({ name: '360CTI' });
  });
  after(() => stack.close());

  test('the webhook URL is /api/webhooks/phone/generic/{token} with a UUID token', () => {
    const url = new URL(integration.webhookUrl);
    assert.match(url.pathname, /^\/api\/webhooks\/phone\/generic\/[0-9a-f-]{36}$/);
    assert.match(integration.token, uuidPattern);
  });

  test('the minimal payload is accepted and answered { success: true, callId }', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'call-20260424-001',
      recordingUrl: 'https://example.com/recordings/call-001.mp3',
    });

    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['callId', 'success']);
    assert.equal(body.success, true);
    assert.match(String(body.callId), uuidPattern);
  });

  test('the full payload with a transcript is stored field by field and scored', async () => {
    const payload = {
      externalId: 'call-20260424-002',
      repName: 'Jane Smith',
      callerPhone: '+15551234567',
      duration: 245,
      callDate: '2026-04-24T10:00:00Z',
      transcript:
        'Agent: Hi, this is Jane. How can I help you?\nCustomer: I saw your listing...',
      metadata: { leadId: 'lead-999', callLogId: 'log-20260424', source: '360CTI' },
    };
    const response = await stack.postCall(integration, payload);
    assert.equal(response.status, 200);
    const { callId } = (await response.json()) as { callId: string };

    await stack.waitForCall(callId);
    const call = (await (await stack.admin('GET', `/api/calls/${callId}`)).json()) as Record<string, any>;

    assert.equal(call.status, 'scored');
    assert.equal(call.externalId, payload.externalId);
    assert.equal(call.repName, 'Jane Smith');
    assert.equal(call.callerPhone, '+15551234567');
    assert.equal(call.duration, 245);
    assert.equal(call.callDate, '2026-04-24T10:00:00.000Z');
    assert.deepEqual(call.transcript, { text: payload.transcript, source: 'inline' });
    assert.deepEqual(call.metadata, payload.metadata);
    assert.equal(call.score.stats.agentTurns, 1);
    assert.equal(call.score.stats.customerTurns, 1);
    assert.equal(call.score.stats.agentQuestions, 1);
  });

  test('re-sending an externalId is safe: 200 skipped duplicate with the existing callId', async () => {
    const first = await stack.postCall(integration, { externalId: 'dup-1', transcript: 'Agent: Hello' });
    const { callId } = (await first.json()) as { callId: string };

    const again = await stack.postCall(integration, {
      externalId: 'dup-1',
      transcript: 'Agent: A different text',
    });

    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { skipped: true, reason: 'duplicate', callId });
  });

  test('a call with neither recordingUrl nor transcript is skipped with HTTP 200 and not stored', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'no-audio-1',
      repName: 'Jane',
      metadata: { leadId: 'lead-1' },
    });

    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { skipped: true, reason: 'no_recording' });

    const stored = await stack.database.db
      .selectFrom('calls')
      .select('id')
      .where('external_id', '=', 'no-audio-1')
      .execute();
    assert.equal(stored.length, 0);
  });

  test('the same externalId on another integration is a different call', async () => {
    const other = await stack.createIntegration({ name: 'Twilio', provider: 'twilio' });
    const one = (await (await stack.postCall(integration, { externalId: 'shared-id', transcript: 'Agent: hi' })).json()) as { callId: string };
    const two = (await (await stack.postCall(other, { externalId: 'shared-id', transcript: 'Agent: hi' })).json()) as { callId: string; success: boolean };

    assert.equal(two.success, true);
    assert.notEqual(one.callId, two.callId);
  });

  test('a missing or wrong Bearer key is answered 401 { "error": "Unauthorized" }', async () => {
    const response = await stack.postCall(
      integration,
      { externalId: 'x', transcript: 'Agent: hi' },
      { authorization: 'Bearer cm_live_wrong' },
    );

    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: 'Unauthorized' });
  });

  test('a wrong webhook URL is answered 401 { "error": "Unauthorized" }', async () => {
    const response = await stack.postCall(
      { ...integration, webhookUrl: `${stack.baseUrl}/api/webhooks/phone/generic/${crypto.randomUUID()}` },
      { externalId: 'x', transcript: 'Agent: hi' },
    );

    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: 'Unauthorized' });
  });

  test('a payload without externalId is answered 400 { "error": "Invalid payload: externalId: Required" }', async () => {
    const response = await stack.postCall(integration, { recordingUrl: 'https://example.com/a.mp3' });

    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'Invalid payload: externalId: Required' });
  });

  test('the Node.js example (fetch with JSON.stringify) gets { success: true, callId }', async () => {
    const call = {
      id: 'node-example-1',
      agentName: 'Sam Rep',
      fromNumber: '+442071838750',
      durationSeconds: 61.5,
      startedAt: '2026-04-24T09:30:00+01:00',
      recordingUrl: 'https://api.twilio.com/recordings/RE123',
      leadId: 'lead-77',
    };
    const response = await fetch(integration.webhookUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${integration.apiKey}` },
      body: JSON.stringify({
        externalId: call.id,
        repName: call.agentName,
        callerPhone: call.fromNumber,
        duration: call.durationSeconds,
        callDate: call.startedAt,
        recordingUrl: call.recordingUrl,
        metadata: { leadId: call.leadId, source: 'my-dialer' },
      }),
    });
    const result = (await response.json()) as { success: boolean; callId: string };

    assert.equal(result.success, true);
    assert.match(result.callId, uuidPattern);
  });

  test('a call without callDate defaults to the time it was received', async () => {
    const before = Date.now();
    const { callId } = (await (await stack.postCall(integration, { externalId: 'no-date', transcript: 'Agent: hi' })).json()) as { callId: string };
    const call = (await (await stack.admin('GET', `/api/calls/${callId}`)).json()) as { callDate: string };

    const callDate = Date.parse(call.callDate);
    assert.ok(callDate >= before - 1_000 && callDate <= Date.now() + 1_000, call.callDate);
  });

  test('metadata is stored and returned verbatim: keys in order, types and unicode intact', async () => {
    const metadata = {
      zeta: 'last letter first',
      leadId: 'lead-456',
      callLogId: 'log-789',
      campaignId: 'spring-2026',
      source: '360CTI',
      disposition: 'Interested',
      nested: { list: [1, 2.5, -3e-7, true, false, null, 'x'], empty: {}, none: [] },
      unicode: 'Grüße, 東京, emoji 🎧, rtl עברית, zero-width\u200b',
      quote: 'he said "hi" \\ back',
      big: 9007199254740991,
    };
    const { callId } = (await (await stack.postCall(integration, { externalId: 'meta-1', transcript: 'Agent: hi', metadata })).json()) as { callId: string };

    const response = await stack.admin('GET', `/api/calls/${callId}`);
    const text = await response.text();
    const call = JSON.parse(text) as { metadata: unknown };

    assert.deepEqual(call.metadata, metadata);
    assert.deepEqual(Object.keys(call.metadata as object), Object.keys(metadata));
    assert.ok(text.includes(JSON.stringify(metadata)), 'metadata serialises to the same text');
  });
});
