// Query API: what the detector workers published (series, forecasts, risk board), what they
// raised (anomalies) and what the intervention stage did about it (alerts). Everything is read
// from the StateStore, so the API runs the same next to the detector or in its own process.
// The route schemas validate every query and are the source of the OpenAPI document.

import type { FastifyInstance } from 'fastify';
import type { ForeshockConfig } from '../../shared/config/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { BadRequestError, NotFoundError } from '../../shared/errors/index.js';
import {
  ALERTS_KEY, EVENTS_LOG, VIEW_RISKS_KEY, VIEW_SERIES_BUCKETS, VIEW_SERIES_PREFIX, viewHostBucketKey, viewSeriesBucketKey,
  type AlertRecord, type AnomalyEvent, type ForecastFn, type PublishedSeries, type RiskEntry,
} from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';
import { RiskBoardReader } from './risk-board-reader.js';
import * as S from './schemas.js';

/** One recent point of a series as the chart draws it. */
export interface RecentPoint {
  ts: number;
  value: number;
  expected: number;
  lower: number;
  upper: number;
  score: number | null;
}

/** Reads a series' recent scored values with their band; null when the sink cannot be read back. */
export type RecentValuesFn = (seriesKey: string, fromMs: number, toMs: number) => RecentPoint[] | null;

export interface ApiDeps {
  config: ForeshockConfig;
  store: StateStore;
  /** The detector's forecast function (injected by the composition root). */
  forecast: ForecastFn;
  /** Recent values of a series (the embedded MetricSink); absent: the chart shows the forecast only. */
  recent?: RecentValuesFn;
  clock?: () => number;
}

/** Largest forecast horizon answered (the detector looks 7 days ahead for crossings). */
const MAX_HORIZON_MS = 30 * 86_400_000;
/** Series a host+metric forecast query answers at most. */
const MAX_FORECAST_SERIES = 50;

interface SeriesQuery {
  match?: string; host?: string; cluster?: string; service?: string; metric?: string; state?: string;
  label?: string[]; limit: number; offset: number;
}

