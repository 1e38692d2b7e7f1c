import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashSecret } from '../../core/secrets.js';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';

const call = { externalId: 'auth-call', transcript: 'Agent: hello' };

describe('webhook authentication', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;
  let other: IntegrationCredentials;

  before(async () => {
    stack = await startTestStack({ withWorker: false });
    integration = await stack.createIntegration({ name: 'primary' });
    other = await stack.createIntegration({ name: 'other' });
  });
  after(() => stack.close());

  async function statusWith(authorization: string | undefined, target = integration, body: unknown = call) {
    const response = await fetch(target.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization !== undefined && { authorization }),
      },
      body: JSON.stringify(body),
    });

    return { status: response.status, body: await response.json() };
  }

  const unauthorized = { status: 401, body: { error: 'Unauthorized' } };

  test('the right key is accepted', async () => {
    assert.equal((await statusWith(`Bearer ${integration.apiKey}`)).status, 200);
  });

  test('a missing Authorization header is 401', async () => {
    assert.deepEqual(await statusWith(undefined), unauthorized);
  });

  test('an empty Authorization header is 401', async () => {
    assert.deepEqual(await statusWith(''), unauthorized);
  });

  test('"Bearer" with no key is 401', async () => {
    assert.deepEqual(await statusWith('Bearer'), unauthorized);
    assert.deepEqual(await statusWith('Bearer '), unauthorized);
  });

  test('a wrong key is 401', async () => {
    assert.deepEqual(await statusWith('Bearer cm_live_0000000000000000000000000000000000000000'), unauthorized);
  });

  test('the key with one character changed is 401', async () => {
    const last = integration.apiKey.at(-1) === 'a' ? 'b' : 'a';
    assert.deepEqual(await statusWith(`Bearer ${integration.apiKey.slice(0, -1)}${last}`), unauthorized);
  });

  test('the key with extra characters is 401', async () => {
    assert.deepEqual(await statusWith(`Bearer ${integration.apiKey}x`), unauthorized);
  });

  test('the key without the Bearer scheme is 401', async () => {
    assert.deepEqual(await statusWith(integration.apiKey), unauthorized);
  });

  test('another scheme carrying the key is 401', async () => {
    assert.deepEqual(await statusWith(`Basic ${integration.apiKey}`), unauthorized);
    assert.deepEqual(await statusWith(`Token ${integration.apiKey}`), unauthorized);
  });

  test('the scheme name is case-insensitive', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      assert.equal((await statusWith(`${scheme} ${integration.apiKey}`)).status, 200, scheme);
    }
  });

  test('extra spaces around and after the scheme are tolerated', async () => {
    assert.equal((await statusWith(`Bearer   ${integration.apiKey}`)).status, 200);
    assert.equal((await statusWith(`  Bearer ${integration.apiKey}  `)).status, 200);
  });

  test('a key with a space inside is 401', async () => {
    assert.deepEqual(await statusWith(`Bearer ${integration.apiKey.slice(0, 10)} ${integration.apiKey.slice(10)}`), unauthorized);
  });

  test("another integration's key is 401 on this integration's URL", async () => {
    assert.deepEqual(await statusWith(`Bearer ${other.apiKey}`, integration), unauthorized);
    assert.deepEqual(await statusWith(`Bearer ${integration.apiKey}`, other), unauthorized);
  });

  test('an unknown token is 401, as is one that is not a UUID', async () => {
    for (const token of [crypto.randomUUID(), 'not-a-uuid', "1' or '1'='1", '%00', 'a'.repeat(300)]) {
      const target = { ...integration, webhookUrl: `${stack.baseUrl}/api/webhooks/phone/generic/${encodeURIComponent(token)}` };
      assert.deepEqual(await statusWith(`Bearer ${integration.apiKey}`, target), unauthorized, token);
    }
  });

  test('the token is matched whatever the case of its hex digits', async () => {
    const target = { ...integration, webhookUrl: integration.webhookUrl.replace(integration.token, integration.token.toUpperCase()) };
    assert.equal((await statusWith(`Bearer ${integration.apiKey}`, target)).status, 200);
  });

  test('authentication comes before body validation: a bad body with a bad key is 401', async () => {
    assert.deepEqual(await statusWith('Bearer nope', integration, { externalId: '' }), unauthorized);
  });

  test('after rotation the old key is 401 at once and the new key works', async () => {
    const rotated = await stack.admin('POST', `/api/integrations/${integration.id}/rotate-key`);
    assert.equal(rotated.status, 200);
    const { apiKey } = (await rotated.json()) as { apiKey: string };

    assert.notEqual(apiKey, integration.apiKey);
    assert.deepEqual(await statusWith(`Bearer ${integration.apiKey}`), unauthorized);
    assert.equal((await statusWith(`Bearer ${apiKey}`)).status, 200);
    integration = { ...integration, apiKey };
  });

  test('a disabled integration answers 401 until enabled again', async () => {
    await stack.admin('PATCH', `/api/integrations/${other.id}`, { enabled: false });
    assert.deepEqual(await statusWith(`Bearer ${other.apiKey}`, other), unauthorized);

    await stack.admin('PATCH', `/api/integrations/${other.id}`, { enabled: true });
    assert.equal((await statusWith(`Bearer ${other.apiKey}`, other)).status, 200);
  });

  test('only the SHA-256 of the key is stored', async () => {
    const row = await stack.database.db
      .selectFrom('integrations')
      .selectAll()
      .where('id', '=', other.id)
      .executeTakeFirstOrThrow();

    assert.equal(row.api_key_hash, hashSecret(other.apiKey));
    assert.ok(!JSON.stringify(row).includes(other.apiKey));
  });
});

