import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  BUILTIN_SCORER_VERSION,
  countInterruptions,
  scoreWithBuiltinRubric,
  type Utterance,
} from '../../scoring/builtin-scorer.js';
import { computeConversationStats } from '../../scoring/conversation-stats.js';
import { criterionKeys } from '../../scoring/rubric.js';
import { scorecardSchema } from '../../scoring/scorecard.js';
import { parseTranscript } from '../../scoring/transcript.js';
import { criterion, expectedOverall, fixture } from './helpers.js';

const fixtureNames = readdirSync(new URL('../fixtures/transcripts/', import.meta.url))
  .filter((name) => name.endsWith('.txt'))
  .map((name) => name.slice(0, -'.txt'.length))
  .sort();

function score(name: string) {
  return scoreWithBuiltinRubric(fixture(name));
}

function lineText(transcript: string, line: number): string {
  const raw = transcript.split(/\r\n|\r|\n/)[line] ?? '';

  return parseTranscript(raw)[0]?.text ?? '';
}

describe('the built-in scorecard of every fixture', () => {
  test('the corpus holds at least 12 transcripts', () => {
    assert.ok(fixtureNames.length >= 12, `only ${fixtureNames.length} fixtures`);
  });

  for (const name of fixtureNames) {
    test(`${name} produces a valid scorecard whose overall is the weighted mean`, () => {
      const transcript = fixture(name);
      const scorecard = scoreWithBuiltinRubric(transcript);

      assert.doesNotThrow(() => scorecardSchema.parse(scorecard));
      assert.deepEqual(
        scorecard.criteria.map((item) => item.key),
        [...criterionKeys],
      );
      assert.equal(scorecard.overall, expectedOverall(scorecard));
      assert.deepEqual(scorecard.stats, computeConversationStats(transcript));
      assert.deepEqual(scorecard.scorer, { name: 'builtin', version: BUILTIN_SCORER_VERSION });
      assert.equal(scorecard.fallbackReason, undefined);
    });

    test(`${name} quotes evidence from the transcript lines it cites`, () => {
      const transcript = fixture(name);
      const speakers = new Map<number, string>();
      const turns = parseTranscript(transcript);
      turns.forEach((turn, position) => {
        const end = turns[position + 1]?.line ?? Number.MAX_SAFE_INTEGER;
        for (let line = turn.line; line < end && line < 10_000; line += 1) {
          speakers.set(line, turn.speaker);
        }
      });

      for (const item of scoreWithBuiltinRubric(transcript).criteria) {
        for (const evidence of item.evidence) {
          const quote = evidence.text.replace(/…$/, '');
          assert.ok(
            lineText(transcript, evidence.line).startsWith(quote),
            `${item.key} cites line ${evidence.line} as "${evidence.text}"`,
          );
          assert.equal(evidence.speaker, speakers.get(evidence.line));
        }
      }
    });
  }
});

describe('orderings a sales manager would state', () => {
  test('the discovery call outscores the pushy monologue overall and on discovery and listening', () => {
    const strong = score('strong-discovery');
    const pushy = score('pushy-monologue');

    assert.ok(strong.overall > pushy.overall + 40, `${strong.overall} vs ${pushy.overall}`);
    assert.ok(criterion(strong, 'discovery').score > criterion(pushy, 'discovery').score);
    assert.ok(criterion(strong, 'listening').score > criterion(pushy, 'listening').score);
  });

  test('the handled objection outscores the same objection ignored', () => {
    const handled = score('objection-handled');
    const ignored = score('objection-ignored');

    assert.ok(
      criterion(handled, 'objectionHandling').score > criterion(ignored, 'objectionHandling').score,
    );
    assert.ok(handled.overall > ignored.overall);
  });

  test('a dated next step scores next steps higher than no next step', () => {
    const dated = score('dated-next-step');
    const none = score('no-next-step');

    assert.ok(criterion(dated, 'nextSteps').score > criterion(none, 'nextSteps').score);
    assert.ok(dated.overall > none.overall);
  });

  test('the rude, high-pressure call is the least professional of the corpus', () => {
    const rude = criterion(score('rude-high-pressure'), 'professionalism').score;
    // Calls without agent speech score 0 on everything and say so; they are not comparable.
    const unscorable = ['rude-high-pressure', 'customer-only', 'unlabelled'];
    const others = fixtureNames
      .filter((name) => !unscorable.includes(name))
      .map((name) => criterion(score(name), 'professionalism').score);

    assert.ok(
      others.every((other) => other > rude),
      `${rude} vs ${others.join(', ')}`,
    );
  });

  test('a real conversation outscores a thirty-second brush-off and a voicemail', () => {
    const strong = score('strong-discovery').overall;

    assert.ok(strong > score('very-short').overall);
    assert.ok(strong > score('agent-voicemail').overall);
  });
});

