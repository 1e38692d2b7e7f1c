/**
 * Turns AssemblyAI's diarised utterances (speakers `A`, `B`, …) into the plain-text transcript the
 * rest of the service reads: one `Agent:` or `Customer:` line per turn.
 */

/** The parts of an utterance that speaker mapping needs; AssemblyAI's utterances have more. */
export type SpeakerUtterance = { speaker: string; text: string };

export type FormattedTranscript = {
  /** One line per turn, `Agent: …`, `Customer: …` or `Speaker C: …`, joined by newlines. */
  text: string;
  /** The AssemblyAI label judged to be the sales rep, or null when there were no utterances. */
  agentSpeaker: string | null;
};

export type FormatTranscriptOptions = {
  /** The rep's name as the phone system knows it; only the first word (the first name) is used. */
  repName?: string;
};

/** How many of each speaker's opening utterances are searched for a self-introduction. */
const introductionWindow = 3;

function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[’‘`]/g, "'").toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds the patterns that count as the rep introducing themselves by first name. "Jane from",
 * "Jane speaking" and "Jane here" count only at the start of a sentence (after an optional greeting),
 * because elsewhere a customer says them about the rep ("I got a call from Jane from Acme").
 */
function introductionPatterns(firstName: string): RegExp[] {
  // The name must end the word: "Jane's" or "Janet" is not "Jane".
  const name = `${escapeRegExp(firstName)}(?!'?\\p{L})`;
  const greeting = '(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))[,!]?\\s+)?';

  return [
    new RegExp(
      `(?:^|[^\\p{L}'])(?:this is|it's|it is|my name is|my name's|i'm|i am)\\s+${name}`,
      'u',
    ),
    new RegExp(
      `^${greeting}(?:it's\\s+|this is\\s+)?${name}[,]?\\s+(?:from|speaking|here)\\b`,
      'u',
    ),
  ];
}

/** Sentences of an utterance that are statements; questions ("is this Jane?") introduce nobody. */
function statements(text: string): string[] {
  const sentences = fold(text).match(/[^.!?]+[.!?]*/g) ?? [];

  return sentences.map((sentence) => sentence.trim()).filter((sentence) => !sentence.endsWith('?'));
}

function findIntroducedSpeaker(
  utterances: readonly SpeakerUtterance[],
  repName: string | undefined,
): string | null {
  const firstName =
    fold(repName ?? '')
      .trim()
      .split(/\s+/)[0] ?? '';
  if (firstName.length < 2) {
    return null;
  }

  const patterns = introductionPatterns(firstName);
  const seen = new Map<string, number>();
  for (const utterance of utterances) {
    const count = (seen.get(utterance.speaker) ?? 0) + 1;
    seen.set(utterance.speaker, count);
    if (count > introductionWindow) {
      continue;
    }

    const introduces = statements(utterance.text).some((sentence) =>
      patterns.some((pattern) => pattern.test(sentence)),
    );
    if (introduces) {
      return utterance.speaker;
    }
  }

  return null;
}

/**
 * Labels each diarised speaker and writes the transcript, one line per turn, consecutive utterances
 * of one speaker merged into one line.
 *
 * Who is the agent:
 * 1. If `repName` is given and a speaker introduces themselves by the rep's first name within their
 *    first three utterances ("this is Jane", "my name is Jane", "I'm Jane", "Jane speaking",
 *    "Jane here", "Jane from Acme"; questions such as "is this Jane?" do not count), that speaker is
 *    the agent. If several do, the earliest introduction wins.
 * 2. Otherwise the speaker of the first utterance is the agent: on an outbound sales call the rep
 *    opens.
 *
 * The first other speaker to talk is the customer. Any further speakers keep their AssemblyAI label
 * (`Speaker C: …`), so the scorer sees them as neither side.
 */
export function formatTranscript(
  utterances: readonly SpeakerUtterance[],
  options: FormatTranscriptOptions = {},
): FormattedTranscript {
  const spoken = utterances
    .map((utterance) => ({
      speaker: utterance.speaker,
      text: utterance.text.replace(/\s+/g, ' ').trim(),
    }))
    .filter((utterance) => utterance.text !== '');
  const first = spoken[0];
  if (first === undefined) {
    return { text: '', agentSpeaker: null };
  }

  const agent = findIntroducedSpeaker(spoken, options.repName) ?? first.speaker;
  const customer = spoken.find((utterance) => utterance.speaker !== agent)?.speaker;

  function labelOf(speaker: string): string {
    if (speaker === agent) {
      return 'Agent';
    }

    return speaker === customer ? 'Customer' : `Speaker ${speaker}`;
  }

  const turns: Array<{ speaker: string; parts: string[] }> = [];
  for (const utterance of spoken) {
    const previous = turns.at(-1);
    if (previous && previous.speaker === utterance.speaker) {
      previous.parts.push(utterance.text);
    } else {
      turns.push({ speaker: utterance.speaker, parts: [utterance.text] });
    }
  }

  const text = turns.map((turn) => `${labelOf(turn.speaker)}: ${turn.parts.join(' ')}`).join('\n');

  return { text, agentSpeaker: agent };
}
