import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

describe('webhook input validation', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    stack = await startTestStack({ withWorker: false, env: { WEBHOOK_BODY_LIMIT: '100kb' } });
    integration = await stack.createIntegration();
  });
  after(() => stack.close());

  async function expect400(body: unknown, error: string) {
    const response = await stack.postCall(integration, body);
    assert.equal(response.status, 400, `expected 400 for ${JSON.stringify(body).slice(0, 80)}`);
    assert.deepEqual(await response.json(), { error });
  }

  const base = { externalId: 'v-1', transcript: 'Agent: hi' };

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['an empty externalId', { externalId: '', transcript: 'x' }, 'externalId: Must not be empty'],
    ['a blank externalId', { externalId: '   ', transcript: 'x' }, 'externalId: Must not be empty'],
    ['a numeric externalId', { externalId: 42, transcript: 'x' }, 'externalId: Expected a string'],
    ['a null externalId', { externalId: null, transcript: 'x' }, 'externalId: Expected a string'],
    ['an externalId over 255 characters', { externalId: 'x'.repeat(256), transcript: 'x' }, 'externalId: Must be at most 255 characters'],
    ['a numeric repName', { ...base, repName: 7 }, 'repName: Expected a string'],
    ['a phone number that is not E.164', { ...base, callerPhone: '555-1234' }, 'callerPhone: Must be an E.164 phone number such as +15551234567'],
    ['a phone number with a leading zero country code', { ...base, callerPhone: '+0123456' }, 'callerPhone: Must be an E.164 phone number such as +15551234567'],
    ['a phone number that is too long', { ...base, callerPhone: '+1234567890123456' }, 'callerPhone: Must be an E.164 phone number such as +15551234567'],
    ['a negative duration', { ...base, duration: -1 }, 'duration: Must not be negative'],
    ['a duration given as text', { ...base, duration: '245' }, 'duration: Expected a number of seconds'],
    ['a callDate without a time zone', { ...base, callDate: '2026-04-24T10:00:00' }, 'callDate: Must be an ISO 8601 date-time with a time zone, such as 2026-04-24T10:00:00Z'],
    ['a callDate that is not a date', { ...base, callDate: 'yesterday' }, 'callDate: Must be an ISO 8601 date-time with a time zone, such as 2026-04-24T10:00:00Z'],
    ['an ftp recordingUrl', { externalId: 'v', recordingUrl: 'ftp://example.com/a.mp3' }, 'recordingUrl: Must be an http or https URL'],
    ['a recordingUrl that is not a URL', { externalId: 'v', recordingUrl: 'not a url' }, 'recordingUrl: Must be an http or https URL'],
    ['a numeric transcript', { externalId: 'v', transcript: 12 }, 'transcript: Expected a string'],
    ['a transcript with a NUL character', { externalId: 'v', transcript: 'Agent: a\u0000b' }, 'transcript: Must not contain NUL characters'],
    ['metadata that is an array', { ...base, metadata: ['a'] }, 'metadata: Expected a JSON object'],
    ['metadata that is a string', { ...base, metadata: 'lead-1' }, 'metadata: Expected a JSON object'],
    ['metadata over 64 KiB', { ...base, metadata: { blob: 'x'.repeat(65 * 1024) } }, 'metadata: Must be at most 64 KiB when serialised'],
  ];

  for (const [what, body, message] of invalid) {
    test(`${what} is refused with 400 naming the field`, () => expect400(body, `Invalid payload: ${message}`));
  }

  test('several problems are reported together, joined by "; "', () =>
    expect400(
      { externalId: '', duration: -5, callerPhone: 'nope' },
      'Invalid payload: externalId: Must not be empty; callerPhone: Must be an E.164 phone number such as +15551234567; duration: Must not be negative',
    ));

  for (const [what, raw] of [
    ['an array', '[{"externalId":"a"}]'],
    ['a string', '"call-1"'],
    ['a number', '42'],
    ['null', 'null'],
  ] as const) {
    test(`a body that is ${what} is refused with 400`, async () => {
      const response = await stack.postCall(integration, raw);
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: string };
      assert.match(body.error, /^(Invalid payload: body: Expected a JSON object|Body is not valid JSON)$/);
    });
  }

  test('malformed JSON is refused with 400', async () => {
    const response = await stack.postCall(integration, '{"externalId": "a",');
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'Body is not valid JSON' });
  });

  test('a body that is not application/json is refused with 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await stack.postCall(integration, 'externalId=a', { 'content-type': contentType });
      assert.equal(response.status, 415, contentType);
      assert.deepEqual(await response.json(), { error: 'Content-Type must be application/json' });
    }
  });

  test('application/json with a charset parameter is accepted', async () => {
    const response = await stack.postCall(integration, { externalId: 'charset-1', transcript: 'Agent: hi' }, {
      'content-type': 'application/json; charset=utf-8',
    });
    assert.equal(response.status, 200);
  });

  test('a body over the configured limit is refused with 413', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'big-1',
      transcript: `Agent: ${'word '.repeat(30_000)}`,
    });
    assert.equal(response.status, 413);
    assert.deepEqual(await response.json(), { error: 'Payload too large' });
  });

  test('unknown top-level fields are ignored, not refused', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'extra-1',
      transcript: 'Agent: hi',
      disposition: 'Interested',
      agentId: 12,
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { success: boolean }).success, true);
  });

  test('optional fields sent as null count as not sent', async () => {
    const response = await stack.postCall(integration, {
      externalId: 'nulls-1',
      transcript: 'Agent: hi',
      repName: null,
      callerPhone: null,
      duration: null,
      callDate: null,
      recordingUrl: null,
      metadata: null,
    });
    assert.equal(response.status, 200);
  });

  test('a blank transcript without a recording is skipped as no_recording', async () => {
    const response = await stack.postCall(integration, { externalId: 'blank-1', transcript: '  \n ' });
    assert.deepEqual(await response.json(), { skipped: true, reason: 'no_recording' });
  });

  test('a refused payload stores nothing', async () => {
    await stack.postCall(integration, { externalId: 'refused-1', duration: -1, transcript: 'x' });
    const rows = await stack.database.db.selectFrom('calls').select('id').where('external_id', '=', 'refused-1').execute();
    assert.equal(rows.length, 0);
  });
});
