import { z } from 'zod';

/**
 * The built-in sales rubric as data: criteria, weights and keyword lists. The rules that combine them
 * live in `builtin-scorer.ts`; a workspace changes the data through `mergeRubric`, never the rules.
 *
 * Keywords are matched case-insensitively against whole words of a transcript line. A keyword may be
 * a phrase ("next step"); a word ending in `*` matches any ending of at least its first three
 * letters ("frustrat*" matches "frustrated" and "frustrating"); a `_` word, anywhere but first,
 * stands for any one word ("it's _ from" matches "it's Rick from"). Hyphens split words, so
 * "follow-up" and "follow up" are the same keyword.
 *
 * The default lists are English. Calls in other languages score through the LLM scorer or through
 * an override that replaces the lists (and `language.commonWords`) with that language's words.
 */

/** The criteria every rubric has, in the order scorecards list them. */
export const criterionKeys = [
  'opening',
  'discovery',
  'listening',
  'value',
  'objectionHandling',
  'nextSteps',
  'professionalism',
] as const;

export type CriterionKey = (typeof criterionKeys)[number];

const keywordSchema = z
  .string()
  .trim()
  .min(1, 'keyword must not be empty')
  .max(80, 'keyword must be at most 80 characters')
  .refine((keyword) => /[\p{L}\p{N}]/u.test(keyword), 'keyword must contain a letter or digit')
  .refine(
    (keyword) => keyword.split(/\s+/).every((word) => /^[^*]*$|^[^*]{3,}\*$/u.test(word)),
    'a * may only end a word, after at least three letters',
  )
  .refine(
    (keyword) => keyword.split(/\s+/)[0] !== '_',
    'a keyword cannot start with the _ placeholder',
  );

const keywordListSchema = z
  .array(keywordSchema)
  .max(500, 'a keyword list holds at most 500 entries');

const weightSchema = z
  .number({ error: 'weight must be a number' })
  .min(0, 'weight must be zero or more')
  .max(1000, 'weight must be at most 1000');

/** The keyword lists each keyword-driven criterion reads. */
const keywordListNames = {
  opening: ['greeting', 'introduction', 'purpose'],
  discovery: ['openQuestion', 'openPrompt', 'pleasantry', 'pain'],
  value: ['benefit'],
  objectionHandling: ['objection', 'acknowledgement', 'reframe'],
  nextSteps: ['nextStep', 'dateWord', 'confirmation'],
  professionalism: ['profanity', 'pressure', 'politeClose'],
} as const;

type KeywordShape<L extends readonly string[]> = Record<L[number], typeof keywordListSchema>;

function keywordsSchema<const L extends readonly string[]>(lists: L) {
  const shape = Object.fromEntries(lists.map((list) => [list, keywordListSchema]));

  return z.strictObject(shape as KeywordShape<L>);
}

function keywordCriterionSchema<const L extends readonly string[]>(lists: L) {
  return z.strictObject({
    name: z.string().min(1),
    description: z.string().min(1),
    weight: weightSchema,
    keywords: keywordsSchema(lists),
  });
}

const listeningLimitsShape = z.strictObject({
  /** Below this share of the words the agent is not steering the call. */
  minAgentTalkShare: z.number().min(0).max(1),
  /** Above this share the agent is talking at the customer rather than with them. */
  maxAgentTalkShare: z.number().min(0).max(1),
  /** An agent turn longer than this many words counts as a monologue. */
  maxMonologueWords: z.number().int().min(20).max(5000),
});

// The band check lives on the complete limits only: an override may set one end, and the merged
// rubric is checked as a whole.
const listeningLimitsSchema = listeningLimitsShape.refine(
  (limits) => limits.minAgentTalkShare <= limits.maxAgentTalkShare,
  {
    message: 'minAgentTalkShare must not exceed maxAgentTalkShare',
    path: ['minAgentTalkShare'],
  },
);

const listeningCriterionSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1),
  weight: weightSchema,
  limits: listeningLimitsSchema,
});

const languageSchema = z.strictObject({
  /** Named in explanations when a call does not read as this language. */
  name: z.string().min(1),
  /**
   * Frequent function words of the language. When fewer than `minCommonWordShare` of a call's words
   * are in this list, the keyword criteria are reported as not judged instead of scored on silence.
   * An empty list turns the check off.
   */
  commonWords: keywordListSchema,
  minCommonWordShare: z.number().min(0).max(1),
});

const criteriaSchema = z.strictObject({
  opening: keywordCriterionSchema(keywordListNames.opening),
  discovery: keywordCriterionSchema(keywordListNames.discovery),
  listening: listeningCriterionSchema,
  value: keywordCriterionSchema(keywordListNames.value),
  objectionHandling: keywordCriterionSchema(keywordListNames.objectionHandling),
  nextSteps: keywordCriterionSchema(keywordListNames.nextSteps),
  professionalism: keywordCriterionSchema(keywordListNames.professionalism),
});