export async function apiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { store, config } = deps;
  const clock = deps.clock ?? Date.now;
  const risks = new RiskBoardReader(store, config.api.riskBoardStale, clock);
  // Response schemas document the answers (OpenAPI); JSON.stringify writes them, so numbers the
  // detector does not have yet (NaN in warm-up) become null instead of failing the request.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  /** Every published series record passing `keep` (cold path: scans all buckets). */
  async function scanSeries(keyPrefix: string | undefined, keep: (s: PublishedSeries) => boolean): Promise<PublishedSeries[]> {
    const out: PublishedSeries[] = [];
    for (let b = 0; b < VIEW_SERIES_BUCKETS; b++) {
      const fields = await store.hgetall(VIEW_SERIES_PREFIX + String(b));
      for (const key in fields) {
        if (keyPrefix !== undefined && !key.startsWith(keyPrefix)) continue;
        const s = JSON.parse(fields[key]) as PublishedSeries;
        if (keep(s)) out.push(s);
      }
    }
    return out;
  }

  /** The records of the series of `host` (through the host index), optionally of one metric. */
  async function seriesOfHost(host: string, metric: string | undefined): Promise<PublishedSeries[]> {
    const index = await store.hgetall(viewHostBucketKey(host));
    const out: PublishedSeries[] = [];
    for (const key in index) {
      if (index[key] !== host || (metric !== undefined && !key.startsWith(metric + '{'))) continue;
      const raw = await store.hget(viewSeriesBucketKey(key), key);
      if (raw !== null) out.push(JSON.parse(raw) as PublishedSeries);
    }
    return out;
  }

  app.get('/api/v1/series', { schema: S.seriesSchema }, async (req) => {
    const q = req.query as SeriesQuery;
    const labels: [string, string][] = [];
    for (const l of q.label ?? []) {
      const i = l.indexOf('=');
      labels.push([l.slice(0, i), l.slice(i + 1)]);
    }
    if (q.cluster !== undefined) labels.push(['cluster', q.cluster]);
    if (q.service !== undefined) labels.push(['service', q.service]);
    const keep = (s: PublishedSeries): boolean =>
      (q.match === undefined || s.key.includes(q.match)) &&
      (q.host === undefined || s.host === q.host) &&
      (q.state === undefined || s.state === q.state) &&
      labels.every(([k, v]) => s.labels[k] === v);
    const all = q.host !== undefined
      ? (await seriesOfHost(q.host, q.metric)).filter(keep)
      : await scanSeries(q.metric === undefined ? undefined : q.metric + '{', keep);
    all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { total: all.length, limit: q.limit, offset: q.offset, series: all.slice(q.offset, q.offset + q.limit) };
  });

  app.get('/api/v1/series/values', { schema: S.seriesValuesSchema }, async (req) => {
    const q = req.query as { series: string; window?: string };
    const rec = await getSeries(q.series);
    const windowMs = durationParam('window', q.window, 3_600_000);
    const to = rec.lastTs;
    const points = deps.recent?.(q.series, to - windowMs, to) ?? null;
    return { series: q.series, from: to - windowMs, to, available: points !== null, points: points ?? [] };
  });

  app.get('/api/v1/forecast', { schema: S.forecastSchema }, async (req) => {
    const q = req.query as { series?: string; host?: string; metric?: string; horizon?: string; steps: number };
    const horizonMs = durationParam('horizon', q.horizon, config.detector.forecastHorizon);
    if (horizonMs > MAX_HORIZON_MS) throw new BadRequestError('FS_API_HORIZON', `querystring/horizon: at most 30d, got "${q.horizon}"`);
    let records: PublishedSeries[];
    if (q.series !== undefined) {
      if (q.host !== undefined || q.metric !== undefined) {
        throw new BadRequestError('FS_API_FORECAST_QUERY', 'querystring: give either series, or host and metric, not both');
      }
      records = [await getSeries(q.series)];
    } else {
      if (q.host === undefined || q.metric === undefined) {
        throw new BadRequestError('FS_API_FORECAST_QUERY', 'querystring: series, or both host and metric, are required');
      }
      const { host, metric } = q;
      records = (await seriesOfHost(host, metric)).sort((a, b) => (a.key < b.key ? -1 : 1));
      if (records.length === 0) throw new NotFoundError('FS_API_SERIES', `querystring: no series of metric "${metric}" on host "${host}"`);
      records = records.slice(0, MAX_FORECAST_SERIES);
    }
    const out = new Float64Array(3);
    const forecasts = records.map((rec) => {
      const points: { ts: number; mean: number; lower: number; upper: number }[] = [];
      if (rec.model !== null) {
        for (let i = 0; i <= q.steps; i++) {
          const h = (horizonMs * i) / q.steps;
          deps.forecast(rec.model, h, out);
          points.push({ ts: rec.lastTs + h, mean: out[0], lower: out[1], upper: out[2] });
        }
      }
      const end = rec.lastTs + horizonMs;
      return {
        series: rec,
        points,
        crossings: rec.crossings.map((c) => ({ ...c, withinHorizon: c.at <= end })),
      };
    });
    return { horizonMs, steps: q.steps, forecasts };
  });

  app.get('/api/v1/risks', { schema: S.risksSchema }, async (req) => {
    const q = req.query as { cluster?: string; service?: string; host?: string; metric?: string; within?: string; limit: number; offset: number };
    const withinMs = q.within === undefined ? Infinity : durationParam('within', q.within, 0);
    const board = await risks.read();
    const now = clock();
    const keep = (r: RiskEntry): boolean =>
      (q.cluster === undefined || r.labels.cluster === q.cluster) &&
      (q.service === undefined || r.labels.service === q.service) &&
      (q.host === undefined || r.host === q.host) &&
      (q.metric === undefined || r.metric === q.metric) &&
      (withinMs === Infinity || r.crossing.at <= now + withinMs);
    const unfiltered = q.cluster === undefined && q.service === undefined && q.host === undefined && q.metric === undefined && withinMs === Infinity;
    let total: number;
    let items: RiskEntry[];
    if (unfiltered) {
      total = board.items.length;
      items = board.items.slice(q.offset, q.offset + q.limit);
    } else {
            items = [];
      total = 0;
      for (const r of board.items) {
        if (!keep(r)) continue;
        if (total >= q.offset && items.length < q.limit) items.push(r);
        total++;
      }
    }
    return { total, limit: q.limit, offset: q.offset, workers: board.workers, series: board.series, breaching: board.breaching, risks: items };
  });

  app.get('/api/v1/anomalies', { schema: S.anomaliesSchema }, async (req) => {
    const q = req.query as {
      from?: string; to?: string; host?: string; cluster?: string; service?: string; series?: string; kind?: string;
      state?: 'open' | 'resolved'; limit: number; before?: string;
    };
    const from = timeParam('from', q.from);
    const to = timeParam('to', q.to);
    const out: AnomalyEvent[] = [];
    // Newest first: a resolved event is met before the events of its episode.
    const resolved = new Set<string>();
    let before = q.before;
    let next: string | null = null;
    let exhausted = false;
    scan: for (let page = 0; page < 200; page++) {
      const entries = await store.range(EVENTS_LOG, 500, before);
      if (entries.length === 0) {
        exhausted = true;
        break;
      }
      for (const { id, entry } of entries) {
        const e = JSON.parse(entry) as AnomalyEvent;
        const episode = e.seriesKey + '\u0000' + String(e.startedAt);
        if (e.kind === 'anomaly_resolved') resolved.add(episode);
        // The log is in arrival order, not event-time order (replays), so no early stop on `from`.
        if (from !== undefined && e.ts < from) continue;
        if (to !== undefined && e.ts > to) continue;
        if (q.host !== undefined && e.host !== q.host) continue;
        if (q.cluster !== undefined && e.labels.cluster !== q.cluster) continue;
        if (q.service !== undefined && e.labels.service !== q.service) continue;
        if (q.series !== undefined && e.seriesKey !== q.series) continue;
        if (q.kind !== undefined && e.kind !== q.kind) continue;
        if (q.state === 'open' && (e.kind === 'anomaly_resolved' || resolved.has(episode))) continue;
        if (q.state === 'resolved' && !resolved.has(episode)) continue;
        out.push(e);
        if (out.length >= q.limit) {
          next = id;
          break scan;
        }
      }
      before = entries[entries.length - 1].id;
    }
    return { anomalies: out, next: exhausted ? null : next };
  });

  app.get('/api/v1/alerts', { schema: S.alertsSchema }, async (req) => {
    const q = req.query as {
      status?: 'firing' | 'resolved'; state?: 'firing' | 'resolved'; host?: string; cluster?: string; service?: string;
      from?: string; to?: string; limit: number;
    };
    const status = q.state ?? q.status;
    const from = timeParam('from', q.from);
    const to = timeParam('to', q.to);
    const all = Object.values(await store.hgetall(ALERTS_KEY)).map((v) => JSON.parse(v) as AlertRecord);
    const alerts = all
      .filter((a) =>
        a.quiet !== true &&
        (status === undefined || a.status === status) &&
        (q.host === undefined || a.host === q.host) &&
        (q.cluster === undefined || a.labels.cluster === q.cluster) &&
        (q.service === undefined || a.labels.service === q.service) &&
        // overlaps [from, to]
        (from === undefined || a.endsAt === null || a.status === 'firing' || a.endsAt >= from) &&
        (to === undefined || a.startsAt <= to))
      .sort((a, b) => b.startsAt - a.startsAt);
    return { total: alerts.length, alerts: alerts.slice(0, q.limit) };
  });

  async function getSeries(key: string): Promise<PublishedSeries> {
    const raw = await store.hget(viewSeriesBucketKey(key), key);
    if (raw === null) throw new NotFoundError('FS_API_SERIES', `querystring/series: no active series "${key}"`);
    return JSON.parse(raw) as PublishedSeries;
  }
}

