import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import { BUILTIN_SCORER_VERSION, scoreWithBuiltinRubric } from '../../scoring/builtin-scorer.js';
import { computeConversationStats } from '../../scoring/conversation-stats.js';
import { createScorer } from '../../scoring/index.js';
import {
  LLM_SCORER_VERSION,
  LlmScorerError,
  createLlmScorer,
  renderTranscriptForPrompt,
  type LlmScorerConfig,
} from '../../scoring/llm-scorer.js';
import { criterionKeys, defaultRubric, mergeRubric } from '../../scoring/rubric.js';
import { scorecardSchema } from '../../scoring/scorecard.js';
import {
  startFakeChatCompletionsServer,
  type FakeChatCompletionsServer,
  type RecordedRequest,
} from './fake-chat-completions-server.js';
import { criterion, expectedOverall, fixture } from './helpers.js';

const model = 'scoring-model-1';
const transcript = fixture('objection-handled');

type ReplyCriterion = {
  key: string;
  name: string;
  score: unknown;
  weight: number;
  explanation: string;
  evidence: Array<{ line: number; speaker: string; text: string }>;
};

/** A reply a well-behaved model would give for the objection-handled fixture. */
function validReply(change: (criteria: ReplyCriterion[]) => void = () => {}): string {
  const criteria: ReplyCriterion[] = criterionKeys.map((key, position) => ({
    key,
    name: defaultRubric.criteria[key].name,
    score: 60 + position * 5,
    weight: defaultRubric.criteria[key].weight,
    explanation: `Explanation for ${key}.`,
    evidence: [{ line: 5, speaker: 'agent', text: 'the price is too high for us' }],
  }));
  change(criteria);

  return JSON.stringify({
    // Deliberately inconsistent with the criteria: the scorer recomputes it.
    overall: 3,
    criteria,
    summary: 'A solid follow-up call.',
    strengths: ['Handled the price objection.'],
    improvements: ['Quantify the value.'],
  });
}

function userMessage(request: RecordedRequest | undefined): string {
  return request?.body.messages?.find((message) => message.role === 'user')?.content ?? '';
}

let server: FakeChatCompletionsServer;

function scorer(config: Partial<LlmScorerConfig> = {}) {
  return createLlmScorer({ baseUrl: server.baseUrl, model, retryDelayMs: 0, ...config });
}

before(async () => {
  server = await startFakeChatCompletionsServer();
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
  server.setDefaultReply({ kind: 'status', status: 500, message: 'nothing scripted' });
});

