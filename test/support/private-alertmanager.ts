// A private Debian prometheus-alertmanager on free loopback ports for tests that stop and start
// it (the shared one on the services.sh port is never touched). Its one receiver is a webhook,
// with send_resolved, so a test sees what Alertmanager would notify.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitFor } from './wait.js';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

/** One webhook notification of Alertmanager (the fields the tests read). */
export interface AmNotification {
  status: 'firing' | 'resolved';
  alerts: { status: 'firing' | 'resolved'; labels: Record<string, string>; startsAt: string; endsAt: string }[];
}

export class PrivateAlertmanager {
  readonly notifications: AmNotification[] = [];
  port = 0;
  private dir = '';
  private child: ChildProcess | null = null;
  private hook: Server | null = null;
  private log = '';

  static available(): boolean {
    return existsSync(ALERTMANAGER_BIN);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async setUp(): Promise<this> {
    this.hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AmNotification);
        } catch {
          // not ours
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.hook!.listen(0, '127.0.0.1', () => r()));
    const hookPort = (this.hook.address() as AddressInfo).port;
    this.port = await freePort();
    this.dir = mkdtempSync(join(tmpdir(), 'fs-am-'));
    mkdirSync(join(this.dir, 'data'));
    writeFileSync(
      join(this.dir, 'alertmanager.yml'),
      [
        'route:',
        "  receiver: 'hook'",
        "  group_by: ['alertname', 'host']",
        '  group_wait: 1s',
        '  group_interval: 1s',
        '  repeat_interval: 1h',
        'receivers:',
        "  - name: 'hook'",
        '    webhook_configs:',
        `      - url: 'http://127.0.0.1:${hookPort}/'`,
        '        send_resolved: true',
        '',
      ].join('\n'),
    );
    return this;
  }

  async start(): Promise<void> {
    const child = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${join(this.dir, 'alertmanager.yml')}`,
        `--storage.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--cluster.listen-address=',
        '--data.retention=1h',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (c: Buffer) => {
      this.log = (this.log + c.toString()).slice(-4000);
    });
    this.child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`alertmanager exited ${child.exitCode}: ${this.log}`);
      const r = await fetch(`${this.url}/-/ready`);
      return r.ok ? true : null;
    }, 20_000, 100);
  }

  /** SIGTERM (Alertmanager snapshots its notification log then) or SIGKILL, and wait for the exit. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const c = this.child;
    this.child = null;
    if (c !== null) await stopChild(c, signal, 10_000);
  }

  async tearDown(): Promise<void> {
    await this.stop();
    const h = this.hook;
    this.hook = null;
    if (h) {
      h.closeAllConnections();
      await new Promise<void>((r) => h.close(() => r()));
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  async active(filter: string): Promise<{ labels: Record<string, string>; startsAt: string; status: { state: string } }[]> {
    const url = new URL('/api/v2/alerts', this.url);
    url.searchParams.append('filter', filter);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET alerts: HTTP ${res.status}`);
    return (await res.json()) as { labels: Record<string, string>; startsAt: string; status: { state: string } }[];
  }
}
