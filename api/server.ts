import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { AppState } from './context.js';

export type RunningServer = {
  server: Server;
  /** The port actually bound (useful when asked for port 0). */
  port: number;
  /**
   * Stops accepting connections and waits up to `graceMs` for requests in flight. Each answer
   * given meanwhile closes its connection, so the server is closed once the last answer is out.
   */
  close(graceMs?: number): Promise<void>;
};

export async function listen(app: Koa<AppState>, port: number, host: string): Promise<RunningServer> {
  const server = app.listen(port, host);
  // Long enough for slow dialers on keep-alive, short enough not to pin sockets after a deploy.
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 60_000;

  // Node's close() ends the keep-alive connections that are idle when it is called, and no others:
  // one whose answer was under way would stay open after it, and hold the shutdown until the grace
  // deadline. Once closing, answers ask the client to hang up and each connection ends with its
  // answer.
  let closing = false;
  const answering = new Set<ServerResponse>();
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    answering.add(response);
    if (closing) {
      response.setHeader('Connection', 'close');
    }
    response.once('close', () => {
      answering.delete(response);
      if (closing) {
        server.closeIdleConnections();
      }
    });
  });
  await once(server, 'listening');

  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close(graceMs = 10_000) {
      closing = true;
      for (const response of answering) {
        if (!response.headersSent) {
          response.setHeader('Connection', 'close');
        }
      }

      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(deadline);
    },
  };
}