describe('per-criterion rules on the fixtures', () => {
  test('the strong discovery call gets a full opening with the lines that show it', () => {
    const opening = criterion(score('strong-discovery'), 'opening');

    assert.equal(opening.score, 100);
    assert.equal(
      opening.explanation,
      'Greeted the customer (line 0), introduced themself (line 0) and stated the purpose (line 2).',
    );
    assert.deepEqual(
      opening.evidence.map((item) => item.line),
      [0, 2],
    );
  });

  test('discovery counts open questions and names the lines where the customer states a pain', () => {
    const discovery = criterion(score('strong-discovery'), 'discovery');

    assert.equal(discovery.score, 100);
    assert.equal(
      discovery.explanation,
      'Asked 5 open questions; the customer named a pain on lines 5, 8, 12 and 1 more.',
    );
  });

  test('"no problem" is not a pain', () => {
    const discovery = criterion(score('no-next-step'), 'discovery');

    assert.doesNotMatch(discovery.explanation, /line 1\b/);
    assert.match(discovery.explanation, /pain on lines 3, 5 and 7/);
  });

  test('a monologue of 97% of the words fails the talk-share band', () => {
    const listening = criterion(score('pushy-monologue'), 'listening');

    assert.ok(listening.score < 40, String(listening.score));
    assert.match(listening.explanation, /^The agent had 97% of the words \(healthy: 35–65%\)/);
    assert.match(listening.explanation, /longest agent turn 185 words; 1 turn over 150 words\.$/);
  });

  test('value credits a benefit tied to the pain and a number', () => {
    const value = criterion(score('strong-discovery'), 'value');

    assert.equal(value.score, 90);
    assert.match(
      value.explanation,
      /line 15 ties a benefit to the pain on line 14; line 15 puts a number on it/,
    );
  });

  test('an acknowledged and explored objection is fully handled', () => {
    const objection = criterion(score('objection-handled'), 'objectionHandling');

    assert.equal(objection.score, 100);
    assert.equal(
      objection.explanation,
      'Acknowledged and answered both objections (lines 5 and 9).',
    );
    assert.deepEqual(
      objection.evidence.map((item) => [item.line, item.speaker]),
      [
        [5, 'customer'],
        [6, 'agent'],
        [9, 'customer'],
        [10, 'agent'],
      ],
    );
  });

  test('an objection answered with an unrelated pitch is reported as ignored', () => {
    const objection = criterion(score('objection-ignored'), 'objectionHandling');

    assert.ok(objection.score <= 25, String(objection.score));
    assert.match(objection.explanation, /on line 5 the agent ignored it/);
  });

  test('a competitor objection met with a question and a pilot is handled', () => {
    const objection = criterion(score('competitor-objection-handled'), 'objectionHandling');

    assert.equal(objection.score, 100);
  });

  test('a call without objections does not count objection handling', () => {
    const objection = criterion(score('strong-discovery'), 'objectionHandling');

    assert.equal(objection.weight, 0);
    assert.match(objection.explanation, /No objection came up/);
  });

  test('a dated, confirmed next step gets full marks and cites the confirmation', () => {
    const nextSteps = criterion(score('dated-next-step'), 'nextSteps');

    assert.equal(nextSteps.score, 100);
    assert.equal(
      nextSteps.explanation,
      'Next step on line 10 with a date or time, agreed by the customer (line 11).',
    );
  });

  test('a voicemail proposing a time gets partial next-steps credit without confirmation', () => {
    const nextSteps = criterion(score('agent-voicemail'), 'nextSteps');

    assert.ok(nextSteps.score > 0 && nextSteps.score < 100, String(nextSteps.score));
    assert.match(nextSteps.explanation, /not confirmed by the customer/);
  });

  test('profanity and pressure phrases are each cited by line', () => {
    const professionalism = criterion(score('rude-high-pressure'), 'professionalism');

    assert.equal(professionalism.score, 0);
    assert.equal(
      professionalism.explanation,
      'Profanity on lines 4 and 6; pressure phrases on lines 6 and 8; no polite close.',
    );
  });

  test('strengths come from the best criteria and improvements are advice for the weakest', () => {
    const scorecard = score('no-next-step');

    assert.ok(scorecard.strengths.some((strength) => strength.startsWith('Opening: ')));
    assert.ok(scorecard.improvements.length > 0);
    assert.match(scorecard.improvements[0]!, /^Close with a concrete next step/);
    assert.match(scorecard.summary, /^Scored \d+\/100 on the built-in rubric\. /);
  });
});

