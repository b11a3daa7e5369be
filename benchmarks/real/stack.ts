// A real monitoring stack on loopback for the real-data checks (bench:real-soak, the drills and
// their CI versions): Debian's node-exporter, Alertmanager, VictoriaMetrics and Prometheus, and
// `foreshock start` as a user runs it — no configuration but where it listens, its data
// directory and the Alertmanager to page. Prometheus scrapes every target (Foreshock too)
// every `scrapeInterval` and remote-writes to Foreshock. Everything runs on free ports and in
// temp directories, and is stopped and removed by `stop()`.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, type ForeshockProcess } from '../../test/distributed/support/foreshock-process.js';
import { PrivateAlertmanager } from '../../test/support/private-alertmanager.js';
import { freePort, stopChild, waitFor } from '../../test/support/wait.js';

export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter';
export const VICTORIA_BIN = '/usr/bin/victoria-metrics';
export const PROMETHEUS_BINS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'];

export interface RealStackOptions {
  /** Prometheus scrape interval, e.g. '5s'. */
  scrapeInterval: string;
  /** Extra FORESHOCK_* settings (none: Foreshock runs on its defaults). */
  foreshockEnv?: Record<string, string>;
  /** Extra node-exporter flags. */
  nodeExporterArgs?: string[];
  /** Log a line per component started. */
  log?: (line: string) => void;
}

/** One alert as Alertmanager holds it. */
export interface SeenAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Wall time it was first and last seen active (ms). */
  firstSeen: number;
  lastSeen: number;
}

function prometheusBin(): string | null {
  for (const b of PROMETHEUS_BINS) if (existsSync(b)) return b;
  return null;
}

/** Whether this machine can run the stack. */
export function realStackAvailable(): string | null {
  if (!existsSync(NODE_EXPORTER_BIN)) return `${NODE_EXPORTER_BIN} missing`;
  if (!PrivateAlertmanager.available()) return 'prometheus-alertmanager missing';
  if (prometheusBin() === null) return 'prometheus missing';
  return null;
}