/** A duration query parameter (30m, 6h, 7d) in ms; `def` when absent; 400 naming the field. */
function durationParam(field: string, value: string | undefined, def: number): number {
  if (value === undefined) return def;
  const ms = parseDuration(value);
  if (ms === null || ms <= 0) throw new BadRequestError('FS_API_DURATION', `querystring/${field}: "${value}" is not a duration like 30m, 6h, 7d`);
  return ms;
}

/** A time query parameter: ms since the epoch or an RFC 3339 time; 400 naming the field. */
function timeParam(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new BadRequestError('FS_API_TIME', `querystring/${field}: "${value}" is neither ms since the epoch nor an RFC 3339 time`);
  return ms;
}

/** Points of `measurement` whose tags include `tags`, fromMs ≤ ts ≤ toMs, by time (the embedded sink's query). */
export type SinkQueryFn = (
  measurement: string, tags: Record<string, string>, fromMs: number, toMs: number,
) => { ts: number; fields: Record<string, number> }[];

/** Recent values of a series from a readable metric sink: band points joined with score points by time. */
export function recentValuesFrom(query: SinkQueryFn): RecentValuesFn {
  return (seriesKey, fromMs, toMs) => {
    const band = query('foreshock_band', { series: seriesKey }, fromMs, toMs);
    const scores = new Map<number, number>();
    for (const p of query('foreshock_score', { series: seriesKey }, fromMs, toMs)) scores.set(p.ts, p.fields.score);
    return band.map((p) => ({
      ts: p.ts, value: p.fields.value, expected: p.fields.expected, lower: p.fields.lower, upper: p.fields.upper, score: scores.get(p.ts) ?? null,
    }));
  };
}
