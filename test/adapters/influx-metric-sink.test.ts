// The Influx MetricSink against a real VictoriaMetrics (which takes InfluxDB's /api/v2/write):
// points written through the sink are read back through VictoriaMetrics' export API and
// compared value by value and timestamp by timestamp; then a private VictoriaMetrics that is
// down when the sink writes and comes up later receives every point through the retries.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxMetricSink, type InfluxMetricSinkOptions } from '../../shared/adapters/influx/index.js';
import type { MetricPoint } from '../../shared/ports/index.js';
import { requireService } from '../support/services.js';
import { freePort, waitFor } from '../support/wait.js';

const victoriaUrl = requireService('victoria');
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const MIN = 60_000;

/** VictoriaMetrics keeps about 12 significant digits: test values carry at most 9. */
const v9 = (x: number): number => Number(x.toPrecision(9));

/**
 * Raw detector-like points for `series`: several per minute, over `minutes` minutes ending
 * an hour ago (inside VictoriaMetrics' one-day retention).
 */
function rawPoints(series: string[], minutes: number, seed: number): MetricPoint[] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const start = Math.floor((Date.now() - 3_600_000) / MIN) * MIN - minutes * MIN;
  const out: MetricPoint[] = [];
  for (let m = 0; m < minutes; m++) {
    for (const name of series) {
      // Tag values with a space and a comma exercise line-protocol escaping.
      const tags = { series: name, host: 'web 01,eu', metric: 'cpu_usage', cluster: 'c1', service: 'pay' };
      for (let k = 0; k < 4; k++) {
        const ts = start + m * MIN + k * 15_000 + Math.floor(rnd() * 1000);
        const value = v9(40 + rnd() * 20);
        out.push({ measurement: 'foreshock_band', tags, fields: { value, expected: v9(50 + rnd()), lower: v9(45 + rnd()), upper: v9(55 + rnd()) }, ts });
        out.push({ measurement: 'foreshock_score', tags, fields: { score: v9(rnd()), z: v9(rnd() * 8 - 4) }, ts });
      }
    }
  }
  return out;
}

type Expected = Map<string, { ts: number[]; values: number[] }>;

/** What the sink must have written: per metric name and series, one value per minute. */
function expectedSeries(points: MetricPoint[], downsampleMs: number): Expected {
  const buckets = new Map<string, { ts: number; lastTs: number; fields: Record<string, number>; measurement: string; series: string }>();
  for (const p of points) {
    const start = p.ts - (p.ts % downsampleMs);
    const key = `${p.measurement}|${p.tags.series}|${start}`;
    const b = buckets.get(key) ?? { ts: start, lastTs: -Infinity, fields: {}, measurement: p.measurement, series: p.tags.series };
    for (const [f, v] of Object.entries(p.fields)) {
      if (f === 'score') b.fields[f] = Math.max(b.fields[f] ?? -Infinity, v);
      else if (p.ts >= b.lastTs) b.fields[f] = v;
    }
    b.lastTs = Math.max(b.lastTs, p.ts);
    buckets.set(key, b);
  }
  const out: Expected = new Map();
  for (const b of [...buckets.values()].sort((x, y) => x.ts - y.ts)) {
    for (const [f, v] of Object.entries(b.fields)) {
      // VictoriaMetrics names an Influx field `<measurement>_<field>`.
      const k = `${b.measurement}_${f}|${b.series}`;
      const e = out.get(k) ?? { ts: [], values: [] };
      e.ts.push(b.ts);
      e.values.push(v);
      out.set(k, e);
    }
  }
  return out;
}

interface ExportLine {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** Every series whose `series` label starts with `prefix`, keyed like expectedSeries. */
async function exportSeries(baseUrl: string, prefix: string): Promise<{ got: Expected; labels: Record<string, string>[] }> {
  const params = new URLSearchParams();
  params.append('match[]', `{__name__=~"foreshock_(band|score)_.*",series=~"${prefix}.*"}`);
  params.append('start', String(Math.floor((Date.now() - 86_000_000) / 1000)));
  const res = await fetch(`${baseUrl}/api/v1/export?${params}`);
  if (!res.ok) throw new Error(`export: HTTP ${res.status} ${await res.text()}`);
  const got: Expected = new Map();
  const labels: Record<string, string>[] = [];
  for (const line of (await res.text()).split('\n')) {
    if (line.trim() === '') continue;
    const l = JSON.parse(line) as ExportLine;
    // Export does not promise time order within a line.
    const order = l.timestamps.map((_, i) => i).sort((a, b) => l.timestamps[a] - l.timestamps[b]);
    got.set(`${l.metric.__name__}|${l.metric.series}`, { ts: order.map((i) => l.timestamps[i]), values: order.map((i) => l.values[i]) });
    labels.push(l.metric);
  }
  return { got, labels };
}

function pointCount(e: Expected): number {
  let n = 0;
  for (const v of e.values()) n += v.ts.length;
  return n;
}

describe.skipIf(!victoriaUrl)('InfluxMetricSink on VictoriaMetrics', () => {
  const sinks: InfluxMetricSink[] = [];
  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
  });
  function newSink(options: Partial<InfluxMetricSinkOptions> & { url: string }): InfluxMetricSink {
    const sink = new InfluxMetricSink({ org: 'foreshock', bucket: 'foreshock', flushIntervalMs: 60_000, downsampleMs: MIN, ...options });
    sinks.push(sink);
    return sink;
  }

