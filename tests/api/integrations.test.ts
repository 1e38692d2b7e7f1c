import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashSecret } from '../../core/secrets.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

describe('integration management', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ withWorker: false, env: { PUBLIC_BASE_URL: 'https://calls.example.com/' } });
  });
  after(() => stack.close());

  test('creating an integration returns its webhook URL and a key shown only this once', async () => {
    const response = await stack.admin('POST', '/api/integrations', {
      name: '360CTI',
      provider: '360cti',
      ipAllowlist: ['192.0.2.10', '198.51.100.0/24', '2001:db8::/48'],
    });

    assert.equal(response.status, 201);
    const created = (await response.json()) as Record<string, any>;
    assert.deepEqual(Object.keys(created).sort(), ['apiKey', 'createdAt', 'id', 'ipAllowlist', 'name', 'provider', 'webhookUrl']);
    assert.equal(created.name, '360CTI');
    assert.equal(created.provider, '360cti');
    assert.match(created.apiKey, /^cm_live_[0-9A-Za-z]{32,}$/);
    assert.match(created.webhookUrl, /^https:\/\/calls\.example\.com\/api\/webhooks\/phone\/generic\/[0-9a-f-]{36}$/);
    assert.deepEqual(created.ipAllowlist, ['192.0.2.10/32', '198.51.100.0/24', '2001:db8::/48']);

    const row = await stack.database.db.selectFrom('integrations').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(row.api_key_hash, hashSecret(created.apiKey));
    assert.ok(!JSON.stringify(row).includes(created.apiKey), 'the key itself is stored nowhere');

    const shown = (await (await stack.admin('GET', `/api/integrations/${created.id}`)).json()) as Record<string, unknown>;
    assert.equal(shown.apiKey, undefined);
    assert.ok(!JSON.stringify(shown).includes(created.apiKey));
  });

  test('keys are unique and random', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5; i += 1) {
      const created = (await (await stack.admin('POST', '/api/integrations', { name: `n${i}` })).json()) as { apiKey: string };
      keys.add(created.apiKey);
    }
    assert.equal(keys.size, 5);
  });

  test('the provider defaults to generic', async () => {
    const created = (await (await stack.admin('POST', '/api/integrations', { name: 'custom' })).json()) as { provider: string };
    assert.equal(created.provider, 'generic');
  });

  for (const [what, body, message] of [
    ['no name', {}, 'Invalid request: name: Invalid input: expected string, received undefined'],
    ['a blank name', { name: '  ' }, 'Invalid request: name: Must not be empty'],
    ['a malformed CIDR', { name: 'x', ipAllowlist: ['10.0.0.0/33'] }, 'Invalid request: ipAllowlist.0: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR range'],
    ['a host name in the allowlist', { name: 'x', ipAllowlist: ['example.com'] }, 'Invalid request: ipAllowlist.0: "example.com" is not an IPv4 or IPv6 address or CIDR range'],
    ['a provider with spaces', { name: 'x', provider: 'my dialer' }, 'Invalid request: provider: Must be a short identifier such as twilio or 360cti'],
  ] as const) {
    test(`creating with ${what} is refused with 400 naming the field`, async () => {
      const response = await stack.admin('POST', '/api/integrations', body);
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { error: message, code: 'invalid_request' });
    });
  }

  test('IPv4-mapped IPv6 allowlist entries are stored as the IPv4 range they mean', async () => {
    const created = (await (await stack.admin('POST', '/api/integrations', { name: 'mapped', ipAllowlist: ['::ffff:10.0.0.0/104', '::ffff:192.0.2.1'] })).json()) as { ipAllowlist: string[] };
    assert.deepEqual(created.ipAllowlist, ['10.0.0.0/8', '192.0.2.1/32']);
  });

  test('listing shows every integration without keys', async () => {
    const response = await stack.admin('GET', '/api/integrations');
    const { integrations } = (await response.json()) as { integrations: Array<Record<string, unknown>> };
    assert.ok(integrations.length >= 3);
    assert.ok(integrations.every((each) => each.apiKey === undefined && typeof each.apiKeyPreview === 'string'));
  });

  test('the allowlist can be replaced and cleared', async () => {
    const created = (await (await stack.admin('POST', '/api/integrations', { name: 'al' })).json()) as { id: string };
    const set = (await (await stack.admin('PATCH', `/api/integrations/${created.id}`, { ipAllowlist: ['203.0.113.0/24'] })).json()) as { ipAllowlist: string[] };
    assert.deepEqual(set.ipAllowlist, ['203.0.113.0/24']);

    const cleared = (await (await stack.admin('PATCH', `/api/integrations/${created.id}`, { ipAllowlist: [] })).json()) as { ipAllowlist: string[] };
    assert.deepEqual(cleared.ipAllowlist, []);
  });

  test('unknown integrations are 404', async () => {
    for (const id of [crypto.randomUUID(), 'not-a-uuid']) {
      const response = await stack.admin('POST', `/api/integrations/${id}/rotate-key`);
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), { error: 'Integration not found', code: 'not_found' });
    }
  });

  test('a deleted integration disappears and its webhook answers 401', async () => {
    const created = (await (await stack.admin('POST', '/api/integrations', { name: 'gone' })).json()) as { id: string; webhookUrl: string; apiKey: string };
    assert.equal((await stack.admin('DELETE', `/api/integrations/${created.id}`)).status, 204);
    assert.equal((await stack.admin('GET', `/api/integrations/${created.id}`)).status, 404);

    const response = await fetch(`${stack.baseUrl}${new URL(created.webhookUrl).pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${created.apiKey}` },
      body: JSON.stringify({ externalId: 'a', transcript: 'Agent: hi' }),
    });
    assert.equal(response.status, 401);
  });

  test('management routes need a valid admin key', async () => {
    for (const authorization of [undefined, 'Bearer cm_admin_wrong', 'Basic abc']) {
      const response = await fetch(`${stack.baseUrl}/api/integrations`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: 'Unauthorized', code: 'unauthorized' });
    }
  });

  test("an integration's API key is not an admin key", async () => {
    const created = (await (await stack.admin('POST', '/api/integrations', { name: 'k' })).json()) as { apiKey: string };
    const response = await fetch(`${stack.baseUrl}/api/integrations`, { headers: { authorization: `Bearer ${created.apiKey}` } });
    assert.equal(response.status, 401);
  });

  test('unknown routes are a JSON 404', async () => {
    const response = await stack.admin('GET', '/api/nothing-here');
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: 'Not found', code: 'not_found' });
  });
});
