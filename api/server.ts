import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { AppState } from './context.js';

export type RunningServer = {
  server: Server;
  /** The port actually bound (useful when asked for port 0). */
  port: number;
  /** Stops accepting connections and waits up to `graceMs` for requests in flight. */
  close(graceMs?: number): Promise<void>;
};

export async function listen(app: Koa<AppState>, port: number, host: string): Promise<RunningServer> {
  const server = app.listen(port, host);
  // Long enough for slow dialers on keep-alive, short enough not to pin sockets after a deploy.
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 60_000;
  await once(server, 'listening');

  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(deadline);
    },
  };
}
