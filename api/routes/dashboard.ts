import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import type { AppContext, AppState } from '../context.js';

/** A static file of the dashboard, read once when the router is built. */
type Asset = { body: Buffer; type: string; etag: string };

/**
 * The headers every dashboard response carries. The script builds the page from API data that
 * dialers and transcription services supply, so the policy allows only this origin's own files: no
 * inline script or style, no plugins, no framing and no `<base>` rewriting. `form-action 'none'`
 * matters too: should the script fail to load, submitting the key prompt must not put the key in a
 * query string.
 */
export const dashboardSecurityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy':
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
});

const assetTypes = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
} as const;

type AssetName = keyof typeof assetTypes;

function loadAsset(directory: URL, name: AssetName): Asset {
  const body = readFileSync(new URL(name, directory));
  const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27);

  return { body, type: assetTypes[name], etag: `"${digest}"` };
}

function send(ctx: AppContext, asset: Asset): void {
  ctx.set(dashboardSecurityHeaders);
  // Revalidated on every load, so a deploy is seen at once; the ETag keeps that to a 304.
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('ETag', asset.etag);
  ctx.type = asset.type;
  ctx.status = 200;

  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = asset.body;
}

/**
 * The team lead's dashboard: `GET /` redirects to `GET /dashboard`, a static page whose script
 * reads the management API with the admin key the visitor types in. The page itself is public;
 * every piece of data behind it needs the key.
 */
export function dashboardRoutes(): Router<AppState> {
  const directory = new URL('../dashboard/', import.meta.url);
  const assets = new Map<AssetName, Asset>();
  for (const name of Object.keys(assetTypes) as AssetName[]) {
    assets.set(name, loadAsset(directory, name));
  }
  const page = assets.get('index.html')!;

  const router = new Router<AppState>();

  router.get('/', (ctx) => {
    ctx.redirect('/dashboard');
  });

  router.get('/dashboard', (ctx) => {
    send(ctx, page);
  });

  router.get('/dashboard/:file', (ctx, next) => {
    const asset = assets.get(String(ctx.params.file) as AssetName);
    if (!asset) {
      return next();
    }
    send(ctx, asset);
  });

  return router;
}