/** A complete rubric. Every criterion is present; at least one weight is above zero. */
export const rubricSchema = z
  .strictObject({
    language: languageSchema,
    criteria: criteriaSchema,
  })
  .refine((rubric) => criterionKeys.some((key) => rubric.criteria[key].weight > 0), {
    message: 'at least one criterion must have a weight above zero',
    path: ['criteria'],
  });

export type Rubric = z.infer<typeof rubricSchema>;

function keywordOverrideSchema<const L extends readonly string[]>(lists: L) {
  return z
    .strictObject({ weight: weightSchema, keywords: keywordsSchema(lists).partial() })
    .partial();
}

/**
 * A workspace's partial rubric: any criterion's weight, any keyword list (a list given replaces the
 * default list whole), the listening limits and the language check. Unknown keys are rejected so a
 * misspelt field fails loudly instead of being ignored.
 */
export const rubricOverrideSchema = z
  .strictObject({
    language: languageSchema.partial(),
    criteria: z
      .strictObject({
        opening: keywordOverrideSchema(keywordListNames.opening),
        discovery: keywordOverrideSchema(keywordListNames.discovery),
        listening: z
          .strictObject({
            weight: weightSchema,
            limits: listeningLimitsShape.partial(),
          })
          .partial(),
        value: keywordOverrideSchema(keywordListNames.value),
        objectionHandling: keywordOverrideSchema(keywordListNames.objectionHandling),
        nextSteps: keywordOverrideSchema(keywordListNames.nextSteps),
        professionalism: keywordOverrideSchema(keywordListNames.professionalism),
      })
      .partial(),
  })
  .partial();

export type RubricOverride = z.input<typeof rubricOverrideSchema>;

const weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