describe('the IP allowlist', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ withWorker: false });
  });
  after(() => stack.close());

  async function post(integration: IntegrationCredentials, headers: Record<string, string> = {}) {
    const response = await stack.postCall(integration, { externalId: crypto.randomUUID(), transcript: 'Agent: hi' }, headers);

    return { status: response.status, body: await response.json() };
  }

  test('a request from inside the allowlist is accepted', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['127.0.0.0/8'] });
    assert.equal((await post(integration)).status, 200);
  });

  test('a request from outside the allowlist is 403 { "error": "Forbidden" }', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.deepEqual(await post(integration), { status: 403, body: { error: 'Forbidden' } });
  });

  test('a wrong key from outside the allowlist is 401, not 403: the key is checked first', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['10.0.0.0/8'] });
    const response = await stack.postCall({ ...integration, apiKey: 'cm_live_wrong' }, { externalId: 'x', transcript: 'y' });
    assert.equal(response.status, 401);
  });

  test('X-Forwarded-For is ignored unless TRUST_PROXY says so', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['203.0.113.7/32'] });
    assert.equal((await post(integration, { 'x-forwarded-for': '203.0.113.7' })).status, 403);
  });

  test('clearing the allowlist lets every address in again', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['10.0.0.0/8'] });
    assert.equal((await post(integration)).status, 403);

    await stack.admin('PATCH', `/api/integrations/${integration.id}`, { ipAllowlist: [] });
    assert.equal((await post(integration)).status, 200);
  });
});

describe('the IP allowlist behind a trusted proxy', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ withWorker: false, env: { TRUST_PROXY: '1' } });
  });
  after(() => stack.close());

  test('the client address is the last X-Forwarded-For hop the trusted proxy added', async () => {
    const integration = await stack.createIntegration({ ipAllowlist: ['198.51.100.0/24'] });
    const post = (xff: string) =>
      stack.postCall(integration, { externalId: crypto.randomUUID(), transcript: 'Agent: hi' }, { 'x-forwarded-for': xff });

    assert.equal((await post('198.51.100.20')).status, 200);
    // A client cannot spoof its way in by prepending an allowed address.
    assert.equal((await post('198.51.100.20, 192.0.2.1')).status, 403);
    assert.equal((await post('192.0.2.1, 198.51.100.20')).status, 200);
  });
});
