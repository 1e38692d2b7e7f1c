import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashSecret } from '../../core/secrets.js';
import { findAdminKeyByHash } from '../../db/queries/workspaces.js';
import type { TestStack } from '../helpers/stack.js';
import {
  createEndpoint,
  deliveriesWhen,
  publisherFor,
  startDownstreamStack,
  startReceiver,
  storeCall,
  type Receiver,
} from './helpers.js';

type Entry = {
  id: string;
  action: string;
  targetType: string;
  targetId: string | null;
  adminKey: { id: string; preview: string; label: string } | null;
  details: { fields?: string[] } | null;
  requestId: string | null;
  createdAt: string;
};

describe('the audit log', () => {
  let stack: TestStack;
  let receiver: Receiver;
  const secrets: string[] = [];
  const expected: Array<[string, string]> = [];

  before(async () => {
    stack = await startDownstreamStack();
    receiver = await startReceiver();

    const created = (await (
      await stack.admin('POST', '/api/integrations', { name: 'audited dialer' })
    ).json()) as { id: string; apiKey: string };
    secrets.push(created.apiKey);
    expected.push(['integration.create', created.id]);

    await stack.admin('PATCH', `/api/integrations/${created.id}`, {
      name: 'renamed',
      recordingAuth: { username: 'twilio', password: 'hunter2-recording-password' },
    });
    secrets.push('hunter2-recording-password');
    expected.push(['integration.update', created.id]);

    const rotated = (await (
      await stack.admin('POST', `/api/integrations/${created.id}/rotate-key`)
    ).json()) as { apiKey: string };
    secrets.push(rotated.apiKey);
    expected.push(['integration.rotate_key', created.id]);

    const endpoint = await createEndpoint(stack, {
      url: receiver.url,
      eventTypes: ['call.scored'],
    });
    secrets.push(endpoint.secret);
    expected.push(['webhook_endpoint.create', endpoint.id]);

    await stack.admin('PATCH', `/api/webhook-endpoints/${endpoint.id}`, { description: 'CRM' });
    expected.push(['webhook_endpoint.update', endpoint.id]);

    const newSecret = (await (
      await stack.admin('POST', `/api/webhook-endpoints/${endpoint.id}/rotate-secret`)
    ).json()) as { secret: string };
    secrets.push(newSecret.secret);
    expected.push(['webhook_endpoint.rotate_secret', endpoint.id]);

    const call = await storeCall(stack, created.id);
    await publisherFor(stack).publish('call.scored', call.id);
    const [delivery] = await deliveriesWhen(
      stack,
      endpoint.id,
      (all) => all[0]?.status === 'succeeded',
    );
    await stack.admin('POST', `/api/webhook-deliveries/${delivery!.id}/retry`);
    expected.push(['webhook_delivery.retry', delivery!.id]);

    const workspace = (await (
      await stack.admin('POST', '/api/workspaces', { name: 'audited team' })
    ).json()) as { id: string; adminKey: string };
    secrets.push(workspace.adminKey);
    expected.push(['workspace.create', workspace.id]);

    await stack.admin('DELETE', `/api/webhook-endpoints/${endpoint.id}`);
    expected.push(['webhook_endpoint.delete', endpoint.id]);
    await stack.admin('DELETE', `/api/integrations/${created.id}`);
    expected.push(['integration.delete', created.id]);

    // Failed actions change nothing and are not logged.
    const failed = [
      await stack.admin('DELETE', `/api/integrations/${created.id}`),
      await stack.admin('PATCH', `/api/webhook-endpoints/${crypto.randomUUID()}`, { enabled: false }),
      await stack.admin('POST', '/api/webhook-endpoints', { url: 'ftp://example.com/' }),
    ];
    assert.deepEqual(
      failed.map((response) => response.status),
      [404, 404, 400],
    );
  });
  after(async () => {
    await receiver.close();
    await stack.close();
  });

  async function allEntries(): Promise<Entry[]> {
    const response = await stack.admin('GET', '/api/audit-log?limit=500');
    assert.equal(response.status, 200);

    return ((await response.json()) as { entries: Entry[] }).entries;
  }

  test('every management action is recorded once, newest first, with its target', async () => {
    const entries = await allEntries();

    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.targetId]),
      [...expected].reverse(),
    );
    assert.ok(entries.every((entry) => entry.targetType === entry.action.split('.')[0]));
    assert.ok(entries.every((entry) => entry.requestId && entry.createdAt));
  });

  test('entries name the admin key that acted, by id and preview only', async () => {
    const key = await findAdminKeyByHash(stack.database.db, hashSecret(stack.adminKey));
    const entries = await allEntries();

    for (const entry of entries) {
      assert.deepEqual(entry.adminKey, { id: key!.id, preview: key!.key_preview, label: 'test' });
    }
  });

  test('changes list the fields set, and no secret appears anywhere', async () => {
    const entries = await allEntries();
    const update = entries.find((entry) => entry.action === 'integration.update');
    assert.deepEqual(update!.details, { fields: ['name', 'recordingAuth'] });

    const text = JSON.stringify(entries);
    for (const secret of [...secrets, stack.adminKey]) {
      assert.ok(!text.includes(secret), 'a secret leaked into the audit log');
    }
    const rows = JSON.stringify(
      await stack.database.db.selectFrom('audit_log').selectAll().execute(),
    );
    for (const secret of secrets) {
      assert.ok(!rows.includes(secret), 'a secret was stored in the audit log');
    }
  });

  test('pages follow the cursor without gaps or repeats', async () => {
    const all = await allEntries();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=4&cursor=${cursor}` : '?limit=4';
      const page = (await (await stack.admin('GET', `/api/audit-log${query}`)).json()) as {
        entries: Entry[];
        nextCursor: string | null;
      };
      seen.push(...page.entries.map((entry) => entry.id));
      cursor = page.nextCursor;
    } while (cursor);

    assert.deepEqual(
      seen,
      all.map((entry) => entry.id),
    );
  });
});