// "May" and "march" are left out of the months on purpose: as verbs they would date half the
// sentences of a call. A numbered day ("May 3rd") is still caught by the ordinal-date pattern.
const months = [
  'january',
  'february',
  'april',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

const defaults: Rubric = {
  language: {
    name: 'English',
    commonWords: [
      'the',
      'a',
      'an',
      'and',
      'or',
      'but',
      'so',
      'if',
      'to',
      'of',
      'in',
      'on',
      'at',
      'for',
      'with',
      'from',
      'about',
      'that',
      'this',
      'it',
      "it's",
      'is',
      'are',
      'was',
      'were',
      'be',
      'been',
      'have',
      'has',
      'had',
      'do',
      'does',
      'did',
      'not',
      "don't",
      'i',
      "i'm",
      'you',
      "you're",
      'we',
      "we're",
      'they',
      'he',
      'she',
      'me',
      'my',
      'your',
      'our',
      'their',
      'what',
      'how',
      'why',
      'when',
      'which',
      'who',
      'there',
      'can',
      'could',
      'would',
      'will',
      'just',
      'yes',
      'yeah',
      'okay',
      'right',
      'like',
      'know',
      'think',
      'get',
      'got',
      'really',
      'very',
      'all',
      'some',
      'any',
      'more',
      'than',
      'then',
      'now',
      'up',
      'out',
      'as',
      'by',
      'one',
      'thanks',
      'thank',
      'great',
      'good',
      'well',
      'sure',
      'actually',
      'because',
      'going',
      'thing',
      'things',
      'something',
      'people',
      'these',
      'those',
      'where',
      'still',
      'every',
      'other',
      'being',
      'them',
      'maybe',
      'also',
      'much',
      'many',
    ],
    minCommonWordShare: 0.2,
  },
  criteria: {
    opening: {
      name: 'Opening',
      description:
        'In the first three agent turns the agent greets the customer, introduces themself and the ' +
        'company, and states the purpose of the call.',
      weight: 10,
      keywords: {
        greeting: [
          'hi',
          'hello',
          'hey',
          'good morning',
          'good afternoon',
          'good evening',
          'thanks for taking',
          'thank you for taking',
          'thanks for joining',
          'thank you for joining',
          'nice to meet',
          'great to meet',
          'good to speak',
          'nice to speak',
          'welcome',
        ],
        introduction: [
          'my name is',
          "my name's",
          'this is',
          'calling from',
          'calling on behalf',
          'here from',
          "i'm with",
          'i work with',
          'i work at',
          'i work for',
          'i lead',
          "i'm the",
          'i am the',
          "it's _ from",
          'it is _ from',
          "it's _ with",
        ],
        purpose: [
          'reason for my call',
          "reason i'm calling",
          'reason for the call',
          'purpose',
          'calling about',
          "i'm calling to",
          'calling to',
          'wanted to',
          "i'd like to",
          'agenda',
          'goal for today',
          'plan for today',
          'following up on',
          'follow up on',
          'reaching out',
          'to talk about',
          'to discuss',
          'you requested',
          'you signed up',
          'you downloaded',
          'you asked',
        ],
      },
    },
    discovery: {
      name: 'Discovery',
      description:
        'The agent asks open questions (what, how, why questions; "tell me about", "walk me ' +
        'through" prompts) and the customer names a concrete problem, challenge or struggle.',
      weight: 20,
      keywords: {
        openQuestion: ['what', "what's", 'how', "how's", 'why', 'in what way'],
        openPrompt: [
          'tell me',
          'walk me through',
          'talk me through',
          'describe',
          'help me understand',
          'explain',
        ],
        pleasantry: [
          'how are you',
          'how are you doing',
          "how's it going",
          'how is it going',
          'how are things',
          "how's your day",
          'how is your day',
          'how have you been',
          "what's up",
          'how about you',
          'how was your weekend',
          'no problem',
          'not a problem',
          'no worries',
          'no issue',
          'no issues',
        ],
        pain: [
          'problem*',
          'challeng*',
          'struggl*',
          'frustrat*',
          'pain',
          'painful',
          'issue',
          'issues',
          'difficult*',
          'headache*',
          'bottleneck*',
          'hard to',
          'takes forever',
          'too long',
          'too slow',
          'losing',
          'we lose',
          'lost',
          'lose',
          'wast*',
          'manual*',
          "can't",
          'cannot',
          'mess',
          'messy',
          'chaos',
          'chaotic',
          'broken',
          'annoying',
          'falling behind',
          'worried',
          'not working',
          "doesn't work",
          'miss',
          'missed',
          'missing',
          'slipping',
          'fall through',
          'falls through',
          'chasing',
        ],
      },
    },
    listening: {
      name: 'Listening',
      description:
        'The agent keeps their share of the words inside a healthy band, avoids long monologues and ' +
        'lets the customer finish speaking.',
      weight: 15,
      limits: { minAgentTalkShare: 0.35, maxAgentTalkShare: 0.65, maxMonologueWords: 150 },
    },
    value: {
      name: 'Value',
      description:
        'The agent describes benefits and outcomes (time or money saved, revenue, ROI), ideally tied ' +
        'to the pain the customer named and with numbers.',
      weight: 15,
      keywords: {
        benefit: [
          'save*',
          'saving*',
          'increas*',
          'reduc*',
          'cut',
          'cuts',
          'faster',
          'quicker',
          'improv*',
          'boost*',
          'grow',
          'grows',
          'growth',
          'revenue',
          'roi',
          'return on investment',
          'payback',
          'pays for itself',
          'result',
          'results',
          'outcome*',
          'efficien*',
          'productiv*',
          'automatically',
          'automates',
          'stops',
          'drops',
          'frees up',
          'free up',
          'on time',
          'no more',
          'never have to',
          'time back',
          'hours back',
          'afternoons back',
          'mornings back',
          'eliminat*',
          'so you can',
          'which means',
          'that means',
          "you'll be able",
          'less time',
          'more time',
          'fewer',
          'never miss',
        ],
      },
    },
    objectionHandling: {
      name: 'Objection handling',
      description:
        'When the customer raises an objection (price, budget, timing, a competitor, "send me info") ' +
        'the next agent turn acknowledges it and answers or explores it instead of ignoring it.',
      weight: 15,
      keywords: {
        objection: [
          'expensive',
          'pricey',
          'too much',
          'too high',
          'steep',
          'budget',
          'afford',
          'cheaper',
          'not sure',
          'not convinced',
          'not interested',
          "don't need",
          "don't think we need",
          'already use',
          'already have',
          'already using',
          'happy with',
          'competitor*',
          'not the right time',
          'bad time',
          'not a good time',
          'timing',
          'next quarter',
          'next year',
          'maybe later',
          'call me back',
          'send me info',
          'send me some info',
          'send me information',
          'send me some information',
          'just send',
          'email me',
          'need to think',
          'think about it',
          'talk to my',
          'check with my',
          'run it by',
          'too complicated',
          'no time',
          'locked in',
        ],
        acknowledgement: [
          'i understand',
          'understand',
          'understandable',
          'i hear you',
          "that's fair",
          'fair point',
          'fair enough',
          'makes sense',
          'i get that',
          'i get it',
          'good question',
          'great question',
          'i appreciate',
          'appreciate that',
          'of course',
          'totally',
          'completely',
          'absolutely',
          'valid concern',
          "you're right",
          'no problem',
          "that's reasonable",
        ],
        reframe: [
          'what if',
          'compared to',
          'compared with',
          'let me ask',
          'can i ask',
          'out of curiosity',
          'when you say',
          'what would',
          'how much',
          'cost of',
          'in terms of',
          'many of our customers',
          'most of our customers',
          'other customers',
          'our clients',
          'other teams',
          'break it down',
          'in perspective',
          "what's driving",
          'what specifically',
          'if we could',
          'would it help',
          'how about',
          'one option',
          'we could',
          'the difference',
          'worth it',
        ],
      },
    },
    nextSteps: {
      name: 'Next steps',
      description:
        'The call ends with a concrete next step (a meeting, demo, proposal, trial) agreed with the ' +
        'customer and tied to a date or time.',
      weight: 15,
      keywords: {
        nextStep: [
          'next step*',
          'follow up',
          'send over',
          'send you',
          "i'll send",
          'schedule',
          'book',
          'calendar',
          'invite',
          'set up',
          'meeting',
          'demo',
          'proposal',
          'trial',
          'pilot',
          'call you',
          'talk again',
          'speak again',
          'catch up',
          'reconnect',
          'touch base',
          'loop in',
          'get together',
          'meet',
          'onboarding',
          'kick off',
          'kickoff',
        ],
        dateWord: [
          ...weekdays,
          ...months,
          'tomorrow',
          'tonight',
          'next week',
          'this week',
          'end of the week',
          'end of day',
          'noon',
          'this afternoon',
          'in the morning',
          "o'clock",
        ],
        confirmation: [
          'works',
          'that works',
          'sounds good',
          'sounds great',
          'perfect',
          'great',
          'yes',
          'yeah',
          'yep',
          'sure',
          'okay',
          'ok',
          'deal',
          'see you',
          'looking forward',
          'talk then',
          "that's fine",
          'fine',
          "let's do it",
          'book it',
          'send it',
          'confirmed',
        ],
      },
    },
    professionalism: {
      name: 'Professionalism',
      description:
        'The agent uses no profanity or insults, applies no high-pressure tactics ("today only") and ' +
        'closes the call politely.',
      weight: 10,
      keywords: {
        profanity: [
          'damn',
          'hell',
          'crap',
          'shit*',
          'fuck*',
          'bullshit',
          'bastard',
          'ass',
          'asshole',
          'bitch*',
          'piss*',
          'stupid',
          'idiot*',
          'dumb',
          'shut up',
          'wtf',
          'moron*',
        ],
        pressure: [
          'today only',
          'only today',
          'limited time',
          'act now',
          'act fast',
          'last chance',
          "won't last",
          'sign today',
          'sign now',
          'sign right now',
          'expires today',
          'ends today',
          'offer ends',
          'final offer',
          "don't miss out",
          "you'd be crazy",
          'need an answer now',
          'need an answer today',
          'decide now',
          'decide today',
          'before it is gone',
          "before it's gone",
          'only a few left',
          "what's stopping you",
          'no brainer',
          'everyone else is',
          'right now or',
        ],
        politeClose: [
          'thank you',
          'thanks',
          'appreciate your time',
          'appreciate it',
          'have a great',
          'have a good',
          'have a nice',
          'take care',
          'bye',
          'goodbye',
          'talk soon',
          'speak soon',
          'enjoy your',
          'cheers',
        ],
      },
    },
  },
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }

  return value;
}

