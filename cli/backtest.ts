// `foreshock backtest`: reads history from a Prometheus-compatible API, replays it in event time
// through the production pipeline (receiver → ingest → detector → intervention, embedded, with
// the configuration given) and reports what would have paged and when. This is how a team
// tunes before it turns paging on.

import { writeFile } from 'node:fs/promises';
import { PrometheusHistory, type HistorySeries } from '../shared/adapters/prometheus/history.js';
import { encodeWriteRequest, snappyCompress, type RemoteWriteMetadata, type MetricMetadataType, METRIC_TYPES } from '../shared/codecs/index.js';
import { loadConfig, parseDuration } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors/index.js';
import { AUDIT_LOG, type AnomalyEvent, type AuditEntry } from '../shared/model/index.js';
import { createLogger } from '../shared/telemetry/index.js';
import { startForeshock, type RunningForeshock } from './app.js';
import { ProgressBar } from './progress.js';

export interface BacktestOptions {
  prometheus: string;
  match: string[];
  /** ms since epoch */
  from: number;
  to: number;
  configFile?: string;
  /** Event time fetched per round trip, ms (default 30 min). */
  chunkMs?: number;
  /** Event time per remote-write body, ms (default 30 s). */
  batchMs?: number;
  /** Queries in flight (default 4). */
  concurrency?: number;
  /** Extra env-style config overrides (FORESHOCK_* → value). */
  env?: Record<string, string>;
  /** Progress bar stream (default stderr); null for none. */
  progress?: NodeJS.WriteStream | null;
}

/** One alert the replay opened, as an on-call engineer would have seen it. */
export interface BacktestAlert {
  alertId: string;
  /** Event time the alert opened (ms). */
  openedAt: number;
  /** Event time it resolved (ms), null when still firing at the end. */
  resolvedAt: number | null;
  transitions: string[];
}

export interface BacktestReport {
  from: number;
  to: number;
  series: number;
  samples: number;
  scored: number;
  /** Series-hours replayed (series × hours each was present). */
  seriesHours: number;
  events: AnomalyEvent[];
  alerts: BacktestAlert[];
  /** The derived saturation signals the replay made (key, last value), e.g. CPU utilisation per host. */
  derived: { key: string; value: number; state: string }[];
}

/** Resolves `-7d`, `now`, `now-2h`, RFC 3339 or ms since the epoch against `nowMs`. */
export function parseTimeArg(name: string, text: string, nowMs: number): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const rel = /^(?:now)?-(.+)$/.exec(t);
  if (rel !== null) {
    const d = parseDuration(rel[1]);
    if (d === null) throw new ConfigError(name, `"${text}" is not a time like now, -7d, now-2h, 2026-12-01T00:00:00Z or ms since the epoch`);
    return nowMs - d;
  }
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new ConfigError(name, `"${text}" is not a time like now, -7d, now-2h, 2026-12-01T00:00:00Z or ms since the epoch`);
  return ms;
}

