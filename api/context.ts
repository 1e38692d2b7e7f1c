import type { DefaultContext, DefaultState, ParameterizedContext } from 'koa';
import type { Logger } from '../core/logger.js';
import type { Integration } from '../db/schema.js';

/** What middleware leaves on `ctx.state` for the handlers after it. */
export type AppState = DefaultState & {
  requestId: string;
  log: Logger;
  /** Set on routes whose error bodies the public contract fixes: `{ "error": "…" }` and nothing else. */
  contractErrors?: boolean;
  /** Set by admin authentication. */
  workspaceId?: string;
  adminKeyId?: string;
  /** Set by webhook authentication. */
  integration?: Integration;
};

export type AppContext = ParameterizedContext<AppState, DefaultContext>;
