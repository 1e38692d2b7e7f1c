import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTokenBucketLimiter } from '../../api/middleware/rate-limit.js';
import type { IntegrationCredentials, TestStack } from '../helpers/stack.js';
import { startDownstreamStack } from './helpers.js';

describe('the token bucket', () => {
  function limiter(options: { ratePerSecond: number; burst: number; maxKeys?: number }) {
    let now = 1_000_000;
    const bucket = createTokenBucketLimiter({ ...options, now: () => now });

    return { bucket, advance: (ms: number) => (now += ms) };
  }

  test('a burst is allowed at once, then the sustained rate', () => {
    const { bucket, advance } = limiter({ ratePerSecond: 2, burst: 3 });

    assert.deepEqual(
      [1, 2, 3].map(() => bucket.take('a').allowed),
      [true, true, true],
    );
    assert.deepEqual(bucket.take('a'), { allowed: false, retryAfterSeconds: 1 });
    advance(500);
    assert.equal(bucket.take('a').allowed, true, 'half a second brings one token at 2/s');
    assert.equal(bucket.take('a').allowed, false);
  });

  test('Retry-After is whole seconds until the next token, at least one', () => {
    const { bucket, advance } = limiter({ ratePerSecond: 0.25, burst: 1 });

    bucket.take('slow');
    assert.deepEqual(bucket.take('slow'), { allowed: false, retryAfterSeconds: 4 });
    advance(2_500);
    assert.deepEqual(bucket.take('slow'), { allowed: false, retryAfterSeconds: 2 });
    advance(1_400);
    assert.deepEqual(bucket.take('slow'), { allowed: false, retryAfterSeconds: 1 });
  });

  test('a bucket refills to its burst and no further', () => {
    const { bucket, advance } = limiter({ ratePerSecond: 10, burst: 2 });

    bucket.take('a');
    bucket.take('a');
    advance(60_000);
    assert.deepEqual(
      [1, 2, 3].map(() => bucket.take('a').allowed),
      [true, true, false],
    );
  });

  test('each key has a bucket of its own', () => {
    const { bucket } = limiter({ ratePerSecond: 1, burst: 1 });

    assert.equal(bucket.take('a').allowed, true);
    assert.equal(bucket.take('a').allowed, false);
    assert.equal(bucket.take('b').allowed, true);
  });

  test('idle buckets are dropped once there are too many, busy ones are kept', () => {
    const { bucket, advance } = limiter({ ratePerSecond: 1, burst: 1, maxKeys: 3 });

    bucket.take('busy');
    for (const key of ['idle-1', 'idle-2']) {
      bucket.take(key);
    }
    advance(5_000);
    bucket.take('busy');
    bucket.take('new');

    assert.equal(bucket.size(), 2);
    assert.equal(bucket.take('busy').allowed, false, 'the busy bucket kept its state');
  });
});

describe('the webhook rate limit', () => {
  let stack: TestStack;
  let noisy: IntegrationCredentials;
  let quiet: IntegrationCredentials;

  before(async () => {
    stack = await startDownstreamStack({
      withWorker: false,
      env: { WEBHOOK_RATE_LIMIT_PER_SECOND: '0.5', WEBHOOK_RATE_LIMIT_BURST: '3' },
    });
    noisy = await stack.createIntegration({ name: 'noisy dialer' });
    quiet = await stack.createIntegration({ name: 'quiet dialer' });
  });
  after(() => stack.close());

  test('past its burst an integration gets 429 with Retry-After, and others are unaffected', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 3; index += 1) {
      const response = await stack.postCall(noisy, {
        externalId: `burst-${index}`,
        transcript: 'Agent: hi',
      });
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [200, 200, 200]);

    const limited = await stack.postCall(noisy, { externalId: 'burst-3', transcript: 'Agent: hi' });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '2');
    assert.deepEqual(await limited.json(), { error: 'Too many requests' });

    const other = await stack.postCall(quiet, { externalId: 'quiet-0', transcript: 'Agent: hi' });
    assert.equal(other.status, 200);

    const stored = await stack.database.db
      .selectFrom('calls')
      .select('external_id')
      .where('integration_id', '=', noisy.id)
      .execute();
    assert.equal(stored.length, 3, 'the refused call was not stored');
  });

  test('requests with a wrong key are refused as unauthorized, not counted', async () => {
    // More than the burst of 3: counted, they would run into 429s and use up the quiet dialer's bucket.
    for (let index = 0; index < 4; index += 1) {
      const response = await stack.postCall(
        { ...quiet, apiKey: 'cm_live_wrong' },
        { externalId: `nope-${index}`, transcript: 'Agent: hi' },
      );
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: 'Unauthorized' });
    }

    const genuine = await stack.postCall(quiet, { externalId: 'quiet-1', transcript: 'Agent: hi' });
    assert.equal(genuine.status, 200);
  });
});