  it('writes downsampled scores and bands that read back exactly through /api/v1/export', async () => {
    const prefix = `it-${RUN}-a-`;
    const points = rawPoints([`${prefix}1`, `${prefix}2`, `${prefix}3`], 12, 7);
    // A small batch size: the 3 series × 12 minutes × 2 measurements go out in several requests.
    const counted: Record<string, number> = {};
    const sink = newSink({ url: victoriaUrl!, batchSize: 7, onCount: (what, n) => void (counted[what] = (counted[what] ?? 0) + n) });
    sink.write(points);
    await sink.flush();
    const expected = expectedSeries(points, MIN);
    const lines = 3 * 12 * 2;
    expect(sink.stats).toMatchObject({ received: points.length, written: lines, dropped: 0, late: 0, invalid: 0 });
    expect(pointCount(expected)).toBe(3 * 12 * 6);
    // What /metrics is told equals the stats.
    expect(counted).toEqual({ written: lines });

    const { got, labels } = await waitFor(async () => {
      const r = await exportSeries(victoriaUrl!, prefix);
      return pointCount(r.got) === pointCount(expected) ? r : null;
    }, 45_000);
    expect(got).toEqual(expected);
    // Tags arrive as labels, unescaped.
    expect(labels[0]).toMatchObject({ host: 'web 01,eu', metric: 'cpu_usage', cluster: 'c1', service: 'pay' });
  });

  it('writes every point as it comes with downsampling off', async () => {
    const prefix = `it-${RUN}-b-`;
    const points = rawPoints([`${prefix}1`], 3, 11);
    const sink = newSink({ url: victoriaUrl!, downsampleMs: 0 });
    sink.write(points);
    await sink.flush();
    expect(sink.stats.written).toBe(points.length);
    const expected = expectedSeries(points, 1);
    const { got } = await waitFor(async () => {
      const r = await exportSeries(victoriaUrl!, prefix);
      return pointCount(r.got) === pointCount(expected) ? r : null;
    }, 45_000);
    expect(got).toEqual(expected);
  });

  describe('with a private VictoriaMetrics that is down, then up', () => {
    let proc: ChildProcess | null = null;
    const dataDir = mkdtempSync(join(tmpdir(), 'foreshock-vm-'));
    afterAll(async () => {
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('keeps the batches while it is down and delivers all of them by retrying once it is up', async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const prefix = `it-${RUN}-c-`;
      const points = rawPoints([`${prefix}1`, `${prefix}2`], 10, 23);
      const sink = newSink({ url, batchSize: 10, maxRetries: 50, maxRetryTimeMs: 120_000, minRetryDelayMs: 200, maxRetryDelayMs: 1_000 });
      sink.write(points);
      // Nothing listens yet: the flush fails and the batches wait in the retry buffer.
      await expect(sink.flush()).rejects.toThrow(/ECONNREFUSED|connect/);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(sink.stats.written).toBe(0);
      expect(sink.stats.retried).toBeGreaterThan(0);
      expect(sink.stats.dropped).toBe(0);

      proc = spawn(
        'victoria-metrics',
        [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dataDir}`, '-retentionPeriod=1d', '-search.disableCache', '-search.latencyOffset=0s', '-memory.allowedPercent=5'],
        { stdio: 'ignore' },
      );
      await waitFor(async () => ((await fetch(`${url}/health`)).ok ? true : null), 30_000);

      // No flush call: the client's retry timer delivers the queued batches by itself.
      const lines = 2 * 10 * 2;
      await waitFor(async () => (sink.stats.written === lines ? true : null), 30_000, 100);
      expect(sink.stats.dropped).toBe(0);
      const expected = expectedSeries(points, MIN);
      const { got } = await waitFor(async () => {
        const r = await exportSeries(url, prefix);
        return pointCount(r.got) === pointCount(expected) ? r : null;
      }, 45_000);
      expect(got).toEqual(expected);
    });
  });
});
