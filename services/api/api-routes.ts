// Query API: what the detector sees (series, forecasts), what it raised (anomalies) and what
// the intervention stage did about it (alerts). Route schemas validate every query.

import type { FastifyInstance } from 'fastify';
import type { ForeshockConfig } from '../../shared/config/index.js';
import { parseDuration } from '../../shared/config/index.js';
import { BadRequestError, NotFoundError } from '../../shared/errors/index.js';
import { ALERTS_KEY, EVENTS_LOG, type AlertRecord, type AnomalyEvent, type SeriesState, type SeriesView } from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';

export interface ApiDeps {
  config: ForeshockConfig;
  store: StateStore;
  view: SeriesView;
}

const STATES = ['warmup', 'normal', 'pending', 'anomalous', 'resolving'];

export async function apiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { store, view, config } = deps;

  app.get('/api/v1/series', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          match: { type: 'string', maxLength: 1024 },
          host: { type: 'string', maxLength: 256 },
          state: { type: 'string', enum: STATES },
          label: { type: 'array', items: { type: 'string', pattern: '^[^=]+=.*$' }, maxItems: 16 },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { match?: string; host?: string; state?: SeriesState; label?: string[]; limit: number; offset: number };
    const labels: Record<string, string> = {};
    for (const l of q.label ?? []) {
      const i = l.indexOf('=');
      labels[l.slice(0, i)] = l.slice(i + 1);
    }
    const { total, items } = view.listSeries({ match: q.match, host: q.host, state: q.state, labels, limit: q.limit, offset: q.offset });
    return { total, limit: q.limit, offset: q.offset, series: items };
  });

  app.get('/api/v1/forecast', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['series'],
        properties: {
          series: { type: 'string', minLength: 1, maxLength: 4096 },
          horizon: { type: 'string', maxLength: 32 },
          steps: { type: 'integer', minimum: 1, maximum: 1000, default: 60 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { series: string; horizon?: string; steps: number };
    let horizonMs = config.detector.forecastHorizon;
    if (q.horizon !== undefined) {
      const h = parseDuration(q.horizon);
      if (h === null || h <= 0) throw new BadRequestError('FS_API_HORIZON', `querystring/horizon: "${q.horizon}" is not a duration like 30m, 6h, 7d`);
      horizonMs = h;
    }
    const series = view.getSeries(q.series);
    const points = series ? view.forecast(q.series, horizonMs, q.steps) : null;
    if (!series || !points) throw new NotFoundError('FS_API_SERIES', `querystring/series: no active series "${q.series}"`);
    return { series, horizonMs, points };
  });

  app.get('/api/v1/anomalies', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          since: { type: 'integer', minimum: 0, description: 'event time, ms since epoch' },
          host: { type: 'string', maxLength: 256 },
          series: { type: 'string', maxLength: 4096 },
          kind: { type: 'string', enum: ['anomaly_opened', 'anomaly_updated', 'anomaly_resolved', 'forecast_breach'] },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { since?: number; host?: string; series?: string; kind?: string; limit: number };
    const out: AnomalyEvent[] = [];
    let before: string | undefined;
    // Newest first; scan pages of the capped log until enough matches.
    for (let page = 0; page < 100 && out.length < q.limit; page++) {
      const entries = await store.range(EVENTS_LOG, 500, before);
      if (entries.length === 0) break;
      for (const { entry } of entries) {
        const e = JSON.parse(entry) as AnomalyEvent;
        if (q.since !== undefined && e.ts < q.since) continue;
        if (q.host !== undefined && e.host !== q.host) continue;
        if (q.series !== undefined && e.seriesKey !== q.series) continue;
        if (q.kind !== undefined && e.kind !== q.kind) continue;
        out.push(e);
        if (out.length >= q.limit) break;
      }
      before = entries[entries.length - 1].id;
    }
    return { anomalies: out };
  });

  app.get('/api/v1/alerts', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['firing', 'resolved'] },
          host: { type: 'string', maxLength: 256 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { status?: 'firing' | 'resolved'; host?: string };
    const all = Object.values(await store.hgetall(ALERTS_KEY)).map((v) => JSON.parse(v) as AlertRecord);
    const alerts = all
      .filter((a) => (q.status === undefined || a.status === q.status) && (q.host === undefined || a.host === q.host))
      .sort((a, b) => b.startsAt - a.startsAt);
    return { alerts };
  });
}
