// A small HTTP server on 127.0.0.1 for tests that stand in for a SaaS endpoint or a webhook
// target: start on a port (0: any free one), stop closing every open connection.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class LocalHttpServer {
  private server: Server | null = null;

  constructor(private readonly handler: (req: IncomingMessage, res: ServerResponse) => void) {}

  /** Listens on 127.0.0.1:`port`; resolves with the port it got. */
  async start(port = 0): Promise<number> {
    const server = createServer(this.handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** The whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
