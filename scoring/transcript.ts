/**
 * Parsing of the plain-text transcript format the webhook contract describes: one speaker turn per
 * line, each line labelled `Agent:` or `Customer:`.
 */

/** Who spoke a turn. `unknown` is a labelled line whose label names neither side. */
export type Speaker = 'agent' | 'customer' | 'unknown';

export type TranscriptTurn = {
  speaker: Speaker;
  /** The turn's text without its label; consecutive lines of one speaker are joined by a space. */
  text: string;
  /** Zero-based index of the first transcript line of this turn. */
  line: number;
};

const agentLabels = new Set(['agent', 'rep', 'sales rep', 'salesperson', 'seller', 'closer']);
const customerLabels = new Set(['customer', 'prospect', 'client', 'lead', 'buyer']);

// A label is a short run of letters, digits, spaces, dots or dashes before a colon at the start of a
// line; anything longer is more likely a sentence that happens to contain a colon. It starts with a
// letter and its colon is not followed by a digit or `//`, so a line that opens with a clock time
// ("3:30 works") or a URL stays text.
const labelPattern = /^\s*(\p{L}[\p{L}\p{N} .'_-]{0,30}?)\s*:(?![\d/])\s*/u;

// An unrecognised label counts only when every word is capitalised or a number ("Speaker 2",
// "Dana Cole"); "So the plan is: ..." is a sentence, not a speaker.
const nameLikeLabel = /^[\p{Lu}\p{N}][\p{L}\p{N}.'_-]*(?: [\p{Lu}\p{N}][\p{L}\p{N}.'_-]*){0,3}$/u;

/** The speaker a label names, or `undefined` when the text before the colon is not a label. */
function speakerOf(label: string): Speaker | undefined {
  const normalised = label.trim().toLowerCase();

  if (agentLabels.has(normalised)) {
    return 'agent';
  }
  if (customerLabels.has(normalised)) {
    return 'customer';
  }
  if (nameLikeLabel.test(label.trim())) {
    return 'unknown';
  }

  return undefined;
}

/**
 * Splits a transcript into speaker turns. A line without a label continues the turn before it;
 * unlabelled lines before the first label belong to an `unknown` turn.
 */
export function parseTranscript(transcript: string): TranscriptTurn[] {
  const turns: TranscriptTurn[] = [];
  const lines = transcript.split(/\r\n|\r|\n/);
  // Two different unrecognised labels ("Speaker 1", "Speaker 2") are two people even though both
  // resolve to `unknown`, so merging compares the label too.
  let previousLabel: string | undefined;

  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '') {
      return;
    }

    const match = labelPattern.exec(line);
    const speaker = match ? speakerOf(match[1] ?? '') : undefined;
    const label = speaker === undefined ? undefined : (match?.[1] ?? '').trim().toLowerCase();
    const text = match && speaker !== undefined ? line.slice(match[0].length).trim() : line;
    const previous = turns.at(-1);
    const sameSpeaker =
      speaker === previous?.speaker && (speaker !== 'unknown' || label === previousLabel);

    if (previous && (speaker === undefined || sameSpeaker)) {
      previous.text = previous.text === '' ? text : `${previous.text} ${text}`;
      return;
    }

    turns.push({ speaker: speaker ?? 'unknown', text, line: index });
    previousLabel = label;
  });

  return turns;
}

const wordPattern = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/** Counts words: runs of letters or digits, with inner apostrophes and hyphens kept in the word. */
export function countWords(text: string): number {
  return text.match(wordPattern)?.length ?? 0;
}

/** Counts questions: each run of question marks (ASCII, full-width or Arabic) ends one. */
export function countQuestions(text: string): number {
  return text.match(/[?？؟]+/g)?.length ?? 0;
}