describe('the LLM scorer with a valid reply', () => {
  test('returns an llm scorecard with local stats and an overall recomputed from the weights', async () => {
    server.script({ kind: 'content', content: validReply() });

    const scorecard = await scorer().score(transcript);

    assert.deepEqual(scorecard.scorer, { name: `llm:${model}`, version: LLM_SCORER_VERSION });
    assert.equal(scorecard.fallbackReason, undefined);
    assert.deepEqual(scorecard.stats, computeConversationStats(transcript));
    assert.equal(scorecard.overall, expectedOverall(scorecard));
    assert.notEqual(scorecard.overall, 3);
    assert.equal(criterion(scorecard, 'discovery').score, 65);
    assert.equal(scorecard.summary, 'A solid follow-up call.');
    assert.doesNotThrow(() => scorecardSchema.parse(scorecard));
    assert.equal(server.requests.length, 1);
  });

  test('takes evidence speakers from the transcript and keeps only real quotes', async () => {
    server.script({
      kind: 'content',
      content: validReply((criteria) => {
        criteria[0]!.evidence = [
          { line: 6, speaker: 'customer', text: 'a paraphrase the agent never said' },
        ];
      }),
    });

    const scorecard = await scorer().score(transcript);

    assert.deepEqual(criterion(scorecard, 'discovery').evidence, [
      { line: 5, speaker: 'customer', text: 'the price is too high for us' },
    ]);
    const opening = criterion(scorecard, 'opening').evidence[0];
    assert.equal(opening?.speaker, 'agent');
    assert.match(opening?.text ?? '', /^I understand, that's a fair concern/);
  });

  test('sends the documented chat completions request with numbered lines', async () => {
    server.script({ kind: 'content', content: validReply() });

    await scorer().score(transcript);

    const request = server.requests[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/chat/completions');
    assert.equal(request.body.model, model);
    assert.deepEqual(request.body.response_format, { type: 'json_object' });

    const system = request.body.messages?.[0];
    assert.equal(system?.role, 'system');
    for (const key of criterionKeys) {
      assert.ok(system?.content.includes(`"${key}"`), `system prompt lacks ${key}`);
    }
    assert.match(userMessage(request), /^L0 Agent: Hi Dana, this is Lee from Brightdesk\./m);
    assert.match(userMessage(request), /^L13 Customer: Thanks, bye\.$/m);
  });

  test('sends the API key as a bearer token', async () => {
    server.script({ kind: 'content', content: validReply() });

    await scorer({ apiKey: 'sk-test-123' }).score(transcript);

    assert.equal(server.requests[0]?.headers.authorization, 'Bearer sk-test-123');
  });

  test('sends no Authorization header when no API key is configured', async () => {
    server.script({ kind: 'content', content: validReply() });

    await scorer().score(transcript);

    assert.equal(server.requests[0]?.headers.authorization, undefined);
  });

  test('describes a workspace rubric’s weights to the model and applies them', async () => {
    const rubric = mergeRubric(defaultRubric, { criteria: { value: { weight: 0 } } });
    server.script({ kind: 'content', content: validReply() });

    const scorecard = await scorer().score(transcript, { rubric });

    assert.match(
      server.requests[0]?.body.messages?.[0]?.content ?? '',
      /"value" \(Value, weight 0\)/,
    );
    assert.equal(criterion(scorecard, 'value').weight, 0);
    assert.equal(scorecard.overall, expectedOverall(scorecard));
  });
});

describe('the LLM scorer with invalid replies', () => {
  test('succeeds on the second attempt after malformed JSON, telling the model what was wrong', async () => {
    server.script(
      { kind: 'content', content: '{"overall": 80, "criteria": [' },
      { kind: 'content', content: validReply() },
    );

    const scorecard = await scorer().score(transcript);

    assert.equal(scorecard.scorer.name, `llm:${model}`);
    assert.equal(server.requests.length, 2);
    const retry = server.requests[1]?.body.messages ?? [];
    assert.equal(retry.at(-2)?.role, 'assistant');
    assert.equal(retry.at(-2)?.content, '{"overall": 80, "criteria": [');
    assert.match(retry.at(-1)?.content ?? '', /not valid JSON/);
  });

  test('retries a reply cut off at the token limit', async () => {
    server.script(
      { kind: 'content', content: validReply().slice(0, 200), finishReason: 'length' },
      { kind: 'content', content: validReply() },
    );

    const scorecard = await scorer().score(transcript);

    assert.equal(scorecard.fallbackReason, undefined);
    assert.equal(server.requests.length, 2);
    assert.match(server.requests[1]?.body.messages?.at(-1)?.content ?? '', /cut off/);
  });

  test('falls back to the built-in scorer after maxAttempts schema-violating replies', async () => {
    const invalid = validReply((criteria) => {
      criteria[0]!.score = 'high';
    });
    server.setDefaultReply({ kind: 'content', content: invalid });

    const scorecard = await scorer().score(transcript);

    assert.equal(server.requests.length, 3);
    assert.deepEqual(scorecard.scorer, { name: 'builtin', version: BUILTIN_SCORER_VERSION });
    assert.match(
      scorecard.fallbackReason ?? '',
      /^llm output invalid after 3 attempts: criteria\.0\.score: .*expected number/,
    );
    const { fallbackReason: _reason, ...builtin } = scorecard;
    assert.deepEqual(builtin, scoreWithBuiltinRubric(transcript));
  });

  test('makes exactly maxAttempts requests', async () => {
    server.setDefaultReply({ kind: 'content', content: 'not json at all' });

    const scorecard = await scorer({ maxAttempts: 2 }).score(transcript);

    assert.equal(server.requests.length, 2);
    assert.match(
      scorecard.fallbackReason ?? '',
      /^llm output invalid after 2 attempts: reply is not valid JSON/,
    );
  });

  test('rejects a reply missing a criterion or citing a line that does not exist', async () => {
    server.script(
      {
        kind: 'content',
        content: validReply((criteria) => {
          criteria.pop();
          criteria[1]!.evidence = [{ line: 400, speaker: 'agent', text: 'x' }];
        }),
      },
      { kind: 'content', content: validReply() },
    );

    await scorer().score(transcript);

    const feedback = server.requests[1]?.body.messages?.at(-1)?.content ?? '';
    assert.match(
      feedback,
      /criteria\.1\.evidence\.0\.line: line 400 is not one of the L<n> lines shown/,
    );
    assert.match(feedback, /criterion "professionalism" is missing/);
  });
});

describe('the LLM scorer when requests fail', () => {
  test('retries 5xx responses, then falls back with the reason', async () => {
    server.setDefaultReply({ kind: 'status', status: 500, message: 'upstream exploded' });

    const scorecard = await scorer().score(transcript);

    assert.equal(server.requests.length, 3);
    assert.equal(scorecard.scorer.name, 'builtin');
    assert.match(scorecard.fallbackReason ?? '', /^llm request failed after 3 attempts: HTTP 500/);
  });

  test('recovers when a 5xx is followed by a valid reply', async () => {
    server.script({ kind: 'status', status: 503 }, { kind: 'content', content: validReply() });

    const scorecard = await scorer().score(transcript);

    assert.equal(scorecard.scorer.name, `llm:${model}`);
    assert.equal(server.requests.length, 2);
  });

  test('throws a retryable transport error instead when configured to', async () => {
    server.setDefaultReply({ kind: 'status', status: 502 });

    await assert.rejects(scorer({ onRequestFailure: 'throw' }).score(transcript), (error) => {
      assert.ok(error instanceof LlmScorerError);
      assert.equal(error.code, 'transport');
      assert.equal(error.retryable, true);
      assert.equal(error.attempts, 3);

      return true;
    });
    assert.equal(server.requests.length, 3);
  });

  test('does not retry a rejected API key and reports it as not retryable', async () => {
    const guarded = await startFakeChatCompletionsServer({ apiKey: 'sk-right' });
    try {
      const config = { baseUrl: guarded.baseUrl, model, apiKey: 'sk-wrong', retryDelayMs: 0 };

      const scorecard = await createLlmScorer(config).score(transcript);
      assert.equal(guarded.requests.length, 1);
      assert.match(scorecard.fallbackReason ?? '', /^llm request rejected: HTTP 401/);

      await assert.rejects(
        createLlmScorer({ ...config, onRequestFailure: 'throw' }).score(transcript),
        (error) => error instanceof LlmScorerError && error.code === 'rejected' && !error.retryable,
      );
    } finally {
      await guarded.close();
    }
  });

  test('gives up on a slow server after the timeout of each attempt', async () => {
    server.setDefaultReply({
      kind: 'slow',
      delayMs: 5_000,
      then: { kind: 'content', content: validReply() },
    });

    const started = Date.now();
    const scorecard = await scorer({ timeoutMs: 150, maxAttempts: 2 }).score(transcript);

    assert.ok(Date.now() - started < 3_000);
    assert.equal(server.requests.length, 2);
    assert.match(
      scorecard.fallbackReason ?? '',
      /^llm request failed after 2 attempts: request timed out/,
    );
  });

  test('does not call the model for an empty transcript', async () => {
    const scorecard = await scorer().score('');

    assert.equal(server.requests.length, 0);
    assert.equal(scorecard.scorer.name, 'builtin');
    assert.match(scorecard.fallbackReason ?? '', /empty/);
  });
});

describe('trimming long transcripts', () => {
  const longCall = Array.from({ length: 2_000 }, (_, line) =>
    line % 2 === 0
      ? `Agent: Agent line number ${line} goes here.`
      : `Customer: Customer reply ${line}.`,
  ).join('\n');

  test('keeps the first 40% and the last 60% of the budget on whole lines', () => {
    const budget = 5_000;
    const prompt = renderTranscriptForPrompt(longCall, budget);
    const lines = prompt.text.split('\n');
    const markerAt = lines.findIndex((line) => line.startsWith('[… '));

    const head = lines.slice(0, markerAt);
    const tail = lines.slice(markerAt + 1);
    const size = (part: string[]) => part.reduce((sum, line) => sum + line.length + 1, 0);

    assert.ok(size(head) <= budget * 0.4 && size(head) > budget * 0.4 - 60, String(size(head)));
    assert.ok(size(tail) <= budget * 0.6 && size(tail) > budget * 0.6 - 60, String(size(tail)));
    assert.equal(head[0], 'L0 Agent: Agent line number 0 goes here.');
    assert.equal(tail.at(-1), 'L1999 Customer: Customer reply 1999.');
    assert.equal(lines[markerAt], `[… ${2_000 - head.length - tail.length} lines omitted …]`);
    assert.equal(prompt.omittedLines, 2_000 - head.length - tail.length);
    assert.ok(
      lines.every((line) => line === lines[markerAt] || /^L\d+ (Agent|Customer): /.test(line)),
    );
  });

  test('numbers lines by their place in the original transcript, blank lines included', () => {
    const prompt = renderTranscriptForPrompt('Agent: Hi.\n\n\nCustomer: Hello.', 1_000);

    assert.equal(prompt.text, 'L0 Agent: Hi.\nL3 Customer: Hello.');
    assert.deepEqual([...prompt.sentLines], [0, 3]);
  });

  test('cuts a single line longer than its share instead of dropping everything', () => {
    const prompt = renderTranscriptForPrompt(`Agent: ${'word '.repeat(2_000)}`, 1_000);

    assert.ok(prompt.text.length <= 400, String(prompt.text.length));
    assert.match(prompt.text, /^L0 Agent: word word .*…$/);
  });

  test('sends the trimmed transcript and rejects evidence from omitted lines', async () => {
    server.script(
      {
        kind: 'content',
        content: validReply((criteria) => {
          criteria[0]!.evidence = [
            { line: 1_000, speaker: 'agent', text: 'Agent line number 1000' },
          ];
        }),
      },
      { kind: 'content', content: validReply() },
    );

    const scorecard = await scorer({ maxTranscriptChars: 5_000 }).score(longCall);

    const sent = userMessage(server.requests[0]);
    assert.match(sent, /^L0 Agent: Agent line number 0 goes here\.$/m);
    assert.match(sent, /^L1999 Customer: Customer reply 1999\.$/m);
    assert.match(sent, /^\[… \d+ lines omitted …\]$/m);
    assert.doesNotMatch(sent, /^L1000 /m);
    assert.match(
      server.requests[1]?.body.messages?.at(-1)?.content ?? '',
      /line 1000 is not one of the L<n> lines shown/,
    );
    assert.equal(scorecard.scorer.name, `llm:${model}`);
    assert.deepEqual(scorecard.stats, computeConversationStats(longCall));
  });
});

describe('createScorer', () => {
  test('builds the built-in scorer by default and the LLM scorer when configured', async () => {
    const builtin = createScorer({ kind: 'builtin' });
    assert.equal(builtin.name, 'builtin');
    assert.deepEqual(await builtin.score(transcript), scoreWithBuiltinRubric(transcript));

    server.script({ kind: 'content', content: validReply() });
    const llm = createScorer({ kind: 'llm', baseUrl: server.baseUrl, model });
    assert.equal(llm.name, `llm:${model}`);
    assert.equal((await llm.score(transcript)).scorer.name, `llm:${model}`);
  });

  test('applies the rubric it was given unless a call passes its own', async () => {
    const rubric = mergeRubric(defaultRubric, { criteria: { opening: { weight: 0 } } });
    const scorer = createScorer({ kind: 'builtin' }, rubric);

    assert.equal(criterion(await scorer.score(transcript), 'opening').weight, 0);
    assert.equal(
      criterion(await scorer.score(transcript, { rubric: defaultRubric }), 'opening').weight,
      10,
    );
  });

  test('refuses an invalid configuration at creation', () => {
    assert.throws(
      () => createLlmScorer({ baseUrl: 'not a url', model }),
      /baseUrl must be an absolute URL/,
    );
    assert.throws(
      () => createLlmScorer({ baseUrl: server.baseUrl, model: '' }),
      /model must not be empty/,
    );
  });
});
