// kill -9 of `foreshock start` (every service in one process, default embedded adapters) under
// remote-write load, then a restart on the same data directory: every sample that got a 2xx is
// scored, the series keep their baselines (not back in warm-up), the open anomaly is neither
// forgotten nor paged twice, and it resolves once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { startService, type ForeshockProcess } from '../distributed/support/foreshock-process.js';
import { PagerDutyReceiver } from '../intervention/support/pagerduty-receiver.js';
import { catalogueFile } from '../support/catalogue.js';
import { tempDataDir } from '../support/data-dir.js';
import { freePort, waitFor } from '../support/wait.js';

const HOSTS = 4;
const METRICS = 10;
const SERIES = HOSTS * METRICS;
const STEP_MS = 15_000;
const TICKS = 160;
/** Series 0 shifts by +60 over these ticks: one anomaly, one page. */
const ANOMALY = { from: 60, to: 100 };
const ROUTING_KEY = 'KILLTEST000000000000000000000000';

interface SeriesRow {
  labels: Record<string, string>;
  host: string;
  samples: number;
  state: string;
}

/** A Prometheus-like sender: one request per tick with every series, retried until a 2xx. */
class Sender {
  readonly accepted = new Float64Array(SERIES);
  tick = 0;
  status: Record<string, number> = {};
  private stopped = false;
  readonly done: Promise<void>;
  private paceMs = 5;

  constructor(private readonly url: () => string, private readonly t0: number) {
    this.done = this.run();
  }

  value(s: number, k: number): number {
    const shift = s === 0 && k >= ANOMALY.from && k < ANOMALY.to ? 60 : 0;
    return 100 + (s % 7) + 3 * Math.sin(k * 1.7 + s) + shift;
  }

  slow(ms: number): void {
    this.paceMs = ms;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.tick < TICKS) {
      const k = this.tick;
      const series = [];
      for (let s = 0; s < SERIES; s++) {
        series.push({
          labels: [['__name__', `kill_metric_${s % METRICS}`], ['host', `kill-h${Math.floor(s / METRICS)}`], ['job', 'node']] as [string, string][],
          timestamps: [this.t0 + k * STEP_MS],
          values: [this.value(s, k)],
        });
      }
      const body = snappyCompress(encodeWriteRequest({ series }));
      for (;;) {
        let status = 0;
        try {
          const res = await fetch(`${this.url()}/api/v1/write`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 0; // refused while the process is down: retried, like a 5xx
        }
        this.status[status] = (this.status[status] ?? 0) + 1;
        if (status >= 200 && status < 300) {
          for (let s = 0; s < SERIES; s++) this.accepted[s]++;
          break;
        }
        if (status >= 400 && status < 500) throw new Error(`request refused with ${status}`);
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      this.tick++;
      await new Promise((r) => setTimeout(r, this.paceMs));
    }
  }
}

describe('kill -9 of the embedded process', () => {
  const pd = new PagerDutyReceiver();
  let proc: ForeshockProcess | null = null;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    await pd.start();
    port = await freePort();
    env = {
      FORESHOCK_DATA_DIR: tempDataDir('kill'),
      FORESHOCK_SERVER_HOST: '127.0.0.1',
      FORESHOCK_LOG_LEVEL: 'warn',
      FORESHOCK_SINK_KIND: 'none',
      FORESHOCK_API_PUBLISH_INTERVAL: '200ms',
      FORESHOCK_DETECTOR_CHECKPOINT_INTERVAL: '2s',
      FORESHOCK_PAGERDUTY_URL: pd.url,
      FORESHOCK_PAGERDUTY_ROUTES: JSON.stringify([{ name: 'kill', routingKey: ROUTING_KEY }]),
      FORESHOCK_PAGERDUTY_MIN_SEVERITY: 'warning',
      FORESHOCK_QUEUE_BACKOFF_BASE: '200ms',
      // The test's metrics are signals the team declared: their anomalies page.
      FORESHOCK_CATALOGUE_FILES: catalogueFile([{ match: 'kill_metric_*', role: 'signal' }]),
    };
  });
  afterAll(async () => {
    await proc?.stop(5_000);
    await pd.stop();
  });

