import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { z } from 'zod';

import { scoreWithBuiltinRubric } from '../../scoring/builtin-scorer.js';
import {
  criterionKeys,
  defaultRubric,
  mergeRubric,
  rubricOverrideSchema,
  rubricSchema,
} from '../../scoring/rubric.js';
import { criterion, expectedOverall, fixture } from './helpers.js';

function rejection(override: unknown): z.ZodError {
  try {
    mergeRubric(defaultRubric, override);
  } catch (error) {
    assert.ok(error instanceof z.ZodError, `expected a ZodError, got ${String(error)}`);

    return error;
  }

  assert.fail('the override was accepted');
}

function issueAt(error: z.ZodError, path: string): string | undefined {
  return error.issues.find((issue) => issue.path.join('.') === path)?.message;
}

describe('the default rubric', () => {
  test('is valid, has every criterion and weights that add up to 100', () => {
    assert.doesNotThrow(() => rubricSchema.parse(defaultRubric));
    assert.deepEqual(Object.keys(defaultRubric.criteria), [...criterionKeys]);
    assert.equal(
      criterionKeys.reduce((sum, key) => sum + defaultRubric.criteria[key].weight, 0),
      100,
    );
  });

  test('is frozen so no caller can change it for everyone', () => {
    assert.throws(() => {
      (defaultRubric.criteria.opening as { weight: number }).weight = 99;
    }, TypeError);
    assert.throws(() => {
      defaultRubric.criteria.professionalism.keywords.profanity.push('darn');
    }, TypeError);
  });
});

describe('mergeRubric', () => {
  test('an empty override reproduces the defaults', () => {
    assert.deepEqual(mergeRubric(defaultRubric, {}), defaultRubric);
    assert.deepEqual(mergeRubric(defaultRubric, undefined), defaultRubric);
  });

  test('a zero weight takes a criterion out of the overall', () => {
    const transcript = fixture('no-next-step');
    const rubric = mergeRubric(defaultRubric, { criteria: { nextSteps: { weight: 0 } } });

    const before = scoreWithBuiltinRubric(transcript);
    const after = scoreWithBuiltinRubric(transcript, { rubric });

    assert.equal(criterion(after, 'nextSteps').weight, 0);
    assert.equal(after.overall, expectedOverall(after));
    assert.ok(after.overall > before.overall, `${after.overall} vs ${before.overall}`);
    assert.ok(after.improvements.every((advice) => !/next step/i.test(advice)));
  });

  test('changing weights changes the overall by the weighted mean', () => {
    const transcript = fixture('objection-ignored');
    const rubric = mergeRubric(defaultRubric, { criteria: { objectionHandling: { weight: 85 } } });
    const scorecard = scoreWithBuiltinRubric(transcript, { rubric });

    assert.equal(criterion(scorecard, 'objectionHandling').weight, 85);
    assert.ok(scorecard.overall < scoreWithBuiltinRubric(transcript).overall);
    assert.equal(scorecard.overall, expectedOverall(scorecard));
  });

  test('a keyword list replaces the default list and changes what is detected', () => {
    const transcript =
      'Agent: Hi, this is Ana.\nCustomer: We use Helpflow today.\nAgent: Great, let me show you our dashboard.';
    const rubric = mergeRubric(defaultRubric, {
      criteria: { objectionHandling: { keywords: { objection: ['helpflow', 'we use'] } } },
    });

    assert.equal(criterion(scoreWithBuiltinRubric(transcript), 'objectionHandling').weight, 0);
    const objection = criterion(
      scoreWithBuiltinRubric(transcript, { rubric }),
      'objectionHandling',
    );
    assert.equal(objection.weight, defaultRubric.criteria.objectionHandling.weight);
    assert.match(objection.explanation, /objected on line 1; the agent ignored it/);
    assert.deepEqual(rubric.criteria.objectionHandling.keywords.acknowledgement, [
      ...defaultRubric.criteria.objectionHandling.keywords.acknowledgement,
    ]);
  });

  test('listening limits can be widened', () => {
    const transcript = fixture('pushy-monologue');
    const rubric = mergeRubric(defaultRubric, {
      criteria: { listening: { limits: { maxAgentTalkShare: 1, maxMonologueWords: 400 } } },
    });

    assert.equal(criterion(scoreWithBuiltinRubric(transcript, { rubric }), 'listening').score, 100);
    assert.equal(rubric.criteria.listening.limits.minAgentTalkShare, 0.35);
  });

  test('a German rubric judges a German call instead of reporting unmatched keywords', () => {
    const transcript = fixture('german');
    const rubric = mergeRubric(defaultRubric, {
      language: {
        name: 'German',
        commonWords: (
          'der die das den dem und ich sie ihnen wir es ist sind nicht kein ein eine zu mit von ' +
          'im auf für wie was dass ja gerne sehr haben auch noch mehr sich wegen'
        ).split(' '),
      },
      criteria: {
        opening: {
          keywords: {
            greeting: ['guten tag', 'hallo'],
            introduction: ['hier spricht', 'mein name ist'],
            purpose: ['ich rufe wegen'],
          },
        },
      },
    });

    const opening = criterion(scoreWithBuiltinRubric(transcript, { rubric }), 'opening');
    assert.equal(opening.score, 100);
    assert.doesNotMatch(opening.explanation, /Keywords did not match/);
  });

  test('does not change the rubric it starts from', () => {
    const base = mergeRubric(defaultRubric, { criteria: { value: { weight: 40 } } });
    mergeRubric(base, { criteria: { value: { weight: 5 } } });

    assert.equal(base.criteria.value.weight, 40);
  });
});

