import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { criterionKeys, defaultRubric } from '../../scoring/rubric.js';
import { startFakeChatCompletionsServer, type FakeChatCompletionsServer } from '../scoring/fake-chat-completions-server.js';
import { startTestStack, type IntegrationCredentials, type TestStack } from '../helpers/stack.js';
import { expectedOverall } from '../scoring/helpers.js';

const discoveryCall = await readFile(
  new URL('../fixtures/transcripts/strong-discovery.txt', import.meta.url),
  'utf8',
);

type Scorecard = {
  overall: number;
  criteria: Array<{ key: string; score: number; weight: number; explanation: string; evidence: unknown[] }>;
  stats: { agentTurns: number };
  summary: string;
  strengths: string[];
  improvements: string[];
  scorer: { name: string; version: string };
  fallbackReason?: string;
};

async function waitForScores(stack: TestStack, callId: string, count: number): Promise<Array<{ overall: number; requestId: string | null; scorecard: Scorecard }>> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const { scores } = (await (await stack.admin('GET', `/api/calls/${callId}/scores`)).json()) as { scores: Array<{ overall: number; requestId: string | null; scorecard: Scorecard }> };
    if (scores.length >= count) {
      return scores;
    }
    await sleep(100);
  }
  throw new Error(`call ${callId} never reached ${count} scorecards`);
}

describe('scoring through the API', () => {
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    stack = await startTestStack();
    integration = await stack.createIntegration();
  });
  after(() => stack.close());

  async function scoredCall(externalId: string, transcript = discoveryCall): Promise<string> {
    const { callId } = (await (await stack.postCall(integration, { externalId, repName: 'Sam', transcript })).json()) as { callId: string };
    assert.equal((await stack.waitForCall(callId)).status, 'scored');

    return callId;
  }

  test('a scored call carries the built-in scorecard: overall, weighted criteria with evidence, stats, summary', async () => {
    const callId = await scoredCall('card-1');
    const call = (await (await stack.admin('GET', `/api/calls/${callId}`)).json()) as { score: Scorecard };
    const card = call.score;

    assert.ok(Number.isInteger(card.overall) && card.overall >= 0 && card.overall <= 100);
    assert.equal(card.overall, expectedOverall(card));
    assert.deepEqual(card.criteria.map((criterion) => criterion.key).sort(), [...criterionKeys].sort());
    for (const criterion of card.criteria) {
      assert.ok(criterion.explanation.length > 0 && !criterion.explanation.includes('\n'), criterion.key);
    }
    assert.ok(card.criteria.some((criterion) => criterion.evidence.length > 0));
    assert.ok(card.stats.agentTurns > 0);
    assert.ok(card.summary.length > 0);
    assert.equal(card.scorer.name, 'builtin');
  });

  test('re-scoring with one Idempotency-Key twice adds one scorecard; history keeps them all', async () => {
    const callId = await scoredCall('rescore-1');
    const headers = { authorization: `Bearer ${stack.adminKey}`, 'idempotency-key': 'rubric-change-7' };
    const first = await fetch(`${stack.baseUrl}/api/calls/${callId}/rescore`, { method: 'POST', headers });
    const second = await fetch(`${stack.baseUrl}/api/calls/${callId}/rescore`, { method: 'POST', headers });

    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.deepEqual(await first.json(), await second.json());
    const scores = await waitForScores(stack, callId, 2);
    await sleep(500);
    assert.equal((await waitForScores(stack, callId, 2)).length, 2);
    assert.deepEqual(scores.map((score) => score.requestId), ['rubric-change-7', 'initial']);

    const unkeyed = await stack.admin('POST', `/api/calls/${callId}/rescore`);
    assert.equal(unkeyed.status, 202);
    assert.equal((await waitForScores(stack, callId, 3)).length, 3);
  });

  test('the rubric can be read, overridden, validated and reset', async () => {
    const initial = (await (await stack.admin('GET', '/api/scoring/rubric')).json()) as { rubric: typeof defaultRubric; override: unknown };
    assert.equal(initial.override, null);
    assert.deepEqual(initial.rubric, JSON.parse(JSON.stringify(defaultRubric)));

    const refused = await stack.admin('PUT', '/api/scoring/rubric', { criteria: { opening: { weight: -1 } } });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /^Invalid request: criteria\.opening\.weight: /);
    const unknown = await stack.admin('PUT', '/api/scoring/rubric', { criteria: { charisma: { weight: 3 } } });
    assert.equal(unknown.status, 400);

    const callId = await scoredCall('rubric-1');
    const before = (await waitForScores(stack, callId, 1))[0]!.scorecard;
    const weights = Object.fromEntries(criterionKeys.map((key) => [key, { weight: key === 'nextSteps' ? 1 : 0 }]));
    const changed = await stack.admin('PUT', '/api/scoring/rubric', { criteria: weights });
    assert.equal(changed.status, 200);
    assert.equal(((await changed.json()) as { rubric: typeof defaultRubric }).rubric.criteria.opening.weight, 0);

    await stack.admin('POST', `/api/calls/${callId}/rescore`);
    const after = (await waitForScores(stack, callId, 2))[0]!.scorecard;
    const nextSteps = after.criteria.find((criterion) => criterion.key === 'nextSteps')!;
    assert.equal(after.overall, nextSteps.score, 'only next steps counts now');
    assert.notDeepEqual(after.criteria.map((c) => c.weight), before.criteria.map((c) => c.weight));

    const reset = (await (await stack.admin('DELETE', '/api/scoring/rubric')).json()) as { override: unknown };
    assert.equal(reset.override, null);
  });

  test('re-scoring a call without a transcript is a 409, an unknown call a 404', async () => {
    const { callId } = (await (await stack.postCall(integration, { externalId: 'no-transcript', recordingUrl: 'https://example.com/a.mp3' })).json()) as { callId: string };
    await stack.waitForCall(callId);

    const conflict = await stack.admin('POST', `/api/calls/${callId}/rescore`);
    assert.equal(conflict.status, 409);
    assert.deepEqual(await conflict.json(), { error: 'Call has no transcript to score yet', code: 'conflict' });
    assert.equal((await stack.admin('POST', `/api/calls/${crypto.randomUUID()}/rescore`)).status, 404);
  });
});