/** The built-in English rubric. Frozen: derive a workspace rubric with `mergeRubric`. */
export const defaultRubric: Rubric = deepFreeze(rubricSchema.parse(defaults));

/** The rubric a workspace scores with: the defaults, with its stored override applied if it has one. */
export function rubricFor(override: unknown): Rubric {
  return override ? mergeRubric(defaultRubric, override) : defaultRubric;
}

/**
 * Applies a workspace's partial override to a rubric and validates the result. A keyword list in
 * the override replaces the list it names; everything not named is kept from `base`.
 *
 * @throws {z.ZodError} when the override has unknown keys or bad values, or leaves every weight at 0.
 */
export function mergeRubric(base: Rubric, override: unknown): Rubric {
  const patch = rubricOverrideSchema.parse(override ?? {});
  const merged = structuredClone(base) as Rubric;

  Object.assign(merged.language, patch.language ?? {});

  for (const key of criterionKeys) {
    const criterionPatch = patch.criteria?.[key];
    if (criterionPatch === undefined) {
      continue;
    }

    const target = merged.criteria[key];
    if (criterionPatch.weight !== undefined) {
      target.weight = criterionPatch.weight;
    }
    if ('limits' in criterionPatch && 'limits' in target) {
      Object.assign(target.limits, criterionPatch.limits ?? {});
    }
    if ('keywords' in criterionPatch && 'keywords' in target) {
      Object.assign(target.keywords, criterionPatch.keywords ?? {});
    }
  }

  return rubricSchema.parse(merged);
}