  it('loses no accepted sample, resumes warm and pages the open anomaly once', async () => {
    proc = await startService('start', env, 120_000, port);
    const url = () => `http://127.0.0.1:${port}`;
    const t0 = Math.floor((Date.now() - (TICKS + 40) * STEP_MS) / STEP_MS) * STEP_MS;
    const sender = new Sender(url, t0);
    const rows = async (): Promise<Map<string, SeriesRow> | null> => {
      const r = await fetch(`${url()}/api/v1/series?limit=1000`).catch(() => null);
      if (r === null || !r.ok) return null;
      const m = new Map<string, SeriesRow>();
      for (const s of ((await r.json()) as { series: SeriesRow[] }).series) m.set(`${s.labels.__name__}|${s.host}`, s);
      return m;
    };
    const triggers = () => pd.accepted('trigger').filter((e) => e.body.routing_key === ROUTING_KEY);

    // The anomaly opens and pages; then the process dies under load, mid-anomaly.
    await waitFor(async () => (triggers().length > 0 ? true : null), 90_000, 100);
    sender.slow(20);
    const atKill = sender.tick;
    expect(atKill).toBeLessThan(ANOMALY.to);
    const exit = new Promise<void>((r) => proc!.child.once('exit', () => r()));
    proc.child.kill('SIGKILL');
    await exit;
    const before = await rows();
    expect(before).toBeNull();

    proc = await startService('start', env, 120_000, port);
    // Warm at once: the restored series are not back in warm-up.
    const restored = await waitFor(async () => {
      const r = await rows();
      return r !== null && r.size === SERIES ? r : null;
    }, 30_000, 100);
    for (const row of restored.values()) expect(row.state).not.toBe('warmup');
    sender.slow(5);
    await sender.done;

    // Every accepted sample scored: the detector's own count per series equals what got a 2xx.
    await waitFor(async () => {
      const r = await rows();
      if (r === null) return null;
      for (let s = 0; s < SERIES; s++) {
        const row = r.get(`kill_metric_${s % METRICS}|kill-h${Math.floor(s / METRICS)}`);
        if (row === undefined || row.samples !== sender.accepted[s]) return null;
      }
      return true;
    }, 60_000, 250);
    const final = (await rows())!;
    let lost = 0;
    for (let s = 0; s < SERIES; s++) lost += sender.accepted[s] - final.get(`kill_metric_${s % METRICS}|kill-h${Math.floor(s / METRICS)}`)!.samples;
    expect(lost).toBe(0);
    expect(sender.accepted[0]).toBe(TICKS);

    // One incident: one dedup key, triggered (again only while open), resolved once, never reopened.
    await waitFor(async () => (pd.accepted('resolve').length > 0 ? true : null), 60_000, 200);
    await new Promise((r) => setTimeout(r, 1_500));
    const events = pd.accepted().filter((e) => e.body.routing_key === ROUTING_KEY);
    const keys = new Set(events.map((e) => e.body.dedup_key));
    expect(keys.size).toBe(1);
    const actions = events.map((e) => e.body.event_action);
    const firstResolve = actions.indexOf('resolve');
    expect(actions.slice(firstResolve).filter((a) => a === 'trigger')).toEqual([]);
    expect(pd.invalid).toEqual([]);
    // No second episode was opened for the anomaly.
    const anomalies = (await (await fetch(`${url()}/api/v1/anomalies?kind=anomaly_opened&limit=100`)).json()) as { anomalies: unknown[] };
    expect(anomalies.anomalies.length).toBe(1);
    expect(sender.status['0'] ?? 0).toBeGreaterThan(0);
  });
});
