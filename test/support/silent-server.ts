/**
 * A server that accepts connections and never answers: an outside API (Twilio's)
 * that is reachable but silent, as on a bad minute of the provider's. Counts the
 * connections it was sent.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface SilentServer {
  url: string;
  /** Connections accepted so far (each left hanging). */
  readonly connections: number;
  stop(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const held: Socket[] = [];
  const server = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return held.length;
    },
    async stop() {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