describe('the LLM scorer, configured by environment', () => {
  let llm: FakeChatCompletionsServer;
  let stack: TestStack;
  let integration: IntegrationCredentials;

  before(async () => {
    llm = await startFakeChatCompletionsServer({ apiKey: 'sk-test' });
    stack = await startTestStack({
      env: { LLM_BASE_URL: llm.baseUrl, LLM_MODEL: 'test-model', LLM_API_KEY: 'sk-test', LLM_MAX_ATTEMPTS: '2' },
    });
    integration = await stack.createIntegration();
  });
  after(async () => {
    await stack.close();
    await llm.close();
  });

  function reply(): string {
    return JSON.stringify({
      overall: 1,
      criteria: criterionKeys.map((key, index) => ({
        key,
        name: defaultRubric.criteria[key].name,
        // Uneven scores, so only the weighted mean of the rubric's weights gives the expected overall.
        score: 60 + index * 5,
        weight: defaultRubric.criteria[key].weight,
        explanation: `Good ${key}.`,
        evidence: [{ line: 0, speaker: 'agent', text: 'Hi' }],
      })),
      summary: 'Solid call.',
      strengths: ['Clear opening.'],
      improvements: ['Ask more questions.'],
    });
  }

  test('a call is scored by the model, with the overall recomputed from the weights', async () => {
    llm.script({ kind: 'content', content: reply() });
    const { callId } = (await (await stack.postCall(integration, { externalId: 'llm-1', transcript: 'Agent: Hi there.\nCustomer: Hello.' })).json()) as { callId: string };
    const call = await stack.waitForCall(callId);
    const card = call.score as unknown as Scorecard;

    assert.equal(card.scorer.name, 'llm:test-model');
    assert.deepEqual(
      card.criteria.map((criterion) => criterion.score),
      criterionKeys.map((_key, index) => 60 + index * 5),
    );
    assert.equal(card.overall, expectedOverall(card));
    assert.notEqual(card.overall, 1);
    assert.equal(llm.requests.at(-1)?.headers.authorization, 'Bearer sk-test');
  });

  test('output that stays malformed falls back to the built-in scorer, recording why', async () => {
    llm.script({ kind: 'content', content: '{"overall": 70, "criteria": [' }, { kind: 'content', content: 'not json at all' });
    const before = llm.requests.length;
    const { callId } = (await (await stack.postCall(integration, { externalId: 'llm-2', transcript: 'Agent: Hi there.\nCustomer: Hello.' })).json()) as { callId: string };
    const call = await stack.waitForCall(callId);
    const card = call.score as unknown as Scorecard;

    assert.equal(call.status, 'scored');
    assert.equal(card.scorer.name, 'builtin');
    assert.match(card.fallbackReason ?? '', /2 attempts/);
    assert.equal(llm.requests.length - before, 2);
  });
});
