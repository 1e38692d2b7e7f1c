import { computeConversationStats, type ConversationStats } from './conversation-stats.js';
import { compileKeywordLists, tokenize, type KeywordMatcher } from './keyword-matcher.js';
import {
  criterionKeys,
  defaultRubric,
  rubricSchema,
  type CriterionKey,
  type Rubric,
} from './rubric.js';
import {
  quoteForEvidence,
  weightedOverall,
  type CriterionScore,
  type Evidence,
  type Scorecard,
} from './scorecard.js';
import { countWords, parseTranscript, type Speaker } from './transcript.js';

/**
 * The version of the built-in rules. Bump it whenever a rule, a default keyword or a default weight
 * changes, so stored scorecards can be told apart from ones the current rules would produce.
 */
export const BUILTIN_SCORER_VERSION = '1.0.0';

/** One timed utterance from the transcription service, used to detect interruptions. */
export type Utterance = {
  speaker: Speaker;
  /** Milliseconds from the start of the recording. */
  startMs: number;
  endMs: number;
};

/** Per-call inputs every scorer accepts. */
export type ScoreOptions = {
  /** The workspace's rubric; the built-in English rubric when absent. */
  rubric?: Rubric;
  /** Timed utterances; interruptions are scored only when these are given. */
  utterances?: readonly Utterance[];
  /** The agent's name; saying it in the opening counts as an introduction. */
  repName?: string;
};

type Rubrics = Rubric['criteria'];
type ListId =
  | keyof Rubrics['opening']['keywords']
  | keyof Rubrics['discovery']['keywords']
  | keyof Rubrics['value']['keywords']
  | keyof Rubrics['objectionHandling']['keywords']
  | keyof Rubrics['nextSteps']['keywords']
  | keyof Rubrics['professionalism']['keywords'];

type CompiledRubric = {
  rubric: Rubric;
  matcher: KeywordMatcher;
  bit: Readonly<Record<ListId, number>>;
  commonWords: ReadonlySet<string>;
};

type LineRecord = {
  /** Zero-based index in the original transcript. */
  index: number;
  turn: number;
  speaker: Speaker;
  text: string;
  tokens: string[];
  hits: number;
  /** Whether the line holds a clock time or calendar date; worked out on first use. */
  dated?: boolean;
  /** A customer line naming a problem, outside pleasantries such as "no problem". */
  pain: boolean;
};

type TurnRecord = {
  index: number;
  speaker: Speaker;
  text: string;
  lines: LineRecord[];
  hits: number;
};

type Call = {
  compiled: CompiledRubric;
  stats: ConversationStats;
  lines: LineRecord[];
  turns: TurnRecord[];
  options: ScoreOptions;
};

type Assessment = {
  score: number;
  /** Overrides the rubric weight; 0 marks a criterion that did not apply to this call. */
  weight?: number;
  explanation: string;
  evidence: Evidence[];
  /** What the agent should do differently, used when the criterion is among the weakest. */
  advice: string;
};

// Clock times and calendar dates are written the same way in most languages, so they are patterns
// here rather than rubric keywords: "2pm", "2:30", "10 a.m.", "3/14", "2025-03-14", "the 14th".
const dateTimePattern =
  /\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\p{L})|\b\d{1,2}:\d{2}\b|\b\d{1,2}\/\d{1,2}(?:\/\d{2,4})?\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b/iu;

