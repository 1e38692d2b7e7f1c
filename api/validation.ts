import type { z } from 'zod';
import { AppError } from './errors.js';

/** `<path>: <message>` for each problem, joined by `; `; a problem with the whole input is `body`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length === 0 ? 'body' : issue.path.map(String).join('.');

      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses a management request's body or query with zod; a failure is a 400 naming each field. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new AppError('invalid_request', `Invalid request: ${describeIssues(parsed.error)}`);
  }

  return parsed.data;
}
