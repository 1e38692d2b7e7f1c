import Router from '@koa/router';
import { sql } from 'kysely';
import type { Database } from '../../db/database.js';
import type { AppState } from '../context.js';

export type HealthRouteDeps = {
  db: Database;
  /** Resolves when Temporal answers; rejects otherwise. */
  checkTemporal: () => Promise<void>;
};

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<'ok' | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });

  try {
    await Promise.race([check(), timeout]);

    return 'ok';
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process is up. `/readyz`: it can do its work (database and Temporal answer). */
export function healthRoutes({ db, checkTemporal }: HealthRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const [database, temporal] = await Promise.all([
      probe(() => sql`select 1`.execute(db), 2_000),
      // Longer than the Temporal check's own 1.5 s deadline, so the call has ended when we answer.
      probe(checkTemporal, 2_500),
    ]);
    const ready = database === 'ok' && temporal === 'ok';

    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks: { database, temporal } };
  });

  return router;
}