const quantityPattern = /\d|\b(?:percent|half|double|twice|triple)\b/i;
const questionEnd = /[?？؟]["')\]]*$/u;
const sentenceBreak = /(?<=[.!?？؟…])\s+/u;

/** The agent turns at the start of a call in which the opening is looked for. */
const openingAgentTurns = 3;
/** Words in the first part of a sentence where an open-question word must appear. */
const questionLeadWords = 4;
/**
 * Turns after a customer's pain within which any benefit counts as an answer to it: the next two
 * agent turns when speakers alternate. Later benefits must echo the pain's words.
 */
const painReplyTurns = 3;
/** The neutral score of a criterion that could not be judged, or did not apply to the call. */
const notJudgedScore = 50;

const compiledRubrics = new WeakMap<Rubric, CompiledRubric>();

// Rubrics are treated as immutable values (mergeRubric always returns a new one), so compiling
// once per object is safe and keeps the per-call cost to matching.
function compileRubric(rubric: Rubric): CompiledRubric {
  const cached = compiledRubrics.get(rubric);
  if (cached) {
    return cached;
  }

  const valid = rubric === defaultRubric ? rubric : rubricSchema.parse(rubric);
  const { criteria } = valid;
  const matcher = compileKeywordLists({
    ...criteria.opening.keywords,
    ...criteria.discovery.keywords,
    ...criteria.value.keywords,
    ...criteria.objectionHandling.keywords,
    ...criteria.nextSteps.keywords,
    ...criteria.professionalism.keywords,
  });
  const commonWords = new Set(
    valid.language.commonWords.flatMap((word) => {
      const tokens = tokenize(word);

      return tokens.length === 1 && !word.includes('*') ? tokens : [];
    }),
  );
  const compiled: CompiledRubric = {
    rubric: valid,
    matcher,
    bit: matcher.bits as Record<ListId, number>,
    commonWords,
  };

  compiledRubrics.set(rubric, compiled);

  return compiled;
}

function namesPain(compiled: CompiledRubric, tokens: readonly string[], hits: number): boolean {
  const { bit, matcher } = compiled;
  if ((hits & bit.pain) === 0) {
    return false;
  }
  if ((hits & bit.pleasantry) === 0) {
    return true;
  }

  // "No problem" holds a pain word but names no pain: blank out the pleasantries and look again.
  const masked = [...tokens];
  for (const [start, end] of matcher.spans(tokens, bit.pleasantry)) {
    masked.fill('', start, end);
  }

  return (matcher.match(masked) & bit.pain) !== 0;
}

function readCall(transcript: string, compiled: CompiledRubric, options: ScoreOptions): Call {
  const rawLines = transcript.split(/\r\n|\r|\n/);
  const parsed = parseTranscript(transcript);
  const lines: LineRecord[] = [];
  const turns: TurnRecord[] = [];

  parsed.forEach((turn, turnIndex) => {
    const end = parsed[turnIndex + 1]?.line ?? rawLines.length;
    const record: TurnRecord = {
      index: turnIndex,
      speaker: turn.speaker,
      text: turn.text,
      lines: [],
      hits: 0,
    };

    const lineIndices: number[] = [];
    for (let index = turn.line; index < end; index += 1) {
      if ((rawLines[index] ?? '').trim() !== '') {
        lineIndices.push(index);
      }
    }

    for (const index of lineIndices) {
      const raw = (rawLines[index] ?? '').trim();
      // A one-line turn's text is the line without its label. Lines of a longer turn are parsed
      // alone, which strips a label exactly as the whole-transcript parse did.
      const text = lineIndices.length === 1 ? turn.text : (parseTranscript(raw)[0]?.text ?? raw);
      const tokens = tokenize(text);
      const hits = compiled.matcher.match(tokens);
      const pain = turn.speaker === 'customer' && namesPain(compiled, tokens, hits);
      const line = { index, turn: turnIndex, speaker: turn.speaker, text, tokens, hits, pain };

      lines.push(line);
      record.lines.push(line);
      record.hits |= hits;
    }

    turns.push(record);
  });

  return { compiled, stats: computeConversationStats(transcript), lines, turns, options };
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

function joinList(items: readonly string[], conjunction = 'and'): string {
  if (items.length <= 1) {
    return items[0] ?? '';
  }

  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

function lineRefs(lines: readonly LineRecord[], limit = 3): string {
  const shown = lines.slice(0, limit).map((line) => String(line.index));
  const word = lines.length === 1 ? 'line' : 'lines';
  const refs =
    lines.length > limit ? `${shown.join(', ')} and ${lines.length - limit} more` : joinList(shown);

  return `${word} ${refs}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function percent(share: number): number {
  return Math.round(share * 100);
}

function clamp(value: number, min = 0, max = 1): number {
  return Math.min(max, Math.max(min, value));
}

function evidenceOf(lines: ReadonlyArray<LineRecord | undefined>, limit = 5): Evidence[] {
  const seen = new Set<number>();
  const unique: LineRecord[] = [];

  for (const line of lines) {
    if (line && !seen.has(line.index)) {
      seen.add(line.index);
      unique.push(line);
    }
  }

  return unique
    .slice(0, limit)
    .sort((a, b) => a.index - b.index)
    .map((line) => ({
      line: line.index,
      speaker: line.speaker,
      text: quoteForEvidence(line.text),
    }));
}

function containsSequence(tokens: readonly string[], sequence: readonly string[]): boolean {
  if (sequence.length === 0) {
    return false;
  }

  for (let start = 0; start + sequence.length <= tokens.length; start += 1) {
    if (sequence.every((token, offset) => tokens[start + offset] === token)) {
      return true;
    }
  }

  return false;
}

function linesOf(call: Call, speaker: Speaker, mask: number): LineRecord[] {
  return call.lines.filter((line) => line.speaker === speaker && (line.hits & mask) !== 0);
}

function assessOpening(call: Call): Assessment {
  const { bit } = call.compiled;
  const agentTurns = call.turns
    .filter((turn) => turn.speaker === 'agent')
    .slice(0, openingAgentTurns);
  const openingLines = agentTurns.flatMap((turn) => turn.lines);
  const find = (mask: number) => openingLines.find((line) => (line.hits & mask) !== 0);
  const repTokens = tokenize(call.options.repName ?? '');
  const introducedByName = openingLines.find((line) => containsSequence(line.tokens, repTokens));

  const parts = [
    {
      line: find(bit.greeting),
      done: 'greeted the customer',
      missed: 'greet the customer',
      advice: 'greeting the customer',
    },
    {
      line: find(bit.introduction) ?? introducedByName,
      done: 'introduced themself',
      missed: 'introduce themself',
      advice: 'introducing yourself and your company',
    },
    {
      line: find(bit.purpose),
      done: 'stated the purpose',
      missed: 'state the purpose',
      advice: 'saying why you are calling',
    },
  ];
  const done = parts.filter((part) => part.line !== undefined);
  const missed = parts.filter((part) => part.line === undefined);
  const scope =
    agentTurns.length === 1 ? 'the first agent turn' : `the first ${agentTurns.length} agent turns`;
  const didText = joinList(done.map((part) => `${part.done} (line ${part.line?.index})`));
  const missedText = `did not ${joinList(
    missed.map((part) => part.missed),
    'or',
  )} in ${scope}`;
  const explanation =
    missed.length === 0
      ? `${capitalise(didText)}.`
      : done.length === 0
        ? `${capitalise(missedText)}.`
        : `${capitalise(didText)}; ${missedText}.`;

  return {
    score: Math.round((100 * done.length) / parts.length),
    explanation,
    evidence: evidenceOf(done.map((part) => part.line)),
    advice: `Open the call by ${joinList(missed.map((part) => part.advice))}.`,
  };
}

function countOpenQuestions(call: Call): LineRecord[] {
  const { bit, matcher } = call.compiled;
  const asked: LineRecord[] = [];

  for (const line of linesOf(call, 'agent', bit.openQuestion | bit.openPrompt)) {
    const sentences = line.text.split(sentenceBreak);

    for (const sentence of sentences) {
      // Most lines are one sentence; their tokens and matches are already known.
      const single = sentences.length === 1;
      const tokens = single ? line.tokens : tokenize(sentence);
      const lead = matcher.match(tokens, 0, questionLeadWords);
      if ((lead & (bit.openQuestion | bit.openPrompt)) === 0) {
        continue;
      }
      if (((single ? line.hits : matcher.match(tokens)) & bit.pleasantry) !== 0) {
        continue;
      }

      // "What we do is…" is a statement: an interrogative counts only in a question, while a
      // prompt ("tell me about…") is open however it is punctuated.
      const isQuestion = questionEnd.test(sentence.trim());
      if ((lead & bit.openPrompt) !== 0 || (isQuestion && (lead & bit.openQuestion) !== 0)) {
        asked.push(line);
      }
    }
  }

  return asked;
}

function assessDiscovery(call: Call): Assessment {
  const asked = countOpenQuestions(call);
  const pains = call.lines.filter((line) => line.pain);
  const questionPoints = Math.min(70, 15 * asked.length);
  const painPoints = pains.length > 0 ? 30 : 0;

  const questions =
    asked.length === 0
      ? 'Asked no open questions'
      : `Asked ${plural(asked.length, 'open question')}`;
  const pain =
    pains.length === 0
      ? 'the customer named no problem'
      : `the customer named a pain on ${lineRefs(pains)}`;

  const advice: string[] = [];
  if (asked.length < 3) {
    advice.push('Ask more open questions (what, how, why, "tell me about…") before presenting.');
  }
  if (pains.length === 0) {
    advice.push('Keep digging until the customer names a concrete problem in their own words.');
  }

  return {
    score: questionPoints + painPoints,
    explanation: `${questions}; ${pain}.`,
    evidence: evidenceOf([...asked.slice(0, 3), ...pains.slice(0, 2)]),
    advice: advice.join(' ') || 'Ask a few more open questions to deepen discovery.',
  };
}

/**
 * Counts agent utterances that start while a customer utterance is still running. Utterances are
 * taken in start order; only agent-over-customer overlaps count.
 */
export function countInterruptions(utterances: readonly Utterance[]): number {
  const ordered = [...utterances].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  let customerSpeaksUntil = -Infinity;
  let interruptions = 0;

  for (const utterance of ordered) {
    if (utterance.speaker === 'customer') {
      customerSpeaksUntil = Math.max(customerSpeaksUntil, utterance.endMs);
    } else if (utterance.speaker === 'agent' && utterance.startMs < customerSpeaksUntil) {
      interruptions += 1;
    }
  }

  return interruptions;
}

function assessListening(call: Call): Assessment {
  const { stats } = call;
  const limits = call.compiled.rubric.criteria.listening.limits;

  if (stats.customerWords === 0) {
    return {
      score: 0,
      explanation: 'Only the agent spoke, so there was no one to listen to.',
      evidence: [],
      advice: 'Get the customer talking: ask a question and wait for the answer.',
    };
  }

  const share = stats.agentTalkShare;
  const outside =
    share > limits.maxAgentTalkShare
      ? share - limits.maxAgentTalkShare
      : Math.max(0, limits.minAgentTalkShare - share);
  // 30 points of share outside the band take the talk-share part to zero.
  const shareScore = clamp(1 - outside / 0.3);

  const longest = stats.longestAgentMonologueWords;
  const monologueScore = clamp(
    1 - Math.max(0, longest - limits.maxMonologueWords) / limits.maxMonologueWords,
  );
  const agentTurns = call.turns.filter((turn) => turn.speaker === 'agent');
  // Hyphens split tokens but not words, so a turn's token count bounds its word count from above
  // and most turns never need the exact count.
  const monologues = agentTurns
    .filter(
      (turn) =>
        turn.lines.reduce((sum, line) => sum + line.tokens.length, 0) > limits.maxMonologueWords,
    )
    .map((turn) => ({ turn, words: countWords(turn.text) }))
    .filter((candidate) => candidate.words > limits.maxMonologueWords);
  const longestTurn = monologues.reduce<{ turn: TurnRecord; words: number } | undefined>(
    (best, candidate) => (best && best.words >= candidate.words ? best : candidate),
    undefined,
  )?.turn;

  const utterances = call.options.utterances;
  const interruptions = utterances ? countInterruptions(utterances) : undefined;
  const customerUtterances = utterances?.filter((u) => u.speaker === 'customer').length ?? 0;
  const interruptionScore =
    interruptions === undefined
      ? 1
      : clamp(1 - (3 * interruptions) / Math.max(1, customerUtterances));

  const score =
    interruptions === undefined
      ? 65 * shareScore + 35 * monologueScore
      : 55 * shareScore + 25 * monologueScore + 20 * interruptionScore;

  const band = `${percent(limits.minAgentTalkShare)}–${percent(limits.maxAgentTalkShare)}%`;
  const parts = [
    `The agent had ${percent(share)}% of the words (healthy: ${band})`,
    `longest agent turn ${plural(longest, 'word')}`,
  ];
  if (monologues.length > 0) {
    parts.push(`${plural(monologues.length, 'turn')} over ${limits.maxMonologueWords} words`);
  }
  if (interruptions !== undefined) {
    parts.push(`interrupted the customer ${plural(interruptions, 'time')}`);
  }

  const advice: string[] = [];
  if (share > limits.maxAgentTalkShare) {
    advice.push(
      `Talk less and ask more: you had ${percent(share)}% of the words; aim for at most ${percent(limits.maxAgentTalkShare)}%.`,
    );
  } else if (share < limits.minAgentTalkShare) {
    advice.push(
      `Steer the call more: you had ${percent(share)}% of the words; aim for at least ${percent(limits.minAgentTalkShare)}%.`,
    );
  }
  if (monologues.length > 0) {
    advice.push('Break long monologues into shorter turns that end with a question.');
  }
  if (interruptions) {
    advice.push('Let the customer finish before you speak.');
  }

  return {
    score: Math.round(score),
    explanation: `${parts.join('; ')}.`,
    evidence: evidenceOf([longestTurn?.lines[0]]),
    advice: advice.join(' ') || 'Keep the conversation balanced with short turns.',
  };
}

// Shared word starts are how a benefit is recognised as an answer to the customer's own problem
// ("we keep missing follow-ups" … "you never miss a follow-up"), without a language model.
function stem(token: string): string {
  return token.slice(0, 5);
}

function assessValue(call: Call): Assessment {
  const { bit, commonWords, matcher } = call.compiled;
  const painStems = new Set<string>();
  let statements = 0;
  let lastPain: LineRecord | undefined;
  let tied: { benefit: LineRecord; pain: LineRecord } | undefined;
  let quantified: LineRecord | undefined;
  const benefits: LineRecord[] = [];

  for (const line of call.lines) {
    if (line.pain) {
      lastPain = line;
      for (const token of line.tokens) {
        if (token.length >= 5 && !commonWords.has(token)) {
          painStems.add(stem(token));
        }
      }
      continue;
    }
    if (line.speaker !== 'agent' || (line.hits & bit.benefit) === 0) {
      continue;
    }

    benefits.push(line);
    const sentences = line.text.split(sentenceBreak);
    statements +=
      sentences.length === 1
        ? 1
        : sentences.filter((sentence) => (matcher.match(tokenize(sentence)) & bit.benefit) !== 0)
            .length;
    quantified ??= quantityPattern.test(line.text) ? line : undefined;

    if (tied === undefined && lastPain !== undefined) {
      const answersPain =
        line.turn - lastPain.turn <= painReplyTurns ||
        line.tokens.some((token) => token.length >= 5 && painStems.has(stem(token)));
      if (answersPain) {
        tied = { benefit: line, pain: lastPain };
      }
    }
  }

  if (benefits.length === 0) {
    return {
      score: 0,
      explanation: 'Made no value statements (benefits, outcomes, ROI).',
      evidence: [],
      advice: 'Spell out the outcome for the customer: time or money saved, revenue gained.',
    };
  }

  const score = Math.min(50, 20 * statements) + (tied ? 35 : 0) + (quantified ? 15 : 0);
  const tiedText = tied
    ? `line ${tied.benefit.index} ties a benefit to the pain on line ${tied.pain.index}`
    : 'none tied to a pain the customer named';
  const quantifiedText = quantified
    ? `line ${quantified.index} puts a number on it`
    : 'none quantified';

  const advice: string[] = [];
  if (!tied) {
    advice.push('Tie each benefit back to the problem the customer named, in their words.');
  }
  if (!quantified) {
    advice.push('Put a number on the outcome (hours saved, more deals, payback time).');
  }
  if (statements < 3) {
    advice.push('Make the value explicit more than once.');
  }

  return {
    score,
    explanation: `Made ${plural(statements, 'value statement')}; ${tiedText}; ${quantifiedText}.`,
    evidence: evidenceOf([tied?.pain, tied?.benefit, quantified, ...benefits.slice(0, 2)]),
    advice: advice.join(' '),
  };
}

type ObjectionOutcome =
  'handled' | 'acknowledged' | 'answered' | 'ignored' | 'pressured' | 'unanswered';

const outcomeCredit: Record<ObjectionOutcome, number> = {
  handled: 1,
  acknowledged: 0.5,
  answered: 0.5,
  ignored: 0,
  pressured: 0,
  unanswered: 0,
};

const outcomeText: Record<ObjectionOutcome, string> = {
  handled: 'acknowledged it and answered it',
  acknowledged: 'acknowledged it but did not explore it',
  answered: 'answered it without acknowledging it',
  ignored: 'ignored it',
  pressured: 'pushed past it with pressure',
  unanswered: 'never answered it before the call ended',
};

function assessObjectionHandling(call: Call): Assessment {
  const { bit } = call.compiled;
  const objections: Array<{ line: LineRecord; reply?: LineRecord; outcome: ObjectionOutcome }> = [];

  call.turns.forEach((turn, position) => {
    if (turn.speaker !== 'customer' || (turn.hits & bit.objection) === 0) {
      return;
    }

    const line = turn.lines.find((candidate) => (candidate.hits & bit.objection) !== 0)!;
    const reply = call.turns.slice(position + 1).find((next) => next.speaker === 'agent');
    if (!reply) {
      objections.push({ line, outcome: 'unanswered' });
      return;
    }

    const acknowledged = (reply.hits & bit.acknowledgement) !== 0;
    const explored = (reply.hits & bit.reframe) !== 0 || /[?？؟]/u.test(reply.text);
    const outcome: ObjectionOutcome =
      (reply.hits & bit.pressure) !== 0
        ? 'pressured'
        : acknowledged && explored
          ? 'handled'
          : acknowledged
            ? 'acknowledged'
            : explored
              ? 'answered'
              : 'ignored';
    const replyLine =
      reply.lines.find(
        (candidate) => (candidate.hits & (bit.acknowledgement | bit.reframe)) !== 0,
      ) ?? reply.lines[0];

    objections.push({ line, reply: replyLine, outcome });
  });

  if (objections.length === 0) {
    return {
      score: notJudgedScore,
      weight: 0,
      explanation: 'No objection came up, so this criterion does not count toward the overall.',
      evidence: [],
      advice: 'Invite concerns before closing so they can be answered on the call.',
    };
  }

  const credit = objections.reduce((sum, objection) => sum + outcomeCredit[objection.outcome], 0);
  const handled = objections.filter((objection) => objection.outcome === 'handled');
  const worst = [...objections].sort(
    (a, b) => outcomeCredit[a.outcome] - outcomeCredit[b.outcome],
  )[0]!;
  const objectionLines = objections.map((objection) => objection.line);

  let explanation: string;
  if (objections.length === 1) {
    const reply = worst.reply ? ` (line ${worst.reply.index})` : '';
    explanation = `The customer objected on line ${worst.line.index}; the agent ${outcomeText[worst.outcome]}${reply}.`;
  } else if (handled.length === objections.length) {
    const all = objections.length === 2 ? 'both' : `all ${objections.length}`;
    explanation = `Acknowledged and answered ${all} objections (${lineRefs(objectionLines)}).`;
  } else {
    explanation =
      `Fully handled ${handled.length} of ${objections.length} objections (${lineRefs(objectionLines)}); ` +
      `on line ${worst.line.index} the agent ${outcomeText[worst.outcome]}.`;
  }

  const advice =
    worst.outcome === 'pressured'
      ? 'Answer objections instead of pushing past them with pressure.'
      : 'Acknowledge each objection, then answer or explore it with a question before moving on.';

  return {
    score: Math.round((100 * credit) / objections.length),
    explanation,
    evidence: evidenceOf(
      objections.flatMap((objection) => [objection.line, objection.reply]),
      6,
    ),
    advice,
  };
}

function isDated(line: LineRecord, dateWordBit: number): boolean {
  if ((line.hits & dateWordBit) !== 0) {
    return true;
  }

  // Every pattern needs a digit; checking for one first skips the costly pattern on most lines.
  line.dated ??= /\d/.test(line.text) && dateTimePattern.test(line.text);

  return line.dated;
}

function assessNextSteps(call: Call): Assessment {
  const { bit } = call.compiled;
  // Next steps are agreed at the end; the second half of the turns keeps a date mentioned during
  // discovery ("it broke last Tuesday") from counting as one.
  const firstTurn = Math.floor(call.turns.length / 2);
  const lines = call.lines;
  let best:
    { step: LineRecord; dated?: LineRecord; confirmed?: LineRecord; points: number } | undefined;

  lines.forEach((line, position) => {
    if (line.turn < firstTurn || line.speaker === 'unknown') {
      return;
    }

    const proposesTime =
      line.speaker === 'agent' && isDated(line, bit.dateWord) && /[?？]/u.test(line.text);
    if ((line.hits & bit.nextStep) === 0 && !proposesTime) {
      return;
    }

    const dated = isDated(line, bit.dateWord)
      ? line
      : lines
          .slice(Math.max(0, position - 1), position + 3)
          .find((candidate) => isDated(candidate, bit.dateWord));
    const confirmed =
      line.speaker === 'customer'
        ? line
        : lines
            .slice(position + 1, position + 5)
            .find(
              (candidate) =>
                candidate.speaker === 'customer' && (candidate.hits & bit.confirmation) !== 0,
            );
    // Only the customer can agree to a step, so confirmation weighs as much as the date.
    const points = 40 + (dated ? 25 : 0) + (confirmed ? 35 : 0);

    // Later steps win ties: the step agreed last is the one the call ends on.
    if (!best || points >= best.points) {
      best = { step: line, dated, confirmed, points };
    }
  });

  if (!best) {
    return {
      score: 0,
      explanation: 'No next step was agreed in the second half of the call.',
      evidence: [],
      advice: 'Close with a concrete next step (a meeting, demo or proposal) with a date and time.',
    };
  }

  const dated = !best.dated
    ? ' with no date or time'
    : best.dated === best.step
      ? ' with a date or time'
      : ` with a date or time (line ${best.dated.index})`;
  const confirmed = !best.confirmed
    ? ', not confirmed by the customer'
    : best.confirmed === best.step
      ? ', proposed by the customer'
      : `, agreed by the customer (line ${best.confirmed.index})`;

  const advice: string[] = [];
  if (!best.dated) {
    advice.push('Put a date and time on the next step before hanging up.');
  }
  if (!best.confirmed) {
    advice.push('Get the customer to confirm the next step out loud.');
  }

  return {
    score: best.points,
    explanation: `Next step on line ${best.step.index}${dated}${confirmed}.`,
    evidence: evidenceOf([best.step, best.dated, best.confirmed]),
    advice: advice.join(' ') || 'Keep closing with dated, confirmed next steps.',
  };
}

function assessProfessionalism(call: Call): Assessment {
  const { bit } = call.compiled;
  const profanity = linesOf(call, 'agent', bit.profanity);
  const pressure = linesOf(call, 'agent', bit.pressure);
  const closingTurns = call.turns.filter((turn) => turn.speaker === 'agent').slice(-3);
  const close = closingTurns
    .flatMap((turn) => turn.lines)
    .find((line) => (line.hits & bit.politeClose) !== 0);

  const score = clamp(
    100 - 30 * profanity.length - 20 * pressure.length - (close ? 0 : 20),
    0,
    100,
  );
  const parts = [
    profanity.length > 0 ? `profanity on ${lineRefs(profanity)}` : 'no profanity',
    pressure.length > 0 ? `pressure phrases on ${lineRefs(pressure)}` : 'no pressure phrases',
    close ? `closed politely (line ${close.index})` : 'no polite close',
  ];

  const advice: string[] = [];
  if (profanity.length > 0) {
    advice.push('Drop the profanity and insults.');
  }
  if (pressure.length > 0) {
    advice.push('Drop pressure phrases like "today only"; let the value carry the decision.');
  }
  if (!close) {
    advice.push('Close politely: thank the customer for their time.');
  }

  return {
    score,
    explanation: `${capitalise(parts.join('; '))}.`,
    evidence: evidenceOf([...profanity, ...pressure, close]),
    advice: advice.join(' ') || 'Keep the tone professional.',
  };
}

const assessors: Record<CriterionKey, (call: Call) => Assessment> = {
  opening: assessOpening,
  discovery: assessDiscovery,
  listening: assessListening,
  value: assessValue,
  objectionHandling: assessObjectionHandling,
  nextSteps: assessNextSteps,
  professionalism: assessProfessionalism,
};

/** Criteria whose rules read keyword lists; the others work in any language. */
const keywordCriteria: ReadonlySet<CriterionKey> = new Set(
  criterionKeys.filter((key) => key !== 'listening'),
);

/** Words needed before the language check means anything. */
const languageCheckMinWords = 20;
/** A call keeps its language, so the first couple of thousand words settle the check. */
const languageSampleWords = 2_000;

function readsAsRubricLanguage(call: Call): boolean {
  const { commonWords, rubric } = call.compiled;
  if (commonWords.size === 0) {
    return true;
  }

  let words = 0;
  let common = 0;
  for (const line of call.lines) {
    if (words >= languageSampleWords) {
      break;
    }

    words += line.tokens.length;
    for (const token of line.tokens) {
      if (commonWords.has(token)) {
        common += 1;
      }
    }
  }

  return words < languageCheckMinWords || common / words >= rubric.language.minCommonWordShare;
}

type Unscorable = { reason: string; advice: string; summary: string };

function unscorableReason(call: Call): Unscorable | undefined {
  if (call.lines.length === 0) {
    return {
      reason: 'The transcript is empty',
      advice: 'Check the transcription: the transcript is empty.',
      summary: 'The transcript is empty; nothing could be scored.',
    };
  }
  if (call.stats.agentWords === 0 && call.stats.customerWords === 0) {
    return {
      reason: 'No line is labelled Agent: or Customer:',
      advice: 'Send transcripts with Agent: and Customer: labels so the call can be scored.',
      summary:
        'No line is labelled Agent: or Customer:, so the speakers are unknown and nothing could be scored.',
    };
  }
  if (call.stats.agentWords === 0) {
    return {
      reason: 'The agent never speaks in the transcript',
      advice: 'Check the recording: only the customer is in the transcript.',
      summary: 'Only the customer speaks in the transcript, so the agent could not be scored.',
    };
  }

  return undefined;
}

function describeCall(
  call: Call,
  overall: number,
  criteria: readonly CriterionScore[],
  foreign: boolean,
): string {
  const counted = criteria.filter((criterion) => criterion.weight > 0);
  const ranked = [...counted].sort((a, b) => b.score - a.score);
  const top = ranked[0];
  const bottom = ranked.at(-1);
  const { stats } = call;

  const sentences = [`Scored ${overall}/100 on the built-in rubric.`];
  if (top && bottom && top !== bottom) {
    sentences.push(
      `Strongest: ${top.name} (${top.score}); weakest: ${bottom.name} (${bottom.score}).`,
    );
  }
  if (stats.customerWords === 0) {
    sentences.push('Only the agent spoke (a voicemail or a one-sided recording).');
  } else {
    sentences.push(
      `The agent had ${percent(stats.agentTalkShare)}% of the ${stats.totalWords} words over ${plural(stats.turnCount, 'turn')}.`,
    );
  }
  if (foreign) {
    sentences.push(
      `The call does not read as ${call.compiled.rubric.language.name}, so keyword criteria were not judged.`,
    );
  }

  return sentences.join(' ');
}

/**
 * Scores a call against the rubric, offline and deterministically: the same transcript, rubric and
 * options always give the same scorecard. See docs/scoring.md for the rules.
 */
export function scoreWithBuiltinRubric(transcript: string, options: ScoreOptions = {}): Scorecard {
  const compiled = compileRubric(options.rubric ?? defaultRubric);
  const call = readCall(transcript, compiled, options);
  const { rubric } = compiled;
  const unscorable = unscorableReason(call);
  const foreign = unscorable === undefined && !readsAsRubricLanguage(call);

  const assessed = criterionKeys.map((key) => {
    const definition = rubric.criteria[key];
    const name = definition.name;
    let assessment: Assessment;

    if (unscorable) {
      assessment = {
        score: 0,
        explanation: `${unscorable.reason}, so ${name.toLowerCase()} could not be judged.`,
        evidence: [],
        advice: unscorable.advice,
      };
    } else if (foreign && keywordCriteria.has(key)) {
      assessment = {
        score: notJudgedScore,
        explanation:
          `Keywords did not match: the call does not read as ${rubric.language.name}, so ` +
          `${name.toLowerCase()} was not judged.`,
        evidence: [],
        advice: `Score calls that are not in ${rubric.language.name} with the LLM scorer or a rubric override in their language.`,
      };
    } else {
      assessment = assessors[key](call);
    }

    const criterion: CriterionScore = {
      key,
      name,
      score: assessment.score,
      weight: assessment.weight ?? definition.weight,
      explanation: assessment.explanation,
      evidence: assessment.evidence,
    };

    return { criterion, advice: assessment.advice };
  });

  const criteria = assessed.map((entry) => entry.criterion);
  const overall = weightedOverall(criteria);
  const counted = assessed.filter((entry) => entry.criterion.weight > 0);
  const strengths = counted
    .filter((entry) => entry.criterion.score >= 70)
    .sort((a, b) => b.criterion.score - a.criterion.score)
    .slice(0, 3)
    .map((entry) => `${entry.criterion.name}: ${entry.criterion.explanation}`);
  // Criteria under 70 need work; on a strong call the weakest imperfect one still gets advice.
  const imperfect = counted
    .filter((entry) => entry.criterion.score < 100)
    .sort((a, b) => a.criterion.score - b.criterion.score);
  const weak = imperfect.filter((entry) => entry.criterion.score < 70);
  const improvements = [
    ...new Set((weak.length > 0 ? weak : imperfect.slice(0, 1)).slice(0, 3).map((e) => e.advice)),
  ];

  return {
    overall,
    criteria,
    stats: call.stats,
    summary: unscorable ? unscorable.summary : describeCall(call, overall, criteria, foreign),
    strengths,
    improvements,
    scorer: { name: 'builtin', version: BUILTIN_SCORER_VERSION },
  };
}