/** `{__name__="m", <inner of selector>}`: one metric of a selector, so queries stay small and run in parallel. */
export function selectorForMetric(selector: string, metric: string): string {
  const s = selector.trim();
  const open = s.indexOf('{');
  const inner = open >= 0 && s.endsWith('}') ? s.slice(open + 1, -1).trim() : '';
  const name = JSON.stringify(metric);
  return inner === '' ? `{__name__=${name}}` : `{__name__=${name},${inner}}`;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

function seriesId(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join('\u0000');
}

/**
 * Replays [from, to] of the matching series. The pipeline runs embedded on its own port (the
 * config's adapters are replaced by the embedded ones, Alertmanager and PagerDuty are not
 * called) with the alert lifecycle on the replay's clock.
 */
export async function runBacktest(o: BacktestOptions): Promise<BacktestReport> {
  const history = new PrometheusHistory({ url: o.prometheus });
  const chunkMs = o.chunkMs ?? 30 * 60_000;
  const batchMs = o.batchMs ?? 30_000;
  const concurrency = o.concurrency ?? 4;
  const labelSets = await history.series(o.match, o.from, o.to);
  const metrics = [...new Set(labelSets.map((l) => l.__name__).filter((n): n is string => typeof n === 'string'))].sort();
  const queries: string[] = [];
  for (const sel of o.match) for (const m of metrics) queries.push(selectorForMetric(sel, m));
  const types = await history.metadata().catch(() => new Map<string, string>());
  const metadata: RemoteWriteMetadata[] = [];
  for (const m of metrics) {
    const base = m.replace(/_(total|bucket|sum|count)$/, '');
    const type = (types.get(m) ?? types.get(base)) as MetricMetadataType | undefined;
    if (type !== undefined && METRIC_TYPES.includes(type)) metadata.push({ family: m, type, help: '', unit: '' });
  }

  let clock = o.from;
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    FORESHOCK_SERVER_HOST: '127.0.0.1',
    FORESHOCK_SERVER_PORT: '0',
    FORESHOCK_BUS_KIND: 'memory',
    FORESHOCK_STATE_KIND: 'memory',
    FORESHOCK_QUEUE_KIND: 'memory',
    FORESHOCK_SINK_KIND: 'none',
    FORESHOCK_ALERTMANAGER_URL: '',
    FORESHOCK_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const { config } = loadConfig({ file: o.configFile, env });
  const logger = createLogger(config.log.level);
  const fs = await startForeshock(config, logger, 'all', { clock: () => clock });
  const events: AnomalyEvent[] = [];
  const decoder = new TextDecoder();
  const tap = await fs.adapters.bus.subscribe({
    groupId: 'foreshock-backtest',
    topics: [config.bus.topicEvents],
    eachBatch: async (batch) => {
      for (const m of batch.messages) events.push(JSON.parse(decoder.decode(m.value)) as AnomalyEvent);
    },
  });

  const present = new Map<string, [number, number]>();
  let samples = 0;
  const bar = o.progress === null ? null : new ProgressBar(o.progress ?? process.stderr, Math.max(1, Math.ceil((o.to - o.from) / chunkMs)), 'backtest');
  let first = true;
  try {
    let k = 0;
    for (let t0 = o.from; t0 < o.to; t0 += chunkMs, k++) {
      const t1 = Math.min(o.to, t0 + chunkMs);
      const parts = await mapLimit(queries, concurrency, (q) => history.raw(q, t0, t1));
      const all: HistorySeries[] = parts.flat();
      for (const s of all) {
        const id = seriesId(s.labels);
        const span = present.get(id);
        const a = s.timestamps[0];
        const b = s.timestamps[s.timestamps.length - 1];
        if (span === undefined) present.set(id, [a, b]);
        else span[1] = b;
        samples += s.timestamps.length;
      }
      // Post the chunk as bodies of batchMs of event time each, in time order.
      const cursor = new Int32Array(all.length);
      for (let b0 = t0; b0 < t1; b0 += batchMs) {
        const b1 = Math.min(t1, b0 + batchMs);
        const series: { labels: [string, string][]; timestamps: number[]; values: number[] }[] = [];
        for (let i = 0; i < all.length; i++) {
          const s = all[i];
          let j = cursor[i];
          if (j >= s.timestamps.length || s.timestamps[j] > b1) continue;
          const ts: number[] = [];
          const vs: number[] = [];
          while (j < s.timestamps.length && s.timestamps[j] <= b1) {
            ts.push(s.timestamps[j]);
            vs.push(s.values[j]);
            j++;
          }
          cursor[i] = j;
          series.push({ labels: Object.entries(s.labels), timestamps: ts, values: vs });
        }
        if (series.length === 0) continue;
        clock = b1;
        await post(fs, encodeWriteRequest({ series, metadata: first ? metadata : [] }));
        first = false;
        // Keep the pipeline close behind the replay, so the lifecycle clock means what it says.
        while (!(await fs.idle())) await sleep(5);
      }
      bar?.update(k + 1);
    }
    clock = o.to;
    for (let i = 0; i < 2000 && !(await fs.idle()); i++) await sleep(10);
    bar?.done(Math.ceil((o.to - o.from) / chunkMs));
    const audit = await fs.adapters.store.range(AUDIT_LOG, 1_000_000);
    const alerts = alertsFromAudit(audit.map((e) => JSON.parse(e.entry) as AuditEntry));
    let seriesHours = 0;
    for (const [a, b] of present.values()) seriesHours += (b - a) / 3_600_000;
    const scored = (await fs.telemetry.samplesScored.get()).values.reduce((a, v) => a + v.value, 0);
    const derived: BacktestReport['derived'] = [];
    for (const match of ['host:', 'container:']) {
      const res = await fetch(`${fs.url}/api/v1/series?match=${encodeURIComponent(match)}&limit=10000`);
      const body = (await res.json()) as { series?: { key: string; value: number; state: string }[] };
      for (const x of body.series ?? []) derived.push({ key: x.key, value: x.value, state: x.state });
    }
    return { from: o.from, to: o.to, series: present.size, samples, scored, seriesHours, events, alerts, derived };
  } finally {
    await tap.close();
    await fs.close();
  }
}


async function post(fs: RunningForeshock, body: Uint8Array): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${fs.url}/api/v1/write`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
      body: snappyCompress(body),
    });
    await res.arrayBuffer();
    if (res.status === 204 || res.status === 200) return;
    if (res.status === 503 && attempt < 100) {
      await sleep(200);
      continue;
    }
    if (res.status === 400) return; // the receiver kept what it could and counted the rest
    throw new ConfigError('backtest', `the embedded receiver answered ${res.status}`);
  }
}

/** Alerts and their transitions, from the audit log (oldest first), timed by the replay clock. */
export function alertsFromAudit(entries: readonly AuditEntry[]): BacktestAlert[] {
  const byId = new Map<string, BacktestAlert>();
  const ordered = [...entries].filter((e) => e.kind === 'alert' && e.alertId !== undefined).sort((a, b) => a.at - b.at);
  const out: BacktestAlert[] = [];
  for (const e of ordered) {
    let a = byId.get(e.alertId!);
    if (e.action === 'opened') {
      a = { alertId: e.alertId!, openedAt: e.at, resolvedAt: null, transitions: [] };
      byId.set(e.alertId!, a);
      out.push(a);
    }
    if (a === undefined) continue;
    a.transitions.push(e.action);
    if (e.action === 'resolved') a.resolvedAt = e.at;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Terminal table of a report. */
export function formatBacktest(r: BacktestReport): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const lines: string[] = [];
  lines.push(`replayed ${iso(r.from)} → ${iso(r.to)}: ${r.series} series, ${r.samples} samples (${r.scored} scored), ${r.seriesHours.toFixed(0)} series-hours`);
  const opened = r.events.filter((e) => e.kind === 'anomaly_opened');
  const breaches = r.events.filter((e) => e.kind === 'forecast_breach');
  lines.push(`anomalies opened: ${opened.length} (${((opened.length * 1000) / Math.max(r.seriesHours, 1e-9)).toFixed(2)} per 1000 series-hours); forecast breaches: ${breaches.length}`);
  lines.push(`derived signals: ${r.derived.length}`);
  for (const d of r.derived.slice(0, 20)) lines.push(`  ${d.key} = ${d.value.toPrecision(4)} (${d.state})`);
  lines.push(`alerts that would have paged: ${r.alerts.length}`);
  for (const a of r.alerts) {
    lines.push(`  ${iso(a.openedAt)}  ${a.resolvedAt === null ? 'still firing        ' : `resolved ${iso(a.resolvedAt)}`}  ${a.alertId}`);
  }
  const byMetric = new Map<string, number>();
  for (const e of opened) {
    const k = `${e.labels.__name__ ?? '?'} [${e.explanation.fired.join(',')}]`;
    byMetric.set(k, (byMetric.get(k) ?? 0) + 1);
  }
  const top = [...byMetric.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
  if (top.length > 0) {
    lines.push('anomalies opened by metric [detectors]:');
    for (const [k, n] of top) lines.push(`  ${String(n).padStart(5)}  ${k}`);
  }
  return lines.join('\n') + '\n';
}

export async function writeBacktestJson(path: string, r: BacktestReport): Promise<void> {
  await writeFile(path, JSON.stringify(r, null, 2));
}
