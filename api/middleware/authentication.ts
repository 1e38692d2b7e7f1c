import type { Middleware } from 'koa';
import { hashSecret, secretMatchesHash } from '../../core/secrets.js';
import type { Database } from '../../db/database.js';
import { findIntegrationByToken } from '../../db/queries/integrations.js';
import { findAdminKeyByHash } from '../../db/queries/workspaces.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { isAddressAllowed } from '../ip-allowlist.js';

// The scheme is case-insensitive (RFC 9110 §11.1) and one or more spaces may follow it.
const bearerPattern = /^\s*bearer +([^\s]+)\s*$/i;

/** The credentials of an `Authorization: Bearer …` header, or undefined if there are none. */
export function bearerToken(header: string | undefined): string | undefined {
  return bearerPattern.exec(header ?? '')?.[1];
}

// Compared against when the token matches no integration, so both paths do the same hashing work.
const placeholderHash = hashSecret('no integration has this key');

/**
 * The webhook's three layers, in order: the path token names a live integration, the Bearer key
 * matches its stored hash, and the client address is in its allowlist (if it has one).
 */
export function authenticateIntegration(db: Database): Middleware<AppState> {
  return async (ctx, next) => {
    const token = (ctx as unknown as { params: { token: string } }).params.token;
    const integration = await findIntegrationByToken(db, token);
    const presented = bearerToken(ctx.get('authorization'));
    const keyMatches = secretMatchesHash(presented ?? '', integration?.api_key_hash ?? placeholderHash);

    if (!integration || !integration.enabled || presented === undefined || !keyMatches) {
      throw new AppError('unauthorized');
    }
    if (!isAddressAllowed(ctx.ip, integration.ip_allowlist)) {
      ctx.state.log.warn({ integrationId: integration.id }, 'webhook refused by ip allowlist');
      throw new AppError('forbidden');
    }

    ctx.state.integration = integration;
    await next();
  };
}

/** Management routes: a workspace admin key (`cm_admin_…`) as Bearer token. */
export function authenticateAdmin(db: Database): Middleware<AppState> {
  return async (ctx, next) => {
    const presented = bearerToken(ctx.get('authorization'));
    const adminKey = presented ? await findAdminKeyByHash(db, hashSecret(presented)) : undefined;
    if (!adminKey) {
      throw new AppError('unauthorized');
    }

    ctx.state.workspaceId = adminKey.workspace_id;
    ctx.state.adminKeyId = adminKey.id;
    await next();
  };
}
