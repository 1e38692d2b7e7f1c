import { z } from 'zod';
import { describeIssues } from './validation.js';

const maxMetadataBytes = 64 * 1024;

/** Zod's messages for an absent or mistyped field, worded as the webhook contract words them. */
function typeError(expected: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? 'Required' : `Expected ${expected}`;
}

// PostgreSQL text cannot hold U+0000; refusing it here gives a clear 400 instead of a failed insert.
const text = () =>
  z
    .string({ error: typeError('a string') })
    .refine((value) => !value.includes('\u0000'), 'Must not contain NUL characters');

/** Optional fields accept `null` as "not sent": many dialers serialise absent values that way. */
function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? undefined);
}

export const webhookPayloadSchema = z.object({
  externalId: text()
    .refine((value) => value.trim() !== '', 'Must not be empty')
    .refine((value) => value.length <= 255, 'Must be at most 255 characters'),
  repName: optional(text()),
  callerPhone: optional(
    text().regex(/^\+[1-9]\d{1,14}$/, 'Must be an E.164 phone number such as +15551234567'),
  ),
  duration: optional(
    z
      .number({ error: typeError('a number of seconds') })
      .finite()
      .nonnegative('Must not be negative'),
  ),
  callDate: optional(
    z.iso.datetime({
      offset: true,
      error: (issue) =>
        issue.input === undefined
          ? 'Required'
          : 'Must be an ISO 8601 date-time with a time zone, such as 2026-04-24T10:00:00Z',
    }),
  ),
  recordingUrl: optional(
    z.url({
      protocol: /^https?$/,
      hostname: z.regexes.hostname,
      error: (issue) => (issue.input === undefined ? 'Required' : 'Must be an http or https URL'),
    }),
  ),
  transcript: optional(text()),
  metadata: optional(
    z
      .record(z.string(), z.json(), { error: typeError('a JSON object') })
      .refine(
        (value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= maxMetadataBytes,
        `Must be at most ${maxMetadataBytes / 1024} KiB when serialised`,
      ),
  ),
});

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/** `<path>: <message>` for each problem, joined by `; `, after the contract's `Invalid payload: `. */
export function describePayloadError(error: z.ZodError): string {
  return `Invalid payload: ${describeIssues(error)}`;
}
