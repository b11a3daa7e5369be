// End to end in one process, against real servers: a Debian prometheus scraping a real
// node-exporter remote-writes into Foreshock; a line-protocol series with a level shift opens
// an alert in a real Alertmanager, which resolves once the series is back to normal.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { loadConfig } from '../../shared/config/index.js';
import { catalogueFile } from '../support/catalogue.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { requireService } from '../support/services.js';
import { freePort, waitFor } from '../support/wait.js';
import { tempDataDir } from '../support/data-dir.js';

const alertmanager = requireService('alertmanager');
const nodeExporter = requireService('node-exporter');
const prometheusBin = requireService('prometheus');

describe.skipIf(!alertmanager || !nodeExporter || !prometheusBin)('prometheus → foreshock → alertmanager', () => {
  let fs: RunningForeshock;
  let prom: ChildProcess;
  let promUrl: string;
  let dir: string;
  const runId = `e2e${Date.now().toString(36)}`;

  beforeAll(async () => {
    const { config } = loadConfig({
      env: {
        FORESHOCK_SERVER_HOST: '127.0.0.1',
        FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(),
        FORESHOCK_ALERTMANAGER_URL: alertmanager!,
        FORESHOCK_ALERTMANAGER_RESEND_INTERVAL: '2s',
        FORESHOCK_DETECTOR_MIN_DURATION: '30s',
        FORESHOCK_DETECTOR_RESOLVE_HOLD: '60s',
        FORESHOCK_LOG_LEVEL: 'warn',
        // The team declares its service latency a signal (higher is worse): its anomalies page.
        FORESHOCK_CATALOGUE_FILES: catalogueFile([{ match: 'latency_p99_ms', role: 'signal', kind: 'latency', direction: 'up', unit: 'seconds' }]),
      },
    });
    fs = await startForeshock(config, silentLogger());

    dir = mkdtempSync(join(tmpdir(), 'fs-e2e-prom-'));
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const target = new URL(nodeExporter!).host;
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: node',
      '    static_configs:',
      `      - targets: ['${target}']`,
      'remote_write:',
      `  - url: ${fs.url}/api/v1/write`,
      '    queue_config:',
      '      batch_send_deadline: 1s',
      '      min_backoff: 100ms',
      '      max_backoff: 1s',
      '    metadata_config:',
      '      send: true',
      '      send_interval: 5s',
      '',
    ].join('\n'));
    prom = spawn(prometheusBin!, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: 'ignore' });
  });

  afterAll(async () => {
    prom?.kill('SIGTERM');
    await fs?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the node-exporter series that prometheus remote-writes', async () => {
    const series = await waitFor(async () => {
      const r = await fetch(`${fs.url}/api/v1/series?match=node_cpu_seconds_total&limit=1000`);
      const body = (await r.json()) as { total: number; series: { key: string; kind: string; host: string }[] };
      return body.total > 0 ? body : null;
    }, 90_000);
    expect(series.series[0].kind).toBe('counter');
    expect(series.series[0].host).toBe(new URL(nodeExporter!).host);
    const all = (await (await fetch(`${fs.url}/api/v1/series?match=node_&limit=1`)).json()) as { total: number };
    expect(all.total).toBeGreaterThan(50);
  });

  it('opens an alert in alertmanager for a level shift and resolves it after', async () => {
    const step = 10_000;
    const n0 = 120;
    const shift = 12;
    const back = 40;
    const start = Date.now() - (n0 + shift + back) * step;
    const line = (i: number, v: number) => `latency,host=${runId},cluster=c1,service=orders p99_ms=${v.toFixed(3)} ${(start + i * step) * 1e6}`;
    const noise = (i: number) => Math.sin(i * 1.7) * 1.5 + Math.cos(i * 0.31);
    const post = async (lines: string[]) => {
      const r = await fetch(`${fs.url}/api/v2/write?org=o&bucket=b&precision=ns`, { method: 'POST', body: lines.join('\n') });
      expect(r.status).toBe(204);
    };
    const amAlerts = async () => {
      const r = await fetch(`${alertmanager}/api/v2/alerts?filter=host%3D%22${runId}%22`);
      return (await r.json()) as { labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }[];
    };

    const baseline: string[] = [];
    for (let i = 0; i < n0; i++) baseline.push(line(i, 50 + noise(i)));
    await post(baseline);
    const shifted: string[] = [];
    for (let i = n0; i < n0 + shift; i++) shifted.push(line(i, 120 + noise(i)));
    await post(shifted);

    const firing = await waitFor(async () => {
      const alerts = await amAlerts();
      return alerts.length > 0 ? alerts : null;
    }, 30_000);
    expect(firing).toHaveLength(1);
    expect(firing[0].labels.alertname).toBe('ForeshockAnomaly');
    expect(firing[0].labels.service).toBe('orders');
    expect(firing[0].labels.cluster).toBe('c1');
    expect(firing[0].status.state).toBe('active');
    expect(firing[0].annotations.summary).toMatch(/above/);

    const api = (await (await fetch(`${fs.url}/api/v1/anomalies?host=${runId}`)).json()) as { anomalies: { kind: string }[] };
    expect(api.anomalies.map((a) => a.kind)).toContain('anomaly_opened');

    const normal: string[] = [];
    for (let i = n0 + shift; i < n0 + shift + back; i++) normal.push(line(i, 50 + noise(i)));
    await post(normal);
    await waitFor(async () => ((await amAlerts()).length === 0 ? true : null), 30_000);

    const alerts = (await (await fetch(`${fs.url}/api/v1/alerts`)).json()) as { alerts: { host: string; status: string }[] };
    const ours = alerts.alerts.filter((a) => a.host === runId);
    expect(ours).toHaveLength(1);
    expect(ours[0].status).toBe('resolved');
  });

  it('prometheus reports no failed or dropped remote-write samples', async () => {
    const text = await (await fetch(`${promUrl}/metrics`)).text();
    const sum = (name: string) =>
      text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' ')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    expect(sum('prometheus_remote_storage_samples_total') + sum('prometheus_remote_storage_succeeded_samples_total')).toBeGreaterThan(0);
    expect(sum('prometheus_remote_storage_samples_failed_total') + sum('prometheus_remote_storage_failed_samples_total')).toBe(0);
    expect(sum('prometheus_remote_storage_samples_dropped_total') + sum('prometheus_remote_storage_dropped_samples_total')).toBe(0);
  });
});
