import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { createEndpoint, startDownstreamStack } from './helpers.js';

type EndpointView = {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  secret?: string;
};

describe('webhook endpoint management', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startDownstreamStack({ withWorker: false });
  });
  after(() => stack.close());

  test('an endpoint is created with a Standard Webhooks secret shown only once', async () => {
    const created = await createEndpoint(stack, {
      url: 'http://127.0.0.1:9/hooks',
      description: 'CRM sync',
      eventTypes: ['call.scored', 'call.scored', 'call.failed'],
    });

    assert.deepEqual(Object.keys(created).sort(), [
      'createdAt',
      'description',
      'disabledReason',
      'enabled',
      'eventTypes',
      'failingSince',
      'id',
      'previousSecretExpiresAt',
      'secret',
      'updatedAt',
      'url',
    ]);
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(created.secret.slice(6), 'base64').length, 32);
    assert.deepEqual(created.eventTypes, ['call.scored', 'call.failed']);

    const fetched = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${created.id}`)
    ).json()) as EndpointView;
    assert.equal(fetched.secret, undefined);
    const listed = (await (await stack.admin('GET', '/api/webhook-endpoints')).json()) as {
      endpoints: EndpointView[];
    };
    assert.ok(listed.endpoints.some((each) => each.id === created.id));
    assert.ok(listed.endpoints.every((each) => each.secret === undefined));
  });

  test('the secret is stored sealed, never as it was shown', async () => {
    const created = await createEndpoint(stack, { url: 'http://127.0.0.1:9/sealed' });
    const row = await stack.database.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();

    assert.ok(!JSON.stringify(row).includes(created.secret.slice(6)));
    assert.match(row.secret_sealed, /^v1:/);
  });

  test('an endpoint can be changed, disabled, enabled and deleted', async () => {
    const created = await createEndpoint(stack, { url: 'http://127.0.0.1:9/a' });
    const patch = (body: unknown) =>
      stack.admin('PATCH', `/api/webhook-endpoints/${created.id}`, body);

    const changed = (await (
      await patch({
        url: 'https://127.0.0.1:9/b',
        description: 'moved',
        eventTypes: ['call.created'],
      })
    ).json()) as EndpointView;
    assert.deepEqual(
      [changed.url, changed.description, changed.eventTypes],
      ['https://127.0.0.1:9/b', 'moved', ['call.created']],
    );

    const off = (await (await patch({ enabled: false })).json()) as EndpointView;
    assert.deepEqual([off.enabled, off.disabledReason], [false, 'manual']);
    const on = (await (await patch({ enabled: true })).json()) as EndpointView;
    assert.deepEqual([on.enabled, on.disabledReason], [true, null]);

    assert.equal((await stack.admin('DELETE', `/api/webhook-endpoints/${created.id}`)).status, 204);
    assert.equal((await stack.admin('GET', `/api/webhook-endpoints/${created.id}`)).status, 404);
    assert.equal((await patch({ enabled: true })).status, 404);
    assert.equal((await stack.admin('DELETE', `/api/webhook-endpoints/${created.id}`)).status, 404);
  });

  test('bad endpoint requests are refused with 400', async () => {
    for (const body of [
      {},
      { url: '' },
      { url: 'http://127.0.0.1:9/', eventTypes: ['call.deleted'] },
      { url: 'http://127.0.0.1:9/', enabled: 'yes' },
      { url: 'http://127.0.0.1:9/', description: 'x'.repeat(501) },
    ]) {
      const response = await stack.admin('POST', '/api/webhook-endpoints', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(((await response.json()) as { code: string }).code, 'invalid_request');
    }

    const created = await createEndpoint(stack, { url: 'http://127.0.0.1:9/c' });
    const empty = await stack.admin('PATCH', `/api/webhook-endpoints/${created.id}`, {});
    assert.equal(empty.status, 400);
    assert.equal((await stack.admin('GET', '/api/webhook-endpoints/not-a-uuid')).status, 404);
  });

  test('rotating a secret returns a new one and keeps the old one for 24 hours', async () => {
    const created = await createEndpoint(stack, { url: 'http://127.0.0.1:9/r' });
    const response = await stack.admin(
      'POST',
      `/api/webhook-endpoints/${created.id}/rotate-secret`,
    );
    assert.equal(response.status, 200);
    const rotated = (await response.json()) as { secret: string; previousSecretExpiresAt: string };

    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, created.secret);
    assert.ok(Date.parse(rotated.previousSecretExpiresAt) > Date.now() + 23 * 3_600_000);
  });
});

describe('webhook endpoint URLs', () => {
  let strict: TestStack;
  let allowing: TestStack;

  before(async () => {
    [strict, allowing] = await Promise.all([
      startTestStack({ withWorker: false }),
      startDownstreamStack({ withWorker: false }),
    ]);
  });
  after(async () => {
    await Promise.all([strict.close(), allowing.close()]);
  });

  test('private, loopback and metadata addresses are refused', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hooks',
      'http://localhost/hooks',
      'http://[::1]/hooks',
      'http://10.1.2.3/hooks',
      'http://192.168.0.10/hooks',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:127.0.0.1]/',
      'http://0x7f000001/',
      'http://2130706433/',
      'ftp://example.com/hooks',
      'http://user:pass@example.com/hooks',
      'not a url',
    ]) {
      const response = await strict.admin('POST', '/api/webhook-endpoints', { url });
      assert.equal(response.status, 400, url);
      const body = (await response.json()) as { code: string; error: string };
      assert.equal(body.code, 'url_refused', url);
      assert.match(body.error, /^URL refused: webhook URL /, url);
    }
  });

  test('the error says why the metadata endpoint is refused', async () => {
    const response = await strict.admin('POST', '/api/webhook-endpoints', {
      url: 'http://169.254.169.254/',
    });

    assert.match(((await response.json()) as { error: string }).error, /cloud metadata endpoint/);
  });

  test('a change of URL is checked as strictly as a new one', async () => {
    const created = await createEndpoint(strict, { url: 'https://hooks.example.com/in' });
    const response = await strict.admin('PATCH', `/api/webhook-endpoints/${created.id}`, {
      url: 'http://127.0.0.1/in',
    });

    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'url_refused');
  });

  test('a public host name is accepted: names are judged again when connecting', async () => {
    const created = await createEndpoint(strict, { url: 'https://hooks.example.com/in' });

    assert.equal(created.url, 'https://hooks.example.com/in');
  });

  test('ALLOW_PRIVATE_HOSTS lets exactly the listed hosts through', async () => {
    const allowed = await allowing.admin('POST', '/api/webhook-endpoints', {
      url: 'http://127.0.0.1:8080/hooks',
    });
    assert.equal(allowed.status, 201);

    const other = await allowing.admin('POST', '/api/webhook-endpoints', {
      url: 'http://10.0.0.1/hooks',
    });
    assert.equal(other.status, 400);
  });
});
