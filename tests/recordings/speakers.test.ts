import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatTranscript } from '../../activities/recordings/speakers.js';
import type { SpeakerUtterance } from '../../activities/recordings/speakers.js';
import { parseTranscript } from '../../scoring/transcript.js';

function lines(text: string): string[] {
  return text.split('\n');
}

describe('formatTranscript', () => {
  test('makes the speaker who introduces themselves as the rep the agent, even speaking second', () => {
    const utterances: SpeakerUtterance[] = [
      { speaker: 'A', text: 'Hello?' },
      { speaker: 'B', text: "Hi, my name is Jane, I'm calling from Closermode." },
      { speaker: 'A', text: 'Oh, okay.' },
    ];
    const formatted = formatTranscript(utterances, { repName: 'Jane Smith' });

    assert.equal(formatted.agentSpeaker, 'B');
    assert.deepEqual(lines(formatted.text), [
      'Customer: Hello?',
      "Agent: Hi, my name is Jane, I'm calling from Closermode.",
      'Customer: Oh, okay.',
    ]);
  });

  for (const introduction of [
    'This is Jane.',
    'Good morning, Jane speaking.',
    'Jane from Acme here, thanks for taking my call.',
    'Hey! Jane here.',
    "I'm Jane, the account manager.",
    'It’s José from Acme.',
  ]) {
    test(`recognises "${introduction}" as the rep introducing themselves`, () => {
      const repName = introduction.includes('José') ? 'Jose Ortega' : 'Jane';
      const formatted = formatTranscript(
        [
          { speaker: 'A', text: 'Thanks for calling.' },
          { speaker: 'B', text: introduction },
        ],
        { repName },
      );

      assert.equal(formatted.agentSpeaker, 'B');
    });
  }

  test('does not take a customer asking for the rep, or naming them, as an introduction', () => {
    const formatted = formatTranscript(
      [
        { speaker: 'A', text: 'Good afternoon, Acme sales.' },
        {
          speaker: 'B',
          text: 'Hi, is this Jane from Acme? I had a call from Jane from your team.',
        },
        { speaker: 'A', text: "She's out, I can help." },
      ],
      { repName: 'Jane' },
    );

    assert.equal(formatted.agentSpeaker, 'A');
  });

  test('does not match a longer name that starts with the rep’s', () => {
    const formatted = formatTranscript(
      [
        { speaker: 'A', text: 'Hello.' },
        { speaker: 'B', text: "This is Janet, Jane's colleague." },
      ],
      { repName: 'Jane' },
    );

    assert.equal(formatted.agentSpeaker, 'A');
  });

  test('looks for the introduction only in each speaker’s first three utterances', () => {
    const formatted = formatTranscript(
      [
        { speaker: 'A', text: 'Hi there.' },
        { speaker: 'B', text: 'Hello.' },
        { speaker: 'A', text: 'One.' },
        { speaker: 'B', text: 'Two.' },
        { speaker: 'A', text: 'Three.' },
        { speaker: 'B', text: 'Three.' },
        { speaker: 'B', text: 'By the way, this is Jane.' },
      ],
      { repName: 'Jane' },
    );

    assert.equal(formatted.agentSpeaker, 'A');
  });

  test('without a rep name, the first speaker is the agent', () => {
    const formatted = formatTranscript([
      { speaker: 'B', text: 'Hi, this is Sam from Closermode.' },
      { speaker: 'A', text: 'Hi Sam.' },
    ]);

    assert.equal(formatted.agentSpeaker, 'B');
    assert.deepEqual(lines(formatted.text), [
      'Agent: Hi, this is Sam from Closermode.',
      'Customer: Hi Sam.',
    ]);
  });

  test('with a rep name nobody says, the first speaker is the agent', () => {
    const formatted = formatTranscript(
      [
        { speaker: 'A', text: 'Hello, Closermode.' },
        { speaker: 'B', text: 'Hi.' },
      ],
      { repName: 'Priya' },
    );

    assert.equal(formatted.agentSpeaker, 'A');
  });

  test('labels a third speaker by its own label and merges consecutive utterances', () => {
    const formatted = formatTranscript([
      { speaker: 'A', text: 'Hi, this is Jane.' },
      { speaker: 'A', text: '  Do you have   a minute? ' },
      { speaker: 'B', text: 'Let me get my manager.' },
      { speaker: 'C', text: 'Hi, I run purchasing.' },
      { speaker: 'C', text: 'Go ahead.' },
      { speaker: 'B', text: '' },
      { speaker: 'A', text: 'Great, thanks.' },
    ]);

    assert.deepEqual(lines(formatted.text), [
      'Agent: Hi, this is Jane. Do you have a minute?',
      'Customer: Let me get my manager.',
      'Speaker C: Hi, I run purchasing. Go ahead.',
      'Agent: Great, thanks.',
    ]);
  });

  test('produces lines the transcript parser reads as agent and customer turns', () => {
    const formatted = formatTranscript([
      { speaker: 'A', text: 'Hi, this is Jane.' },
      { speaker: 'B', text: 'Hello.' },
    ]);

    assert.deepEqual(
      parseTranscript(formatted.text).map((turn) => turn.speaker),
      ['agent', 'customer'],
    );
  });

  test('returns an empty transcript and no agent for no utterances', () => {
    assert.deepEqual(formatTranscript([]), { text: '', agentSpeaker: null });
  });
});
