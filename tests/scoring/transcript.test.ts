import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { countQuestions, countWords, parseTranscript } from '../../scoring/transcript.js';

describe('parseTranscript', () => {
  test('splits labelled lines into turns that remember their first line', () => {
    const turns = parseTranscript('Agent: Hello there.\nCustomer: Hi.\nAgent: How are you?');

    assert.deepEqual(turns, [
      { speaker: 'agent', text: 'Hello there.', line: 0 },
      { speaker: 'customer', text: 'Hi.', line: 1 },
      { speaker: 'agent', text: 'How are you?', line: 2 },
    ]);
  });

  test('merges consecutive lines of the same speaker into one turn', () => {
    const turns = parseTranscript('Agent: One.\nAgent: Two.\nCustomer: Three.\nCustomer: Four.');

    assert.deepEqual(turns, [
      { speaker: 'agent', text: 'One. Two.', line: 0 },
      { speaker: 'customer', text: 'Three. Four.', line: 2 },
    ]);
  });

  test('appends an unlabelled line to the turn before it', () => {
    const turns = parseTranscript(
      'Customer: We use spreadsheets\nand a whiteboard.\nAgent: I see.',
    );

    assert.deepEqual(turns, [
      { speaker: 'customer', text: 'We use spreadsheets and a whiteboard.', line: 0 },
      { speaker: 'agent', text: 'I see.', line: 2 },
    ]);
  });

  test('puts unlabelled lines before the first label into an unknown turn', () => {
    const turns = parseTranscript('Recording started.\nAgent: Hi.');

    assert.deepEqual(turns, [
      { speaker: 'unknown', text: 'Recording started.', line: 0 },
      { speaker: 'agent', text: 'Hi.', line: 1 },
    ]);
  });

  test('accepts CRLF and CR line endings and keeps line numbers of blank lines', () => {
    const turns = parseTranscript('Agent: Hi.\r\n\r\nCustomer: Hello.\rAgent: Bye.');

    assert.deepEqual(
      turns.map((turn) => [turn.speaker, turn.line, turn.text]),
      [
        ['agent', 0, 'Hi.'],
        ['customer', 2, 'Hello.'],
        ['agent', 3, 'Bye.'],
      ],
    );
  });

  test('recognises label synonyms case-insensitively', () => {
    const turns = parseTranscript('REP: a\nProspect: b\nsales rep: c\nBuyer: d');

    assert.deepEqual(
      turns.map((turn) => turn.speaker),
      ['agent', 'customer', 'agent', 'customer'],
    );
  });

  test('keeps two different unrecognised labels as two turns', () => {
    const turns = parseTranscript('Speaker 1: Hello.\nSpeaker 2: Hi there.\nSpeaker 2: Go on.');

    assert.deepEqual(turns, [
      { speaker: 'unknown', text: 'Hello.', line: 0 },
      { speaker: 'unknown', text: 'Hi there. Go on.', line: 1 },
    ]);
  });

  test('does not mistake a clock time or a URL at the start of a line for a label', () => {
    const turns = parseTranscript(
      'Customer: Thursday then.\n3:30 works for me.\nhttps://example.com has it.',
    );

    assert.deepEqual(turns, [
      {
        speaker: 'customer',
        text: 'Thursday then. 3:30 works for me. https://example.com has it.',
        line: 0,
      },
    ]);
  });

  test('does not mistake a sentence with a colon for a label', () => {
    const turns = parseTranscript('Agent: Here is the thing.\nthe plan is: we start small.');

    assert.deepEqual(turns, [
      { speaker: 'agent', text: 'Here is the thing. the plan is: we start small.', line: 0 },
    ]);
  });

  test('returns no turns for an empty or blank transcript', () => {
    assert.deepEqual(parseTranscript(''), []);
    assert.deepEqual(parseTranscript('\n  \r\n\t\n'), []);
  });
});

describe('countWords', () => {
  test('counts runs of letters and digits, keeping inner apostrophes and hyphens', () => {
    assert.equal(countWords("We can't follow-up on 20 leads."), 6);
  });

  test('counts words in any script', () => {
    assert.equal(countWords('Größe überprüfen, ¿qué tal? Привет мир'), 6);
  });

  test('counts nothing in punctuation alone', () => {
    assert.equal(countWords('… — !?'), 0);
  });
});

describe('countQuestions', () => {
  test('counts each run of question marks once, in ASCII, full-width and Arabic forms', () => {
    assert.equal(countQuestions('Really?? Why？ كيف؟ Fine.'), 3);
  });
});
