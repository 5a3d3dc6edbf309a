import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { once } from 'node:events';

/** Listens and resolves with the bound port (port 0 picks a free one: tests run many services). */
export async function listen(
  app: Express | Server,
  port: number,
  host = '0.0.0.0',
): Promise<{ server: Server; port: number }> {
  const server: Server = typeof (app as Server).address === 'function' ? (app as Server) : createServer(app as Express);
  if (!server.listening) {
    server.listen(port, host);
    await once(server, 'listening');
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { server, port: bound };
}

/** Stops accepting, waits for in-flight requests, then drops idle keep-alive sockets. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await closed;
}