describe('edge cases', () => {
  test('an empty transcript scores 0 and says it is empty', () => {
    const scorecard = scoreWithBuiltinRubric('');

    assert.equal(scorecard.overall, 0);
    assert.match(scorecard.summary, /empty/);
    assert.ok(scorecard.criteria.every((item) => item.score === 0 && item.evidence.length === 0));
    assert.doesNotThrow(() => scorecardSchema.parse(scorecard));
  });

  test('a customer-only call scores 0 because the agent never speaks', () => {
    const scorecard = score('customer-only');

    assert.equal(scorecard.overall, 0);
    assert.ok(scorecard.criteria.every((item) => /agent never speaks/.test(item.explanation)));
    assert.equal(scorecard.stats.agentWords, 0);
  });

  test('an agent-only voicemail scores listening 0 and says only the agent spoke', () => {
    const scorecard = score('agent-voicemail');

    assert.equal(criterion(scorecard, 'listening').score, 0);
    assert.match(scorecard.summary, /Only the agent spoke/);
    assert.equal(criterion(scorecard, 'opening').score, 100);
  });

  test('an unlabelled transcript scores 0 and asks for speaker labels', () => {
    const scorecard = score('unlabelled');

    assert.equal(scorecard.overall, 0);
    assert.deepEqual(scorecard.improvements, [
      'Send transcripts with Agent: and Customer: labels so the call can be scored.',
    ]);
  });

  for (const name of ['spanish', 'german']) {
    test(`a call in ${name} is not judged on English keywords but still on listening`, () => {
      const scorecard = score(name);

      for (const item of scorecard.criteria.filter((entry) => entry.key !== 'listening')) {
        assert.equal(item.score, 50, item.key);
        assert.match(
          item.explanation,
          /^Keywords did not match: the call does not read as English/,
        );
      }
      assert.ok(criterion(scorecard, 'listening').score > 80);
      assert.match(scorecard.summary, /does not read as English/);
      assert.match(scorecard.improvements.join(' '), /LLM scorer or a rubric override/);
    });
  }

  test('a very short call scores low', () => {
    assert.ok(score('very-short').overall < 50);
  });

  test('very long lines are scored and quoted in at most about 200 characters', () => {
    const filler = 'we keep losing leads because the follow-up process is manual and slow '.repeat(
      400,
    );
    const transcript = `Agent: Hi, this is Ana from Ledgerly. What slows your team down?\nCustomer: ${filler}\nAgent: ${filler}`;
    const scorecard = scoreWithBuiltinRubric(transcript);

    const quotes = scorecard.criteria.flatMap((item) =>
      item.evidence.map((evidence) => evidence.text),
    );
    assert.ok(quotes.length > 0);
    assert.ok(
      quotes.every((quote) => quote.length <= 200),
      'a quote is longer than 200 characters',
    );
    assert.ok(quotes.some((quote) => quote.endsWith('…')));
    assert.equal(scorecard.stats.longestAgentMonologueWords, 4_800);
  });

  test('CRLF line endings give the same scorecard as LF', () => {
    const transcript = fixture('objection-handled');

    assert.deepEqual(
      scoreWithBuiltinRubric(transcript.replaceAll('\n', '\r\n')),
      scoreWithBuiltinRubric(transcript),
    );
  });

  test('the rep name counts as an introduction in the opening', () => {
    const transcript =
      'Agent: Hi, Dana Price here, calling about your demo request.\nCustomer: Oh hi.';

    const without = criterion(scoreWithBuiltinRubric(transcript), 'opening');
    const withName = criterion(
      scoreWithBuiltinRubric(transcript, { repName: 'Dana Price' }),
      'opening',
    );

    assert.match(without.explanation, /did not introduce themself/);
    assert.equal(withName.score, 100);
  });
});

describe('interruptions from timed utterances', () => {
  const utterances: Utterance[] = [
    { speaker: 'agent', startMs: 0, endMs: 4_000 },
    { speaker: 'customer', startMs: 4_200, endMs: 9_000 },
    { speaker: 'agent', startMs: 8_000, endMs: 10_000 },
    { speaker: 'customer', startMs: 10_500, endMs: 15_000 },
    { speaker: 'agent', startMs: 15_000, endMs: 16_000 },
    { speaker: 'customer', startMs: 16_500, endMs: 20_000 },
    { speaker: 'agent', startMs: 19_000, endMs: 21_000 },
  ];

  test('counts agent utterances that start before the customer has finished', () => {
    assert.equal(countInterruptions(utterances), 2);
    assert.equal(countInterruptions([...utterances].reverse()), 2);
  });

  test('does not count the customer talking over the agent', () => {
    assert.equal(
      countInterruptions([
        { speaker: 'agent', startMs: 0, endMs: 5_000 },
        { speaker: 'customer', startMs: 1_000, endMs: 2_000 },
      ]),
      0,
    );
  });

  test('lowers listening and says how often the agent interrupted', () => {
    const transcript = fixture('strong-discovery');
    const calm = criterion(scoreWithBuiltinRubric(transcript), 'listening');
    const interrupted = criterion(scoreWithBuiltinRubric(transcript, { utterances }), 'listening');

    assert.ok(interrupted.score < calm.score, `${interrupted.score} vs ${calm.score}`);
    assert.match(interrupted.explanation, /interrupted the customer 2 times/);
    assert.doesNotMatch(calm.explanation, /interrupted/);
  });
});

describe('determinism', () => {
  test('the same transcript and options always give an identical scorecard', () => {
    for (const name of fixtureNames) {
      const transcript = fixture(name);

      assert.deepEqual(scoreWithBuiltinRubric(transcript), scoreWithBuiltinRubric(transcript));
    }
  });
});
