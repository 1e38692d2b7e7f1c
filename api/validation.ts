import { z } from 'zod';
import { isUuid } from '../db/queries/integrations.js';
import { AppError } from './errors.js';

/** An id in a query string: anything but a UUID is a 400 that says so. */
export const uuidParam = z.string().refine(isUuid, 'Must be a UUID');

/** A list's page parameters: `limit` (1 to `max`, default 50) and the `cursor` a page returned. */
export function pageQuery(max: number) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(max).default(50),
    cursor: uuidParam.optional(),
  });
}

/**
 * One page from the `limit + 1` rows a list query read: the extra row only says there is more, and
 * then the last row shown is the cursor of the next page.
 */
export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);

  return { page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

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