export class RealStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'fs-real-'));
  readonly alertmanager = new PrivateAlertmanager();
  foreshock: ForeshockProcess | null = null;
  nodeExporterUrl = '';
  prometheusUrl = '';
  victoriaUrl = '';
  /** Every alert Alertmanager held while watched, by fingerprint. */
  readonly alerts = new Map<string, SeenAlert>();
  private readonly children: ChildProcess[] = [];
  private watcher: NodeJS.Timeout | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly options: RealStackOptions) {
    this.log = options.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    await this.alertmanager.setUp();
    await this.alertmanager.start();
    this.log(`alertmanager ${this.alertmanager.url}`);

    const nePort = await freePort();
    this.nodeExporterUrl = `http://127.0.0.1:${nePort}`;
    this.spawn(NODE_EXPORTER_BIN, [`--web.listen-address=127.0.0.1:${nePort}`, '--no-collector.systemd', ...(this.options.nodeExporterArgs ?? [])]);
    await waitFor(async () => ((await fetch(`${this.nodeExporterUrl}/metrics`).catch(() => null))?.ok ? true : null), 20_000, 100);
    this.log(`node-exporter ${this.nodeExporterUrl}`);

    if (existsSync(VICTORIA_BIN)) {
      const vmPort = await freePort();
      this.victoriaUrl = `http://127.0.0.1:${vmPort}`;
      mkdirSync(join(this.dir, 'vm'));
      this.spawn(VICTORIA_BIN, [`-httpListenAddr=127.0.0.1:${vmPort}`, `-storageDataPath=${join(this.dir, 'vm')}`, '-retentionPeriod=1d']);
      await waitFor(async () => ((await fetch(`${this.victoriaUrl}/health`).catch(() => null))?.ok ? true : null), 20_000, 100);
      this.log(`victoria-metrics ${this.victoriaUrl}`);
    }

    this.foreshock = await startService('start', {
      FORESHOCK_SERVER_HOST: '127.0.0.1',
      FORESHOCK_DATA_DIR: join(this.dir, 'foreshock-data'),
      FORESHOCK_ALERTMANAGER_URL: this.alertmanager.url,
      ...this.options.foreshockEnv,
    });
    this.log(`foreshock ${this.foreshock.url}`);

    const promPort = await freePort();
    this.prometheusUrl = `http://127.0.0.1:${promPort}`;
    const target = (u: string) => new URL(u).host;
    const jobs: [string, string][] = [
      ['node', target(this.nodeExporterUrl)],
      ['prometheus', `127.0.0.1:${promPort}`],
      ['alertmanager', target(this.alertmanager.url)],
      ['foreshock', target(this.foreshock.url)],
    ];
    if (this.victoriaUrl) jobs.push(['victoria-metrics', target(this.victoriaUrl)]);
    const lines = ['global:', `  scrape_interval: ${this.options.scrapeInterval}`, '  scrape_timeout: 4s', 'scrape_configs:'];
    for (const [job, t] of jobs) lines.push(`  - job_name: ${job}`, '    static_configs:', `      - targets: ['${t}']`);
    lines.push(
      'remote_write:',
      `  - url: ${this.foreshock.url}/api/v1/write`,
      '    queue_config: { batch_send_deadline: 2s, min_backoff: 100ms, max_backoff: 2s }',
      '    metadata_config: { send: true, send_interval: 30s }',
      '',
    );
    writeFileSync(join(this.dir, 'prometheus.yml'), lines.join('\n'));
    this.spawn(prometheusBin()!, [
      `--config.file=${join(this.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(this.dir, 'prom')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    await waitFor(async () => ((await fetch(`${this.prometheusUrl}/-/ready`).catch(() => null))?.ok ? true : null), 30_000, 200);
    this.log(`prometheus ${this.prometheusUrl} scraping ${jobs.length} targets every ${this.options.scrapeInterval}`);
  }

  /** Polls Alertmanager's active alerts every `everyMs`, recording each alert it ever held. */
  watchAlerts(everyMs = 1000): void {
    this.watcher = setInterval(() => {
      void this.pollAlerts().catch(() => undefined);
    }, everyMs);
  }

  async pollAlerts(): Promise<void> {
    const res = await fetch(`${this.alertmanager.url}/api/v2/alerts`);
    if (!res.ok) return;
    const now = Date.now();
    for (const a of (await res.json()) as { fingerprint: string; labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }[]) {
      if (a.status.state !== 'active') continue;
      const seen = this.alerts.get(a.fingerprint);
      if (seen === undefined) this.alerts.set(a.fingerprint, { fingerprint: a.fingerprint, labels: a.labels, annotations: a.annotations, firstSeen: now, lastSeen: now });
      else {
        seen.lastSeen = now;
        seen.annotations = a.annotations;
      }
    }
  }

  /** Alertmanager's active alerts now. */
  async activeAlerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string> }[]> {
    const res = await fetch(`${this.alertmanager.url}/api/v2/alerts?active=true&silenced=false&inhibited=false`);
    return (await res.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
  }

  /** The node-exporter target as Foreshock names its host (Prometheus' `instance`). */
  get nodeHost(): string {
    return new URL(this.nodeExporterUrl).host;
  }

  /** GET a Foreshock API path as JSON. */
  async api<T>(path: string): Promise<T> {
    const res = await fetch(`${this.foreshock!.url}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  async stop(): Promise<void> {
    if (this.watcher !== null) clearInterval(this.watcher);
    for (const c of this.children.reverse()) await stopChild(c, 'SIGTERM', 10_000).catch(() => undefined);
    await this.foreshock?.stop(15_000).catch(() => undefined);
    await this.alertmanager.tearDown().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(bin: string, args: string[]): ChildProcess {
    const c = spawn(bin, args, { stdio: 'ignore' });
    this.children.push(c);
    return c;
  }
}
