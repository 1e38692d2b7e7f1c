/**
 * Throughput of the built-in scorer on a 60-minute call, on one core.
 *
 *   npx tsx bench/scoring.ts
 *
 * Builds the same ~9,000-word, ~600-turn transcript on every run, warms up, then times the scorer
 * and two baselines over the same text: a plain split into words, and `computeConversationStats`
 * (which the scorer runs as one of its steps). Prints figures only; nothing here fails on timing.
 */
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

import { scoreWithBuiltinRubric } from '../scoring/builtin-scorer.js';
import { computeConversationStats } from '../scoring/conversation-stats.js';

const warmUpMs = 1_000;
const measureMs = 3_000;
const targetTurns = 600;

// A small seeded generator (mulberry32) so every run scores the same call.
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);

    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const agentSentences = [
  'How does your team handle inbound leads today, from the first form fill to the first call?',
  'Tell me more about what happens when a follow-up slips through the cracks.',
  'What would it mean for the quarter if every rep got those two hours a day back?',
  'That makes sense, and I hear that a lot from operations leaders in your position.',
  'Most of our customers started exactly where you are, with spreadsheets and good intentions.',
  'With automatic reminders your reps never miss a follow-up, which means fewer deals go cold.',
  'Teams like yours typically cut their response time by about forty percent in the first month.',
  'Let me share my screen and walk you through how the routing rules work in practice.',
  'Why do you think the current process breaks down at the end of the month?',
  'I understand the budget concern, so let me break down where the return comes from.',
  'So the dashboard pulls every call, every email and every meeting into one timeline per account.',
  'If we could show that in a pilot with two of your reps, would that help the decision?',
  'Just to make sure I have it right, the biggest issue is the handover from marketing to sales.',
  'We also integrate with the calendar tools you already use, so nobody has to change habits.',
];

const customerSentences = [
  'Honestly it is a bit of a mess right now, everything lives in spreadsheets.',
  'We keep missing follow-ups when people are out, and that costs us deals.',
  'Our biggest challenge is that nobody owns the lead once marketing hands it over.',
  'That sounds interesting, but I am not sure we have the budget this quarter.',
  'We already use a tool for this, although nobody is very happy with it.',
  'How long does it usually take to get a team of twelve set up?',
  'Right, that would help a lot with the reporting at the end of the month.',
  'I would need to run it by my manager before we commit to anything.',
  'Yes, that is pretty much how it works for us as well.',
  'The reps spend a lot of time copying notes between systems by hand.',
  'Okay, and what does the reporting look like for a manager?',
  'Sure, go ahead and share your screen.',
];

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

// One sentence per turn, sometimes two: about 15 words a turn, as in a real back-and-forth call.
function turnText(pool: readonly string[], random: () => number): string {
  const count = random() < 0.1 ? 2 : 1;

  return Array.from({ length: count }, () => pick(pool, random)).join(' ');
}

/** A 60-minute discovery-and-demo call: greeting, ~600 alternating turns, a dated next step. */
function buildHourLongCall(): string {
  const random = seededRandom(20_240_601);
  const lines = [
    'Agent: Hi Jordan, this is Sam from Pipeline Labs, thanks for taking the time today.',
    'Customer: Hi Sam, happy to be here.',
    'Agent: The reason for my call is to understand how your team follows up on leads.',
  ];

  while (lines.length < targetTurns - 4) {
    lines.push(`Customer: ${turnText(customerSentences, random)}`);
    lines.push(`Agent: ${turnText(agentSentences, random)}`);
  }

  lines.push(
    'Customer: This has been useful. What would the next step be?',
    'Agent: Let us book a demo with your managers. Does Thursday at 2pm work for you?',
    'Customer: Thursday at 2pm works, send the invite.',
    'Agent: Perfect, I will send it right away. Thank you, Jordan, have a great afternoon.',
  );

  return lines.join('\n');
}

type Measurement = { runs: number; elapsedMs: number };

function measure(work: () => unknown, durationMs: number): Measurement {
  let runs = 0;
  let sink = 0;
  const started = performance.now();
  let elapsedMs = 0;

  while (elapsedMs < durationMs) {
    // Keeping a value alive stops the optimiser from dropping the call.
    sink += work() === undefined ? 0 : 1;
    runs += 1;
    elapsedMs = performance.now() - started;
  }

  if (sink < 0) {
    console.log(sink);
  }

  return { runs, elapsedMs };
}

function report(label: string, result: Measurement): number {
  const perSecond = (result.runs / result.elapsedMs) * 1000;
  const msEach = result.elapsedMs / result.runs;
  console.log(
    `${label.padEnd(28)} ${perSecond.toFixed(0).padStart(8)} transcripts/s ${msEach.toFixed(3).padStart(9)} ms each`,
  );

  return perSecond;
}

function main(): void {
  const transcript = buildHourLongCall();
  const stats = computeConversationStats(transcript);
  const scorecard = scoreWithBuiltinRubric(transcript);

  console.log(
    `call: ${stats.totalWords} words, ${stats.turnCount} turns, ${transcript.length} characters; ` +
      `scored ${scorecard.overall}/100`,
  );
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, node ${process.version}`,
  );
  console.log(
    `one core, ${measureMs / 1000} s per measurement after ${warmUpMs / 1000} s warm-up\n`,
  );

  const splitWords = () => transcript.split(/\s+/).length;
  const statsOnly = () => computeConversationStats(transcript);
  const fullScore = () => scoreWithBuiltinRubric(transcript);

  for (const work of [splitWords, statsOnly, fullScore]) {
    measure(work, warmUpMs / 3);
  }

  const split = report('split into words', measure(splitWords, measureMs));
  const statsRate = report('computeConversationStats', measure(statsOnly, measureMs));
  const scoreRate = report('scoreWithBuiltinRubric', measure(fullScore, measureMs));

  console.log(
    `\nscorer vs stats: ${(statsRate / scoreRate).toFixed(2)}x the time; ` +
      `scorer vs word split: ${(split / scoreRate).toFixed(1)}x the time`,
  );
}

main();
