import net from 'node:net';

/**
 * A loopback port that was free a moment ago, for a server that must know its own URL before it
 * listens (a child process, an api whose public URL is handed to a third party).
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));

  return port;
}
