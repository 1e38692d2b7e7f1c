import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { computeConversationStats } from '../../scoring/conversation-stats.js';

const smallCall = [
  'Agent: Hi Sam, thanks for joining. How is the quarter going?',
  'Customer: Busy. We are behind on renewals.',
  'Agent: What is slowing renewals down? Is it the handover?',
  'Agent: Or is it pricing?',
  'Customer: Mostly the handover.',
  'Customer: And pricing, sometimes? I am not sure.',
].join('\n');

describe('computeConversationStats', () => {
  test('computes exact word counts, talk shares, turns and questions of a small call', () => {
    assert.deepEqual(computeConversationStats(smallCall), {
      totalWords: 39,
      agentWords: 23,
      customerWords: 16,
      agentTalkShare: 0.5897,
      customerTalkShare: 0.4103,
      turnCount: 4,
      agentTurns: 2,
      customerTurns: 2,
      agentQuestions: 4,
      customerQuestions: 1,
      longestAgentMonologueWords: 13,
    });
  });

  test('measures the longest monologue over merged consecutive agent lines', () => {
    const stats = computeConversationStats(
      'Agent: one two three\nAgent: four five\nCustomer: ok\nAgent: six seven eight nine',
    );

    assert.equal(stats.longestAgentMonologueWords, 5);
    assert.equal(stats.agentTurns, 2);
    assert.equal(stats.turnCount, 3);
  });

  test('counts unlabelled continuation lines toward the speaker before them', () => {
    const stats = computeConversationStats(
      'Customer: We lose leads\nevery single week.\nAgent: Why?',
    );

    assert.equal(stats.customerWords, 6);
    assert.equal(stats.agentWords, 1);
    assert.equal(stats.customerTurns, 1);
  });

  test('counts unknown speakers in total words but in neither talk share', () => {
    const stats = computeConversationStats(
      'Recorded on 2024-05-01.\nAgent: Hello there.\nCustomer: Hi.',
    );

    assert.equal(stats.totalWords, 6);
    assert.equal(stats.agentWords, 2);
    assert.equal(stats.customerWords, 1);
    assert.equal(stats.agentTalkShare, 0.6667);
    assert.equal(stats.customerTalkShare, 0.3333);
    assert.equal(stats.turnCount, 3);
  });

  test('gives the same figures for CRLF line endings', () => {
    assert.deepEqual(
      computeConversationStats(smallCall.replaceAll('\n', '\r\n')),
      computeConversationStats(smallCall),
    );
  });

  test('counts words in non-Latin scripts', () => {
    const stats = computeConversationStats('Agent: Größe überprüfen?\nCustomer: Да, конечно.');

    assert.equal(stats.agentWords, 2);
    assert.equal(stats.customerWords, 2);
    assert.equal(stats.agentQuestions, 1);
    assert.equal(stats.agentTalkShare, 0.5);
  });

  test('gives an all-agent call a talk share of 1 and no customer turns', () => {
    const stats = computeConversationStats('Agent: Hi, this is Jamie.\nAgent: Call me back.');

    assert.equal(stats.agentTalkShare, 1);
    assert.equal(stats.customerTalkShare, 0);
    assert.equal(stats.customerTurns, 0);
    assert.equal(stats.turnCount, 1);
  });

  test('returns zeros, not NaN, for an empty transcript', () => {
    const stats = computeConversationStats('');

    assert.ok(Object.values(stats).every((value) => value === 0));
  });
});