describe('invalid overrides', () => {
  test('a negative weight is rejected with its path', () => {
    const error = rejection({ criteria: { opening: { weight: -1 } } });

    assert.equal(issueAt(error, 'criteria.opening.weight'), 'weight must be zero or more');
  });

  test('a weight that is not a number is rejected', () => {
    const error = rejection({ criteria: { value: { weight: 'high' } } });

    assert.equal(issueAt(error, 'criteria.value.weight'), 'weight must be a number');
  });

  test('all weights at zero are rejected', () => {
    const criteria = Object.fromEntries(criterionKeys.map((key) => [key, { weight: 0 }]));
    const error = rejection({ criteria });

    assert.equal(
      issueAt(error, 'criteria'),
      'at least one criterion must have a weight above zero',
    );
  });

  test('a misspelt field or an unknown criterion is rejected rather than ignored', () => {
    const misspelt = rejection({ criteria: { opening: { weigth: 5 } } });
    const unknown = rejection({ criteria: { rapport: { weight: 5 } } });
    const unknownList = rejection({ criteria: { value: { keywords: { roi: ['payback'] } } } });

    assert.match(issueAt(misspelt, 'criteria.opening') ?? '', /weigth/);
    assert.match(issueAt(unknown, 'criteria') ?? '', /rapport/);
    assert.match(issueAt(unknownList, 'criteria.value.keywords') ?? '', /roi/);
  });

  test('malformed keywords are rejected with the reason', () => {
    const error = rejection({
      criteria: { discovery: { keywords: { pain: ['ok', '', 'pr*', 'wh*at', '_ here'] } } },
    });

    assert.equal(issueAt(error, 'criteria.discovery.keywords.pain.1'), 'keyword must not be empty');
    assert.equal(
      issueAt(error, 'criteria.discovery.keywords.pain.2'),
      'a * may only end a word, after at least three letters',
    );
    assert.equal(
      issueAt(error, 'criteria.discovery.keywords.pain.3'),
      'a * may only end a word, after at least three letters',
    );
    assert.equal(
      issueAt(error, 'criteria.discovery.keywords.pain.4'),
      'a keyword cannot start with the _ placeholder',
    );
  });

  test('a talk-share band whose minimum exceeds its maximum is rejected', () => {
    const error = rejection({
      criteria: { listening: { limits: { minAgentTalkShare: 0.8, maxAgentTalkShare: 0.5 } } },
    });

    assert.equal(
      issueAt(error, 'criteria.listening.limits.minAgentTalkShare'),
      'minAgentTalkShare must not exceed maxAgentTalkShare',
    );
  });

  test('the override schema accepts exactly what mergeRubric accepts', () => {
    const good = { criteria: { opening: { weight: 3 } }, language: { minCommonWordShare: 0.1 } };

    assert.equal(rubricOverrideSchema.safeParse(good).success, true);
    assert.equal(rubricOverrideSchema.safeParse({ extra: true }).success, false);
  });
});
