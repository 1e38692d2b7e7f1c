/**
 * Whole-word keyword matching over pre-tokenised text. A keyword is a word or phrase; a trailing
 * `*` on a word matches any ending, and a `_` word (never the first) matches any one word. Lists are compiled once into a map from a
 * phrase's first word to the phrases starting with it, so matching a line costs one or two map
 * look-ups per word however many keywords a rubric holds.
 */

// Hyphens split words so "follow-up" and "follow up" tokenise alike; apostrophes stay inside a
// word so "can't" is not "can".
const tokenPattern = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

// Prefix keywords ("frustrat*") are indexed by their first letters; this is the minimum a prefix
// keyword must have, enforced by the rubric schema.
const prefixIndexLength = 3;

/** Lower-cased words of a text, in order. */
export function tokenize(text: string): string[] {
  const lower = text.toLowerCase();
  const apostrophes = lower.includes('’') ? lower.replaceAll('’', "'") : lower;

  return apostrophes.match(tokenPattern) ?? [];
}

// A small-integer hash of a word's first letters, computed without allocating a substring because
// matching looks one up for every word of a call. Collisions only add candidates: every candidate
// is checked letter by letter.
function prefixKey(word: string): number {
  return (
    ((word.charCodeAt(0) * 961 + word.charCodeAt(1) * 31 + word.charCodeAt(2)) | 0) & 0x3fff_ffff
  );
}

type WordPattern = { text: string; prefix: boolean; any: boolean };
type Phrase = { words: WordPattern[]; bit: number };

/** Keyword lists compiled for matching; each list owns one bit of a match mask. */
export type KeywordMatcher = {
  /** The bit of each list, by the name it was compiled under. */
  readonly bits: Readonly<Record<string, number>>;
  /**
   * The mask of lists with a phrase starting at a word index in `[from, to)`; a phrase may run
   * past `to`.
   */
  match(tokens: readonly string[], from?: number, to?: number): number;
  /** The `[start, end)` word ranges of every phrase of the lists in `mask`. */
  spans(tokens: readonly string[], mask: number): Array<[number, number]>;
};

function compileKeyword(keyword: string): WordPattern[] {
  const words: WordPattern[] = [];

  for (const piece of keyword.trim().split(/\s+/)) {
    if (piece === '_') {
      words.push({ text: '', prefix: false, any: true });
      continue;
    }

    const prefix = piece.endsWith('*');
    const pieceTokens = tokenize(prefix ? piece.slice(0, -1) : piece);

    pieceTokens.forEach((text, index) => {
      words.push({ text, prefix: prefix && index === pieceTokens.length - 1, any: false });
    });
  }

  return words;
}

function wordMatches(pattern: WordPattern, token: string): boolean {
  if (pattern.any) {
    return token !== '';
  }

  return pattern.prefix ? token.startsWith(pattern.text) : token === pattern.text;
}

function phraseMatchesAt(phrase: Phrase, tokens: readonly string[], start: number): boolean {
  if (start + phrase.words.length > tokens.length) {
    return false;
  }

  for (let offset = 0; offset < phrase.words.length; offset += 1) {
    if (!wordMatches(phrase.words[offset]!, tokens[start + offset]!)) {
      return false;
    }
  }

  return true;
}

function addToIndex<K>(index: Map<K, Phrase[]>, key: K, phrase: Phrase): void {
  const existing = index.get(key);
  if (existing) {
    existing.push(phrase);
  } else {
    index.set(key, [phrase]);
  }
}

/**
 * Compiles named keyword lists. At most 31 lists fit one mask, which is far more than a rubric
 * needs.
 */
export function compileKeywordLists(
  lists: Readonly<Record<string, readonly string[]>>,
): KeywordMatcher {
  const names = Object.keys(lists);
  if (names.length > 31) {
    throw new RangeError(`at most 31 keyword lists can be compiled together, got ${names.length}`);
  }

  const bits: Record<string, number> = {};
  const exact = new Map<string, Phrase[]>();
  const byPrefix = new Map<number, Phrase[]>();

  names.forEach((name, position) => {
    const bit = 1 << position;
    bits[name] = bit;

    for (const keyword of lists[name] ?? []) {
      const words = compileKeyword(keyword);
      const first = words[0];
      // A phrase is indexed by its first word, so it cannot start with the any-word placeholder.
      if (first === undefined || first.any) {
        continue;
      }

      // A prefix too short to index (left after punctuation was stripped) falls back to an exact
      // word rather than never matching.
      if (first.prefix && first.text.length < prefixIndexLength) {
        first.prefix = false;
      }

      const phrase = { words, bit };
      if (first.prefix) {
        addToIndex(byPrefix, prefixKey(first.text), phrase);
      } else {
        addToIndex(exact, first.text, phrase);
      }
    }
  });

  function prefixedAt(token: string): Phrase[] | undefined {
    return byPrefix.size > 0 && token.length >= prefixIndexLength
      ? byPrefix.get(prefixKey(token))
      : undefined;
  }

  // The hot loop of the built-in scorer: it runs once per word of a call, so it avoids allocating.
  function match(tokens: readonly string[], from = 0, to = tokens.length): number {
    let mask = 0;
    const end = Math.min(to, tokens.length);

    for (let start = Math.max(0, from); start < end; start += 1) {
      const token = tokens[start]!;
      const exactCandidates = exact.get(token);
      if (exactCandidates !== undefined) {
        for (const phrase of exactCandidates) {
          if ((mask & phrase.bit) === 0 && phraseMatchesAt(phrase, tokens, start)) {
            mask |= phrase.bit;
          }
        }
      }

      const prefixCandidates = prefixedAt(token);
      if (prefixCandidates !== undefined) {
        for (const phrase of prefixCandidates) {
          if ((mask & phrase.bit) === 0 && phraseMatchesAt(phrase, tokens, start)) {
            mask |= phrase.bit;
          }
        }
      }
    }

    return mask;
  }

  function spans(tokens: readonly string[], mask: number): Array<[number, number]> {
    const found: Array<[number, number]> = [];

    tokens.forEach((token, start) => {
      for (const candidates of [exact.get(token), prefixedAt(token)]) {
        for (const phrase of candidates ?? []) {
          if ((mask & phrase.bit) !== 0 && phraseMatchesAt(phrase, tokens, start)) {
            found.push([start, start + phrase.words.length]);
          }
        }
      }
    });

    return found;
  }

  return { bits, match, spans };
}
