import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compileKeywordLists, tokenize } from '../../scoring/keyword-matcher.js';

const matcher = compileKeywordLists({
  profanity: ['hell', 'damn'],
  pain: ['frustrat*', 'hard to', 'follow up'],
  introduction: ["it's _ from", "can't"],
});

function listsIn(text: string): string[] {
  const mask = matcher.match(tokenize(text));

  return Object.entries(matcher.bits)
    .filter(([, bit]) => (mask & bit) !== 0)
    .map(([name]) => name);
}

describe('keyword matching', () => {
  test('matches whole words only', () => {
    assert.deepEqual(listsIn('Hello, shell company'), []);
    assert.deepEqual(listsIn('What the HELL.'), ['profanity']);
  });

  test('matches any ending of a starred word but not a shorter word', () => {
    assert.deepEqual(listsIn("It's frustrating"), ['pain']);
    assert.deepEqual(listsIn('We are frustrated'), ['pain']);
    assert.deepEqual(listsIn('frust'), []);
  });

  test('matches phrases word by word, across hyphens', () => {
    assert.deepEqual(listsIn('It is hard to say'), ['pain']);
    assert.deepEqual(listsIn('Every follow-up slips'), ['pain']);
    assert.deepEqual(listsIn('It is hard, to be fair'), ['pain']);
    assert.deepEqual(listsIn('hard work'), []);
  });

  test('lets an underscore stand for exactly one word', () => {
    assert.deepEqual(listsIn("Hey, it's Rick from Fieldline"), ['introduction']);
    assert.deepEqual(listsIn("it's from us"), []);
    assert.deepEqual(listsIn("it's Rick Jones from"), []);
  });

  test('treats typographic and straight apostrophes alike', () => {
    assert.deepEqual(listsIn('We can’t keep up'), ['introduction']);
  });

  test('reports only phrases starting inside the requested word range', () => {
    const tokens = tokenize('damn it is hard to say');

    assert.equal(matcher.match(tokens, 0, 1), matcher.bits.profanity);
    assert.equal(matcher.match(tokens, 1), matcher.bits.pain);
    assert.equal(matcher.match(tokens, 4), 0);
  });

  test('reports the word ranges a list covers', () => {
    const tokens = tokenize('no, it is hard to follow up');

    assert.deepEqual(matcher.spans(tokens, matcher.bits.pain!), [
      [3, 5],
      [5, 7],
    ]);
  });

  test('refuses more lists than one mask can hold', () => {
    const lists = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`list${i}`, ['word']]));

    assert.throws(() => compileKeywordLists(lists), /at most 31 keyword lists/);
  });
});
