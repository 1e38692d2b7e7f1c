import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';

import { scoreWithBuiltinRubric, type ScoreOptions } from './builtin-scorer.js';
import { computeConversationStats, type ConversationStats } from './conversation-stats.js';
import { criterionKeys, defaultRubric, type Rubric } from './rubric.js';
import {
  llmScorecardSchema,
  quoteForEvidence,
  scorecardSchema,
  weightedOverall,
  type CriterionScore,
  type Evidence,
  type LlmScorecard,
  type Scorecard,
} from './scorecard.js';
import { parseTranscript, type Speaker } from './transcript.js';

/** The version of the prompt and the post-processing rules; bump it when either changes. */
export const LLM_SCORER_VERSION = '1.0.0';

/** About a 12k-token context budget for the transcript part of the prompt. */
export const defaultMaxTranscriptChars = 48_000;

/** Share of the transcript budget kept from the start of the call; the rest comes from its end. */
export const transcriptHeadShare = 0.4;

const configSchema = z.object({
  /** The API root including its version path, as the OpenAI SDK takes it: `https://host/v1`. */
  baseUrl: z.url({ error: 'baseUrl must be an absolute URL' }),
  model: z.string().min(1, 'model must not be empty'),
  apiKey: z.string().min(1).optional(),
  maxAttempts: z.number().int().min(1).max(10).default(3),
  timeoutMs: z.number().int().positive().default(120_000),
  maxTranscriptChars: z.number().int().min(1_000).default(defaultMaxTranscriptChars),
  retryDelayMs: z.number().int().min(0).default(1_000),
  onRequestFailure: z.enum(['fallback', 'throw']).default('fallback'),
});

/** How the LLM scorer reaches an OpenAI-compatible chat completions API. */
export type LlmScorerConfig = {
  /** The API root including its version path, as the OpenAI SDK takes it: `http://host/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer`; no Authorization header is sent without one. */
  apiKey?: string;
  /** Requests per call in total, across invalid replies and failed requests. Default 3. */
  maxAttempts?: number;
  /** Per request. Default 120 s. */
  timeoutMs?: number;
  /** The transcript budget of the prompt, in characters; longer calls are trimmed. Default 48,000. */
  maxTranscriptChars?: number;
  /** The first pause before retrying a failed request; it doubles on each retry. Default 1 s. */
  retryDelayMs?: number;
  /**
   * What to do when requests fail (network, timeout, HTTP errors) rather than the model answering
   * badly. `fallback` (default) scores with the built-in rubric and sets `fallbackReason`; `throw`
   * raises an `LlmScorerError`, for callers such as a Temporal activity whose own retry policy
   * should decide. Invalid model output always falls back.
   */
  onRequestFailure?: 'fallback' | 'throw';
  /** The workspace rubric used when a call passes none. */
  rubric?: Rubric;
  /** Replaces the global `fetch`, e.g. to route through a proxy. */
  fetch?: typeof fetch;
};

/**
 * Why the LLM scorer could not produce a scorecard.
 * - `transport`: the network, a timeout, a 408/409/429 or a 5xx; trying again later may work.
 * - `rejected`: the API refused the request (bad key, unknown model); retrying will not help.
 * - `invalid_output`: the model kept answering with JSON that is not a valid scorecard.
 */
export type LlmScorerErrorCode = 'transport' | 'rejected' | 'invalid_output';

/** Thrown by the LLM scorer only when `onRequestFailure` is `throw`. */
export class LlmScorerError extends Error {
  override readonly name = 'LlmScorerError';

