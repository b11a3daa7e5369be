// A private Prometheus server for bench:vs-promql: its own free loopback port, temp data dir,
// remote-write receiver and a rules file that can be swapped at run time (lifecycle reload),
// stopped and removed by `stop()`.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snappyCompress } from '../../shared/codecs/index.js';
import { freePort } from '../../test/support/wait.js';
import { parseMetricsText, type MetricSample } from './metrics-text.js';

export interface PrometheusOptions {
  /** The prometheus binary (default `prometheus` on PATH). */
  bin: string;
  /** Global evaluation interval, e.g. '15s'. */
  evaluationInterval: string;
}

export class PrometheusProcess {
  readonly dir: string;
  readonly rulesPath: string;
  private child: ChildProcess | null = null;
  private stderrTail = '';
  port = 0;

  constructor(private readonly options: PrometheusOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'foreshock-vs-promql-'));
    this.rulesPath = join(this.dir, 'rules.yml');
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Starts the server with an empty rules file and waits until it is ready (≤ 30 s). */
  async start(): Promise<void> {
    this.setRules('groups: []\n');
    writeFileSync(
      join(this.dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1h\n  evaluation_interval: ${this.options.evaluationInterval}\nrule_files:\n  - ${JSON.stringify(this.rulesPath)}\n`,
    );
    this.port = await freePort();
    const child = spawn(
      this.options.bin,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--web.enable-remote-write-receiver',
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`prometheus exited (${code ?? signal}) during start-up: ${this.stderrTail}`)));
      child.once('error', reject);
    });
    exited.catch(() => undefined);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await Promise.race([
        fetch(`${this.baseUrl}/-/ready`).then((r) => r.ok, () => false),
        exited,
      ]);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s: ${this.stderrTail}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  setRules(yaml: string): void {
    writeFileSync(this.rulesPath, yaml);
  }

  /** Re-reads the config and rules (POST /-/reload). */
  async reload(): Promise<void> {
    const r = await fetch(`${this.baseUrl}/-/reload`, { method: 'POST' });
    if (!r.ok) throw new Error(`prometheus reload: HTTP ${r.status} ${await r.text()}`);
  }

  /** POSTs one WriteRequest (protobuf, not yet compressed) to the remote-write receiver. */
  async remoteWrite(body: Uint8Array): Promise<void> {
    const r = await fetch(`${this.baseUrl}/api/v1/write`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-protobuf',
        'Content-Encoding': 'snappy',
        'X-Prometheus-Remote-Write-Version': '0.1.0',
      },
      body: snappyCompress(body),
    });
    if (r.status !== 204 && r.status !== 200) throw new Error(`remote write: HTTP ${r.status} ${(await r.text()).slice(0, 500)}`);
    await r.arrayBuffer();
  }

  /** Its own /metrics, parsed. */
  async metrics(): Promise<MetricSample[]> {
    const r = await fetch(`${this.baseUrl}/metrics`);
    if (!r.ok) throw new Error(`prometheus /metrics: HTTP ${r.status}`);
    return parseMetricsText(await r.text());
  }

  /** An instant query; returns the parsed `data.result`. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await fetch(`${this.baseUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${expr}: ${body.error ?? r.status}`);
    return body.data.result;
  }

  /** Stops the server (SIGTERM, SIGKILL after 10 s) and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
