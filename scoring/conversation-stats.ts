import { countQuestions, countWords, parseTranscript } from './transcript.js';

/** Talk statistics of one call, computed from its transcript's `Agent:` / `Customer:` turns. */
export type ConversationStats = {
  /** Words spoken in all turns, including turns whose speaker is unknown. */
  totalWords: number;
  agentWords: number;
  customerWords: number;
  /** The agent's share of the words spoken by agent and customer together, from 0 to 1. */
  agentTalkShare: number;
  /** The customer's share of the words spoken by agent and customer together, from 0 to 1. */
  customerTalkShare: number;
  /** Speaker changes plus one: consecutive lines of one speaker are one turn. */
  turnCount: number;
  agentTurns: number;
  customerTurns: number;
  agentQuestions: number;
  customerQuestions: number;
  /** The longest agent turn, in words. */
  longestAgentMonologueWords: number;
};

function share(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000;
}

export function computeConversationStats(transcript: string): ConversationStats {
  let totalWords = 0;
  let agentWords = 0;
  let customerWords = 0;
  let agentTurns = 0;
  let customerTurns = 0;
  let agentQuestions = 0;
  let customerQuestions = 0;
  let longestAgentMonologueWords = 0;

  const turns = parseTranscript(transcript);

  for (const turn of turns) {
    const words = countWords(turn.text);
    totalWords += words;

    if (turn.speaker === 'agent') {
      agentWords += words;
      agentTurns += 1;
      agentQuestions += countQuestions(turn.text);
      longestAgentMonologueWords = Math.max(longestAgentMonologueWords, words);
    } else if (turn.speaker === 'customer') {
      customerWords += words;
      customerTurns += 1;
      customerQuestions += countQuestions(turn.text);
    }
  }

  const spoken = agentWords + customerWords;

  return {
    totalWords,
    agentWords,
    customerWords,
    agentTalkShare: share(agentWords, spoken),
    customerTalkShare: share(customerWords, spoken),
    turnCount: turns.length,
    agentTurns,
    customerTurns,
    agentQuestions,
    customerQuestions,
    longestAgentMonologueWords,
  };
}
