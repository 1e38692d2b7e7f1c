import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  createEndpoint,
  deliveriesWhen,
  listDeliveries,
  publisherFor,
  startDownstreamStack,
  startReceiver,
  storeCall,
  type Receiver,
} from '../downstream/helpers.js';
import type { TestStack } from '../helpers/stack.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));

type EndpointView = {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  previousSecretExpiresAt: string | null;
  secret?: string;
};

type CliFailure = { code: number; stdout: string; stderr: string };

describe('the closermode webhooks commands', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  const receivers: Receiver[] = [];

  before(async () => {
    // Loopback receivers are allowed, and retries come within a second; the worker delivers.
    stack = await startDownstreamStack();
    env = { ...process.env, CLOSERMODE_URL: stack.baseUrl, CLOSERMODE_ADMIN_KEY: stack.adminKey };
  });
  after(async () => {
    await Promise.all(receivers.map((each) => each.close()));
    await stack.close();
  });

  const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { env });

  async function cliJson<T>(...args: string[]): Promise<T> {
    return JSON.parse((await cli(...args, '--json')).stdout) as T;
  }

  async function receiver(reply?: Receiver['reply']): Promise<Receiver> {
    const started = await startReceiver(reply);
    receivers.push(started);

    return started;
  }

  test('create prints the secret once with a reminder to store it, and list and get never show it', async () => {
    const { stdout } = await cli(
      'webhooks',
      'create',
      '--url',
      'http://127.0.0.1:9/crm',
      '--event',
      'call.scored',
      '--event',
      'call.failed',
      '--description',
      'CRM sync',
    );
    const secret = /^secret +(whsec_\S+) +\(shown only now\)$/m.exec(stdout)?.[1];
    const id = /^id +(\S+)$/m.exec(stdout)?.[1];

    assert.match(secret ?? '', /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(stdout, /^Store the secret now: .*not shown again\.$/m);
    assert.match(stdout, /^events +call\.scored, call\.failed$/m);
    assert.match(stdout, /^description +CRM sync$/m);

    const listed = await cliJson<{ endpoints: EndpointView[] }>('webhooks', 'list');
    assert.ok(listed.endpoints.some((each) => each.id === id));
    assert.ok(listed.endpoints.every((each) => each.secret === undefined));
    const fetched = await cliJson<EndpointView>('webhooks', 'get', id!);
    assert.equal(fetched.secret, undefined);
    assert.equal(fetched.url, 'http://127.0.0.1:9/crm');

    const human = (await cli('webhooks', 'list')).stdout;
    assert.ok(human.includes(id!));
    assert.ok(!human.includes(secret!), 'the human list does not repeat the secret');
    assert.ok(!human.includes('Store the secret'));
  });

  test('create --json prints exactly the object the API returned, secret included', async () => {
    const created = await cliJson<EndpointView>(
      'webhooks',
      'create',
      '--url',
      'http://127.0.0.1:9/json',
    );

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
    assert.match(created.secret!, /^whsec_/);
    assert.deepEqual(created.eventTypes, [], 'no --event subscribes to every event');
    // Apart from the secret, shown only at creation, the values are the ones the API keeps.
    const { secret: _secret, ...shown } = created;
    const stored = await stack.admin('GET', `/api/webhook-endpoints/${created.id}`);
    assert.deepEqual(shown, await stored.json());
  });

  test('update changes the URL, events and description, and disables and enables', async () => {
    const { id } = await createEndpoint(stack, { url: 'http://127.0.0.1:9/a' });

    const changed = await cliJson<EndpointView>(
      'webhooks',
      'update',
      id,
      '--url',
      'https://127.0.0.1:9/b',
      '--event',
      'call.created',
      '--description',
      'moved',
    );
    assert.deepEqual(
      [changed.url, changed.eventTypes, changed.description],
      ['https://127.0.0.1:9/b', ['call.created'], 'moved'],
    );

    const disabled = await cli('webhooks', 'update', id, '--disable');
    assert.match(disabled.stdout, /^state +disabled \(manual\)$/m);
    const stored = (await (await stack.admin('GET', `/api/webhook-endpoints/${id}`)).json()) as {
      enabled: boolean;
    };
    assert.equal(stored.enabled, false);

    const enabled = await cliJson<EndpointView>(
      'webhooks',
      'update',
      id,
      '--enable',
      '--all-events',
      '--description',
      '',
    );
    assert.deepEqual(
      [enabled.enabled, enabled.disabledReason, enabled.eventTypes, enabled.description],
      [true, null, [], ''],
    );
    assert.equal(enabled.url, 'https://127.0.0.1:9/b', 'options left out stay as they are');
  });

  test('rotate-secret prints a new secret and says until when the old one still signs', async () => {
    const created = await createEndpoint(stack, { url: 'http://127.0.0.1:9/rotate' });

    const { stdout } = await cli('webhooks', 'rotate-secret', created.id);
    const secret = /^secret +(whsec_\S+) +\(shown only now\)$/m.exec(stdout)?.[1];
    const until = /^old secret +still signs until (\S+)$/m.exec(stdout)?.[1];

    assert.match(secret ?? '', /^whsec_/);
    assert.notEqual(secret, created.secret);
    assert.match(stdout, /^Store the secret now:/m);
    assert.ok(Date.parse(until!) > Date.now() + 23 * 3_600_000);
  });

  test('deliveries shows every attempt, and retry delivers the event again', async () => {
    let healthy = false;
    const target = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const endpoint = await createEndpoint(stack, { url: target.url });
    const integration = await stack.createIntegration({ name: 'webhooks cli' });
    const call = await storeCall(stack, integration.id);
    await publisherFor(stack).publish('call.scored', call.id);
    const [failed] = await deliveriesWhen(stack, endpoint.id, (all) => all[0]?.status === 'failed');

    const { stdout } = await cli('webhooks', 'deliveries', endpoint.id);
    assert.match(
      stdout,
      new RegExp(`^${failed!.id} +failed +call\\.scored +call ${call.id}$`, 'm'),
    );
    const attempts = stdout.match(/^ {2}#\d \S+ scheduled +500 \d+ ms {2}failed: HTTP 500$/gm);
    assert.equal(attempts?.length, 3, stdout);
    const asJson = await cliJson<unknown>('webhooks', 'deliveries', endpoint.id);
    assert.deepEqual(asJson, {
      deliveries: await listDeliveries(stack, endpoint.id),
      nextCursor: null,
    });

    healthy = true;
    const retried = await cli('webhooks', 'retry', failed!.id);
    assert.match(retried.stdout, new RegExp(`^${failed!.id} `, 'm'));
    assert.match(retried.stdout, /^retry requested: /m);
    const [replayed] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );
    assert.deepEqual(
      replayed!.attempts.map((each) => each.trigger),
      ['scheduled', 'scheduled', 'scheduled', 'manual'],
    );
    assert.equal(target.received.length, 4);

    const log = (await cli('webhooks', 'deliveries', endpoint.id)).stdout;
    assert.match(log, /^ {2}#4 \S+ manual +200 \d+ ms {2}ok$/m);
  });

  test('delete removes the endpoint, and then get fails with not found', async () => {
    const { id } = await createEndpoint(stack, { url: 'http://127.0.0.1:9/gone' });

    const { stdout } = await cli('webhooks', 'delete', id);
    assert.equal(stdout.trim(), `deleted webhook endpoint ${id}`);

    await assert.rejects(cli('webhooks', 'get', id), (error: CliFailure) => {
      assert.equal(error.code, 1);
      assert.equal(error.stderr.trim(), 'closermode: Webhook endpoint not found');

      return true;
    });
  });

  test('a URL the API refuses is reported plainly with a non-zero exit', async () => {
    await assert.rejects(cli('webhooks', 'create', '--url', 'not a url'), (error: CliFailure) => {
      assert.equal(error.code, 1);
      assert.equal(error.stdout, '');
      assert.equal(error.stderr.trim(), 'closermode: URL refused: webhook URL is not a valid URL');

      return true;
    });
    // Only 127.0.0.1 is allowed in these tests: other private addresses stay refused.
    await assert.rejects(
      cli('webhooks', 'create', '--url', 'http://10.0.0.1/hooks'),
      (error: CliFailure) => error.code === 1 && /^closermode: URL refused: /.test(error.stderr),
    );

    const listed = await cliJson<{ endpoints: EndpointView[] }>('webhooks', 'list');
    assert.ok(listed.endpoints.every((each) => !each.url.includes('10.0.0.1')));
  });

  test('an unknown event type is refused before any request is made', async () => {
    // Nothing listens there: a request would fail with "cannot reach" instead.
    const unreachable = { ...env, CLOSERMODE_URL: 'http://127.0.0.1:9' };

    await assert.rejects(
      run(
        process.execPath,
        [bin, 'webhooks', 'create', '--url', 'http://127.0.0.1:9/x', '--event', 'call.deleted'],
        { env: unreachable },
      ),
      (error: CliFailure) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /argument 'call\.deleted' is invalid\. Allowed choices are /);

        return true;
      },
    );
  });
});