  constructor(
    readonly code: LlmScorerErrorCode,
    message: string,
    /** Requests made before giving up. */
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether a later retry of the whole call could succeed. */
  get retryable(): boolean {
    return this.code === 'transport';
  }
}

/** A transcript as it goes into the prompt. */
export type PromptTranscript = {
  /** Numbered lines (`L12 Agent: …`), with one marker line where lines were left out. */
  text: string;
  /** Indices of the original lines the model was shown, and so may cite as evidence. */
  sentLines: ReadonlySet<number>;
  /** Non-blank lines left out by trimming. */
  omittedLines: number;
};

function cutToLength(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(0, maxChars - 1))}…`;
}

/**
 * Renders a transcript for the prompt, trimming it to `maxChars`.
 *
 * Every non-blank line is sent as `L<n> <line>`, `n` being its zero-based index in the original
 * transcript, so evidence the model cites maps back to the original line. When the rendered lines
 * exceed `maxChars`, whole lines are kept from the start until 40% of the budget is used and from
 * the end until the remaining 60% is used, and a marker line `[… N lines omitted …]` replaces the
 * middle (the marker itself is not counted). Calls open with the introduction and close with
 * objections and next steps, which is why the end gets the larger share. A first or last line that
 * alone exceeds its share is cut to the share and ends with `…`.
 */
export function renderTranscriptForPrompt(transcript: string, maxChars: number): PromptTranscript {
  const numbered = transcript
    .split(/\r\n|\r|\n/)
    .map((line, index) => ({ index, text: `L${index} ${line.trim()}` }))
    .filter((line) => line.text.length > `L${line.index} `.length);
  const total = numbered.reduce((sum, line) => sum + line.text.length + 1, 0);

  if (total <= maxChars) {
    return {
      text: numbered.map((line) => line.text).join('\n'),
      sentLines: new Set(numbered.map((line) => line.index)),
      omittedLines: 0,
    };
  }

  const headBudget = Math.floor(maxChars * transcriptHeadShare);
  const tailBudget = maxChars - headBudget;
  const head: typeof numbered = [];
  const tail: typeof numbered = [];
  let used = 0;

  for (const line of numbered) {
    if (used + line.text.length + 1 > headBudget) {
      break;
    }
    head.push(line);
    used += line.text.length + 1;
  }

  used = 0;
  for (let position = numbered.length - 1; position >= head.length; position -= 1) {
    const line = numbered[position]!;
    if (used + line.text.length + 1 > tailBudget) {
      break;
    }
    tail.unshift(line);
    used += line.text.length + 1;
  }

  const first = numbered[0];
  if (head.length === 0 && first) {
    head.push({ index: first.index, text: cutToLength(first.text, headBudget - 1) });
  }
  const last = numbered.at(-1);
  if (tail.length === 0 && last && last !== first) {
    tail.push({ index: last.index, text: cutToLength(last.text, tailBudget - 1) });
  }

  const omittedLines = numbered.length - head.length - tail.length;
  const marker = omittedLines > 0 ? [`[… ${omittedLines} lines omitted …]`] : [];

  return {
    text: [...head.map((line) => line.text), ...marker, ...tail.map((line) => line.text)].join(
      '\n',
    ),
    sentLines: new Set([...head, ...tail].map((line) => line.index)),
    omittedLines,
  };
}

function describeCriteria(rubric: Rubric): string {
  return criterionKeys
    .map((key) => {
      const criterion = rubric.criteria[key];
      let description = criterion.description;
      if (key === 'listening') {
        const { limits } = rubric.criteria.listening;
        description +=
          ` A healthy agent share of the words is ${Math.round(limits.minAgentTalkShare * 100)}–` +
          `${Math.round(limits.maxAgentTalkShare * 100)}%; an agent turn over ` +
          `${limits.maxMonologueWords} words is a monologue.`;
      }

      return `- "${key}" (${criterion.name}, weight ${criterion.weight}): ${description}`;
    })
    .join('\n');
}

/** The system prompt: the scorecard JSON shape and the rubric's criteria. */
export function buildSystemPrompt(rubric: Rubric): string {
  return [
    'You score recorded sales calls for sales managers. You receive a transcript whose lines are',
    'numbered L<n> (zero-based) and talk statistics computed from it. Score the agent, not the customer.',
    '',
    'Score each of these criteria from 0 (absent or done badly) to 100 (done very well):',
    describeCriteria(rubric),
    '',
    'Reply with one JSON object and nothing else, in exactly this shape:',
    '{',
    '  "overall": <integer 0-100, the weighted mean of the criteria scores>,',
    '  "criteria": [',
    '    {',
    '      "key": "<criterion key from the list above>",',
    '      "name": "<criterion name>",',
    '      "score": <number 0-100>,',
    '      "weight": <the weight given above>,',
    '      "explanation": "<one line a sales manager would trust, citing line numbers>",',
    '      "evidence": [{ "line": <n of an L<n> line>, "speaker": "agent" | "customer" | "unknown", "text": "<exact quote from that line>" }]',
    '    }',
    '  ],',
    '  "summary": "<two or three sentences about the call>",',
    '  "strengths": ["<what the agent did well>"],',
    '  "improvements": ["<advice to the agent, phrased as an instruction>"]',
    '}',
    '',
    'Rules: include every criterion key exactly once. Evidence lines must be numbers of lines shown',
    'in the transcript; quote them exactly, at most 200 characters each, at most 5 per criterion.',
    'Explanations are a single line. A criterion that did not come up in the call (for example no',
    'objection was raised) gets a neutral 50 and an explanation that says so. Write in English',
    'whatever the language of the call.',
  ].join('\n');
}

function buildUserMessage(prompt: PromptTranscript, stats: ConversationStats): string {
  const trimmed =
    prompt.omittedLines > 0
      ? ` The middle of the call was left out to fit the budget (${prompt.omittedLines} lines); do not cite those lines.`
      : '';

  return [
    `Talk statistics: ${JSON.stringify(stats)}`,
    '',
    `Transcript (${prompt.sentLines.size} lines shown).${trimmed}`,
    prompt.text,
  ].join('\n');
}

type LineInfo = { speaker: Speaker; text: string };

// The speaker and label-free text of every non-blank original line, so evidence the model cites is
// re-attached to what the transcript really says.
function lineIndex(transcript: string): Map<number, LineInfo> {
  const rawLines = transcript.split(/\r\n|\r|\n/);
  const turns = parseTranscript(transcript);
  const lines = new Map<number, LineInfo>();

  turns.forEach((turn, position) => {
    const end = turns[position + 1]?.line ?? rawLines.length;
    for (let index = turn.line; index < end; index += 1) {
      const raw = (rawLines[index] ?? '').trim();
      if (raw !== '') {
        lines.set(index, { speaker: turn.speaker, text: parseTranscript(raw)[0]?.text ?? raw });
      }
    }
  });

  return lines;
}

function normalise(text: string): string {
  return text.replace(/\s+/g, ' ').trim().toLowerCase();
}

function formatIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
) {
  const shown = issues
    .slice(0, 3)
    .map((issue) =>
      issue.path.length > 0
        ? `${issue.path.map(String).join('.')}: ${issue.message}`
        : issue.message,
    );
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';

  return `${shown.join('; ')}${more}`;
}

type Reading = { ok: true; value: LlmScorecard } | { ok: false; problem: string };

function stripCodeFence(content: string): string {
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(content.trim());

  return fenced ? (fenced[1] ?? '') : content;
}

/** Checks a reply against the scorecard schema and against the rubric and transcript it scores. */
function readReply(
  content: string | null | undefined,
  finishReason: string | null | undefined,
  prompt: PromptTranscript,
): Reading {
  if (finishReason === 'length') {
    return { ok: false, problem: 'reply was cut off (finish_reason length); answer more briefly' };
  }
  if (!content || content.trim() === '') {
    return { ok: false, problem: 'reply was empty' };
  }

  let json: unknown;
  try {
    json = JSON.parse(stripCodeFence(content));
  } catch (error) {
    return { ok: false, problem: `reply is not valid JSON: ${(error as Error).message}` };
  }

  const parsed = llmScorecardSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, problem: formatIssues(parsed.error.issues) };
  }

  const issues: Array<{ path: PropertyKey[]; message: string }> = [];
  const seen = new Set<string>();
  parsed.data.criteria.forEach((criterion, position) => {
    if (!(criterionKeys as readonly string[]).includes(criterion.key)) {
      issues.push({
        path: ['criteria', position, 'key'],
        message: `unknown criterion "${criterion.key}"`,
      });
    } else if (seen.has(criterion.key)) {
      issues.push({
        path: ['criteria', position, 'key'],
        message: `criterion "${criterion.key}" appears twice`,
      });
    }
    seen.add(criterion.key);

    criterion.evidence.forEach((item, evidencePosition) => {
      if (!prompt.sentLines.has(item.line)) {
        issues.push({
          path: ['criteria', position, 'evidence', evidencePosition, 'line'],
          message: `line ${item.line} is not one of the L<n> lines shown`,
        });
      }
    });
  });
  for (const key of criterionKeys) {
    if (!seen.has(key)) {
      issues.push({ path: ['criteria'], message: `criterion "${key}" is missing` });
    }
  }
  return issues.length > 0
    ? { ok: false, problem: formatIssues(issues) }
    : { ok: true, value: parsed.data };
}

/**
 * Turns a validated reply into a scorecard. The rubric, not the model, decides names and weights,
 * and `overall` is recomputed locally as the weighted mean (the model's own figure is ignored), so
 * the overall always follows the workspace's weights exactly as the built-in scorer's does.
 * Evidence keeps the model's quote only when it is really part of the cited line; otherwise the
 * line itself is quoted. Speakers always come from the transcript.
 */
function toScorecard(
  reply: LlmScorecard,
  rubric: Rubric,
  transcript: string,
  stats: ConversationStats,
  model: string,
): Scorecard {
  const lines = lineIndex(transcript);
  const byKey = new Map(reply.criteria.map((criterion) => [criterion.key, criterion]));

  const criteria = criterionKeys.map((key): CriterionScore => {
    const answer = byKey.get(key)!;
    const evidence = answer.evidence.slice(0, 5).flatMap((item): Evidence[] => {
      const line = lines.get(item.line);
      if (!line) {
        return [];
      }

      const quoted = normalise(item.text);
      const text = quoted !== '' && normalise(line.text).includes(quoted) ? item.text : line.text;

      return [{ line: item.line, speaker: line.speaker, text: quoteForEvidence(text) }];
    });

    return {
      key,
      name: rubric.criteria[key].name,
      score: answer.score,
      weight: rubric.criteria[key].weight,
      explanation: answer.explanation.trim(),
      evidence,
    };
  });

  return scorecardSchema.parse({
    overall: weightedOverall(criteria),
    criteria,
    stats,
    summary: reply.summary,
    strengths: reply.strengths,
    improvements: reply.improvements,
    scorer: { name: `llm:${model}`, version: LLM_SCORER_VERSION },
  });
}

type Failure = { code: LlmScorerErrorCode; message: string; cause?: unknown };

function classifyRequestError(error: unknown): Failure {
  if (error instanceof APIConnectionTimeoutError) {
    return { code: 'transport', message: 'request timed out', cause: error };
  }
  if (error instanceof APIConnectionError) {
    return { code: 'transport', message: `connection failed: ${error.message}`, cause: error };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const retryable = error.status >= 500 || [408, 409, 429].includes(error.status);
    // The SDK's message repeats the status ("500 upstream failed"); keep only the API's words.
    const detail = error.message.replace(/^\d{3}\s*/, '');

    return {
      code: retryable ? 'transport' : 'rejected',
      message: `HTTP ${error.status}${detail ? ` (${cutToLength(detail, 160)})` : ''}`,
      cause: error,
    };
  }

  throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A scorer that asks an OpenAI-compatible model and falls back to the built-in rubric. */
export type LlmScorer = {
  readonly name: string;
  score(transcript: string, options?: ScoreOptions): Promise<Scorecard>;
};

/**
 * Creates a scorer that sends the numbered, trimmed transcript and the rubric to a chat completions
 * API (`response_format: json_object`) and validates the reply. An invalid reply is retried with
 * the problem spelled out, up to `maxAttempts` requests in total; after that, or after failed
 * requests, the built-in rubric scores the call and `fallbackReason` says why.
 *
 * @throws {z.ZodError} at creation when the configuration is invalid.
 */
export function createLlmScorer(config: LlmScorerConfig): LlmScorer {
  const settings = configSchema.parse(config);
  const defaultWorkspaceRubric = config.rubric ?? defaultRubric;
  // The SDK reads OPENAI_* variables for anything not passed, so every option it would look up is
  // given explicitly: configuration comes from the caller only.
  const client = new OpenAI({
    baseURL: settings.baseUrl,
    apiKey: settings.apiKey ?? 'none',
    organization: null,
    project: null,
    webhookSecret: null,
    logLevel: 'off',
    maxRetries: 0,
    timeout: settings.timeoutMs,
    ...(config.fetch ? { fetch: config.fetch } : {}),
    ...(settings.apiKey ? {} : { defaultHeaders: { Authorization: null } }),
  });
  const name = `llm:${settings.model}`;

  async function score(transcript: string, options: ScoreOptions = {}): Promise<Scorecard> {
    const rubric = options.rubric ?? defaultWorkspaceRubric;
    const fallback = (reason: string) => ({
      ...scoreWithBuiltinRubric(transcript, { ...options, rubric }),
      fallbackReason: reason,
    });

    const prompt = renderTranscriptForPrompt(transcript, settings.maxTranscriptChars);
    if (prompt.sentLines.size === 0) {
      return fallback('transcript is empty; nothing to send to the llm');
    }

    const stats = computeConversationStats(transcript);
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: buildSystemPrompt(rubric) },
      { role: 'user', content: buildUserMessage(prompt, stats) },
    ];
    let lastProblem: Failure | undefined;
    let requestFailures = 0;
    let attempts = 0;

    for (let attempt = 1; attempt <= settings.maxAttempts; attempt += 1) {
      attempts = attempt;
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await client.chat.completions.create({
          model: settings.model,
          messages,
          response_format: { type: 'json_object' },
          temperature: 0,
        });
      } catch (error) {
        lastProblem = classifyRequestError(error);
        requestFailures += 1;
        if (lastProblem.code === 'rejected') {
          break;
        }
        if (attempt < settings.maxAttempts) {
          await sleep(settings.retryDelayMs * 2 ** (requestFailures - 1));
        }
        continue;
      }

      const choice = completion.choices[0];
      const content = choice?.message.content;
      const reading = readReply(content, choice?.finish_reason, prompt);
      if (reading.ok) {
        return toScorecard(reading.value, rubric, transcript, stats, settings.model);
      }

      lastProblem = { code: 'invalid_output', message: reading.problem };
      // The model sees its own reply and what was wrong with it, which fixes most slips in one go.
      messages.push(
        { role: 'assistant', content: cutToLength(content ?? '', 4_000) },
        {
          role: 'user',
          content: `That reply is not a valid scorecard: ${reading.problem}. Reply again with only the corrected JSON object.`,
        },
      );
    }

    const problem = lastProblem ?? { code: 'invalid_output' as const, message: 'no reply' };
    const tries = `${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}`;
    const reason =
      problem.code === 'invalid_output'
        ? `llm output invalid after ${tries}: ${problem.message}`
        : problem.code === 'rejected'
          ? `llm request rejected: ${problem.message}`
          : `llm request failed after ${tries}: ${problem.message}`;

    if (problem.code !== 'invalid_output' && settings.onRequestFailure === 'throw') {
      throw new LlmScorerError(problem.code, reason, attempts, { cause: problem.cause });
    }

    return fallback(reason);
  }

  return { name, score };
}
