import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { TestStack } from '../helpers/stack.js';
import {
  createEndpoint,
  publisherFor,
  startDownstreamStack,
  startReceiver,
  storeCall,
  type Receiver,
} from './helpers.js';

type Delivered = {
  id: string;
  type: string;
  createdAt: string;
  data: { call: { id: string; status: string } };
};

describe('events from call processing', () => {
  let stack: TestStack;
  let receiver: Receiver;

  before(async () => {
    stack = await startDownstreamStack();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await stack.close();
  });

  test('a call posted with a transcript is delivered as call.created, then call.scored', async () => {
    const endpoint = await createEndpoint(stack, { url: receiver.url });
    const integration = await stack.createIntegration({ name: 'end to end' });
    const response = await stack.postCall(integration, {
      externalId: 'e2e-1',
      repName: 'Dana',
      transcript: 'Agent: Hi, this is Dana.\nCustomer: Hello, tell me about pricing.',
      metadata: { leadId: 'L-42', source: 'dialer' },
    });
    const { callId } = (await response.json()) as { callId: string };

    const received = await receiver.waitFor(2, 30_000);
    const events = received.map((each) => {
      const headers = Object.fromEntries(
        Object.entries(each.headers).map(([name, value]) => [name, String(value)]),
      );

      return new Webhook(endpoint.secret).verify(each.body, headers) as Delivered;
    });

    const byType = new Map(events.map((event) => [event.type, event]));
    assert.deepEqual([...byType.keys()].sort(), ['call.created', 'call.scored']);
    assert.ok(
      Date.parse(byType.get('call.created')!.createdAt) <=
        Date.parse(byType.get('call.scored')!.createdAt),
      'call.created comes first',
    );
    assert.equal(byType.get('call.created')?.data.call.id, callId);
    assert.equal(byType.get('call.scored')?.data.call.id, callId);
    assert.equal(byType.get('call.scored')?.data.call.status, 'scored');
    const scored = await (await stack.admin('GET', `/api/calls/${callId}`)).json();
    assert.deepEqual(byType.get('call.scored')!.data.call, scored);
  });

  test('receivers that keep every attempt waiting do not delay call processing', async () => {
    const hanging = await startReceiver(() => ({ status: 200, delayMs: 6_000 }));
    try {
      await createEndpoint(stack, { url: hanging.url, eventTypes: ['call.failed'] });
      const integration = await stack.createIntegration({ name: 'busy' });
      const stored = [];
      for (let index = 0; index < 60; index += 1) {
        stored.push(await storeCall(stack, integration.id));
      }
      // More attempts in flight than the call worker has activity slots (50).
      await Promise.all(stored.map((call) => publisherFor(stack).publish('call.failed', call.id)));
      await hanging.waitFor(55, 10_000);

      const started = Date.now();
      const response = await stack.postCall(integration, {
        externalId: 'while-busy',
        transcript: 'Agent: Hello.\nCustomer: Hi, what is the price?',
      });
      const { callId } = (await response.json()) as { callId: string };
      const call = await stack.waitForCall(callId, ['scored', 'failed'], 10_000);

      assert.equal(call.status, 'scored');
      assert.ok(Date.now() - started < 5_000, `scoring waited ${Date.now() - started} ms`);
    } finally {
      await hanging.close();
    }
  });
});
