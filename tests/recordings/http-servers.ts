/** Loopback HTTP servers for the recordings tests; each logs every request it receives. */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type LoggedRequest = { method: string; path: string; headers: IncomingHttpHeaders };

export type TestServer = {
  /** `http://host:port`, with IPv6 hosts in brackets. */
  origin: string;
  host: string;
  port: number;
  requests: LoggedRequest[];
  close(): Promise<void>;
};

export type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  server: TestServer,
) => void | Promise<void>;

/** Listens on `host` (a loopback address) with an ephemeral port. */
export async function startServer(handler: Handler, host = '127.0.0.1'): Promise<TestServer> {
  const requests: LoggedRequest[] = [];
  const httpServer = createServer();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, host, () => resolve());
  });

  const { port } = httpServer.address() as AddressInfo;
  const origin = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
  const server: TestServer = {
    origin,
    host,
    port,
    requests,
    async close() {
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };

  httpServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    requests.push({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
    });
    Promise.resolve(handler(request, response, server)).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });

  return server;
}
