import type { z } from 'zod';
import { AppError } from './errors.js';

/** Parses a management request's body or query with zod; a failure is a 400 naming each field. */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = issue.path.length === 0 ? 'body' : issue.path.map(String).join('.');

      return `${where}: ${issue.message}`;
    });
    throw new AppError('invalid_request', `Invalid request: ${problems.join('; ')}`);
  }

  return parsed.data;
}
