import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { EventPublisher } from '../../activities/events.js';
import type { Call } from '../../db/schema.js';
import type { TestStack } from '../helpers/stack.js';
import {
  createEndpoint,
  deliveriesWhen,
  publisherFor,
  startDownstreamStack,
  startReceiver,
  storeCall,
  type CreatedEndpoint,
  type Receiver,
} from './helpers.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/closermode.js', import.meta.url));

describe('workspace isolation', () => {
  let stack: TestStack;
  let publisher: EventPublisher;
  let otherKey: string;
  let otherWorkspaceId: string;
  let receiverA: Receiver;
  let receiverB: Receiver;
  let integrationA: { id: string };
  let endpointA: CreatedEndpoint;
  let callA: Call;
  let deliveryA: string;

  function asB(method: string, route: string, body?: unknown): Promise<Response> {
    return fetch(`${stack.baseUrl}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${otherKey}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  before(async () => {
    stack = await startDownstreamStack();
    publisher = publisherFor(stack);
    [receiverA, receiverB] = await Promise.all([startReceiver(), startReceiver()]);

    const created = await stack.admin('POST', '/api/workspaces', { name: 'team-b' });
    assert.equal(created.status, 201);
    const workspace = (await created.json()) as { id: string; adminKey: string };
    otherKey = workspace.adminKey;
    otherWorkspaceId = workspace.id;

    integrationA = await stack.createIntegration({ name: 'A dialer' });
    endpointA = await createEndpoint(stack, { url: receiverA.url });
    callA = await storeCall(stack, integrationA.id, { rep_name: 'Rep of A' });
    await publisher.publish('call.scored', callA.id);
    const [delivery] = await deliveriesWhen(stack, endpointA.id, (all) => all.length === 1);
    deliveryA = delivery!.id;
  });
  after(async () => {
    await Promise.all([receiverA.close(), receiverB.close()]);
    await stack.close();
  });

  test("B's admin key gets 404 for each of A's resources, route by route", async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/api/integrations/${integrationA.id}`],
      ['PATCH', `/api/integrations/${integrationA.id}`, { name: 'taken over' }],
      ['DELETE', `/api/integrations/${integrationA.id}`],
      ['POST', `/api/integrations/${integrationA.id}/rotate-key`],
      ['GET', `/api/calls/${callA.id}`],
      ['GET', `/api/webhook-endpoints/${endpointA.id}`],
      ['PATCH', `/api/webhook-endpoints/${endpointA.id}`, { url: receiverB.url }],
      ['DELETE', `/api/webhook-endpoints/${endpointA.id}`],
      ['POST', `/api/webhook-endpoints/${endpointA.id}/rotate-secret`],
      ['GET', `/api/webhook-endpoints/${endpointA.id}/deliveries`],
      ['GET', `/api/webhook-deliveries/${deliveryA}`],
      ['POST', `/api/webhook-deliveries/${deliveryA}/retry`],
    ];

    for (const [method, route, body] of routes) {
      const response = await asB(method, route, body);
      assert.equal(response.status, 404, `${method} ${route}`);
    }
  });

  test("A's resources are unchanged by B's attempts", async () => {
    const integration = await stack.admin('GET', `/api/integrations/${integrationA.id}`);
    assert.equal(((await integration.json()) as { name: string }).name, 'A dialer');
    const endpoint = (await (
      await stack.admin('GET', `/api/webhook-endpoints/${endpointA.id}`)
    ).json()) as { url: string; previousSecretExpiresAt: string | null };
    assert.deepEqual([endpoint.url, endpoint.previousSecretExpiresAt], [receiverA.url, null]);
  });

  test("B's lists and exports hold nothing of A's", async () => {
    const lists = await Promise.all([
      asB('GET', '/api/integrations').then((r) => r.json() as Promise<{ integrations: unknown[] }>),
      asB('GET', '/api/calls').then((r) => r.json() as Promise<{ calls: unknown[] }>),
      asB('GET', '/api/webhook-endpoints').then(
        (r) => r.json() as Promise<{ endpoints: unknown[] }>,
      ),
      asB('GET', '/api/audit-log').then((r) => r.json() as Promise<{ entries: unknown[] }>),
    ]);
    assert.deepEqual(
      lists.map((list) => Object.values(list)[0]),
      [[], [], [], []],
    );

    const csv = await (
      await asB('GET', '/api/calls/export?format=csv&includeTranscript=true')
    ).text();
    assert.equal(csv.split('\r\n').filter(Boolean).length, 1, 'only the header row');
    assert.ok(!csv.includes(callA.id));
    const ndjson = await (await asB('GET', '/api/calls/export?format=ndjson')).text();
    assert.equal(ndjson, '');

    const own = await (await stack.admin('GET', '/api/calls/export?format=ndjson')).text();
    assert.ok(own.includes(callA.id), 'A does see its own call');
  });

  test('each workspace receives only the events of its own calls', async () => {
    const endpointB = await createEndpoint(stack, { url: receiverB.url }, otherKey);
    const integrationB = (await (
      await asB('POST', '/api/integrations', { name: 'B dialer' })
    ).json()) as { id: string };
    const callB = await storeCall(stack, integrationB.id, { workspace_id: otherWorkspaceId });
    const before = receiverA.received.length;

    await publisher.publish('call.created', callA.id);
    await publisher.publish('call.created', callB.id);
    await receiverB.waitFor(1);
    await receiverA.waitFor(before + 1);
    await sleep(500);

    const callsSeenByB = receiverB.received.map(
      (each) => (JSON.parse(each.body) as { data: { call: { id: string } } }).data.call.id,
    );
    assert.deepEqual(callsSeenByB, [callB.id]);
    const callsSeenByA = receiverA.received.map(
      (each) => (JSON.parse(each.body) as { data: { call: { id: string } } }).data.call.id,
    );
    assert.ok(!callsSeenByA.includes(callB.id));
    assert.equal((await asB('GET', `/api/webhook-endpoints/${endpointB.id}`)).status, 200);
    assert.equal((await stack.admin('GET', `/api/webhook-endpoints/${endpointB.id}`)).status, 404);
  });

  test('only an admin key of the default workspace may create workspaces', async () => {
    const refused = await asB('POST', '/api/workspaces', { name: 'team-c' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, 'forbidden');

    const duplicate = await stack.admin('POST', '/api/workspaces', { name: 'team-b' });
    assert.equal(duplicate.status, 409);
    const empty = await stack.admin('POST', '/api/workspaces', { name: '  ' });
    assert.equal(empty.status, 400);
  });

  test('closermode workspaces create prints a working admin key once', async () => {
    const env = {
      ...process.env,
      CLOSERMODE_URL: stack.baseUrl,
      CLOSERMODE_ADMIN_KEY: stack.adminKey,
    };
    const { stdout } = await run(
      process.execPath,
      [bin, 'workspaces', 'create', '--name', 'team-cli'],
      {
        env,
      },
    );

    const key = /admin key\s+(cm_admin_\w+)\s+\(shown only now\)/.exec(stdout)?.[1];
    assert.ok(key, stdout);
    const response = await fetch(`${stack.baseUrl}/api/integrations`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { integrations: [] });
  });
});
