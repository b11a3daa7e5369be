// A redis-server of a test's own on a free loopback port in a temporary directory, for tests and
// benchmarks that kill or restart Redis (the shared one of deploy/local/services.sh is never
// touched). Started like deploy/local/redis.sh starts the shared one, but with the append-only
// file on (appendfsync everysec, what a production Redis that holds state runs with), so a
// killed server comes back with what it acknowledged.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitFor } from './wait.js';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';

export interface PrivateRedis {
  /** redis://127.0.0.1:port */
  url: string;
  port: number;
  /** Start it again on the same port and data directory (no-op while running). */
  start(): Promise<void>;
  /** SIGTERM (Redis rewrites nothing, it just exits) or SIGKILL; resolves once it exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Its last output lines. */
  output(): string;
  /** Stop (SIGKILL) and delete its directory. */
  close(): Promise<void>;
}

/** Whether Debian's redis-server is installed. */
export function redisServerAvailable(): boolean {
  return existsSync(REDIS_SERVER_BIN);
}

/** Sends PING, resolves true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    s.setTimeout(1_000);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
  });
}

/** `appendOnly: false` runs it like the shared one (memory only): a restart comes back empty. */
export async function startPrivateRedis(options: { appendOnly?: boolean } = {}): Promise<PrivateRedis> {
  const aof = options.appendOnly ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'foreshock-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let out = '';

  const api: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      if (child !== null) return;
      const c = spawn(
        REDIS_SERVER_BIN,
        ['--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'yes', '--save', '', '--appendonly', aof ? 'yes' : 'no',
          '--appendfsync', 'everysec', '--dir', dir, '--daemonize', 'no', '--logfile', ''],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const keep = (b: Buffer) => {
        out = (out + b.toString()).slice(-4_000);
      };
      c.stdout!.on('data', keep);
      c.stderr!.on('data', keep);
      child = c;
      c.once('exit', () => {
        if (child === c) child = null;
      });
      await waitFor(async () => {
        if (child !== c) throw new Error(`redis-server exited: ${out}`);
        return (await ping(port)) ? true : null;
      }, 30_000, 100);
    },
    async stop(signal = 'SIGTERM') {
      const c = child;
      if (c === null) return;
      await stopChild(c, signal, 10_000);
      child = null;
    },
    output: () => out,
    async close() {
      await api.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await api.start();
  return api;
}
