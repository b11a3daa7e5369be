// The query API as a client sees it, on an embedded Foreshock fed with line protocol: series,
// forecasts, risks, anomalies (with their explanation) and alerts, filters and paging, clear 400s,
// hardened headers, and an OpenAPI document that validates and documents every endpoint.

import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { loadConfig } from '../../shared/config/index.js';
import { catalogueFile } from '../support/catalogue.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { freePort, waitFor } from '../support/wait.js';
import { seedLines, type Seed } from './seed.js';
import { tempDataDir } from '../support/data-dir.js';

let fs: RunningForeshock;
let seed: Seed;
const run = `api${process.pid}`;

async function get<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(fs.url + path);
  const text = await r.text();
  return { status: r.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T, headers: r.headers };
}

interface Event { kind: string; seriesKey: string; host: string; ts: number; labels: Record<string, string>; explanation: { summary: string; fired: string[]; value: number; expected: number } }

beforeAll(async () => {
  const { config } = loadConfig({
    env: {
      FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(), FORESHOCK_API_PUBLISH_INTERVAL: '200ms',
      FORESHOCK_DETECTOR_RULES: 'name=disk_used_ratio:threshold=0.9',
      // The team declares its busy CPU a signal: its anomalies page.
      FORESHOCK_CATALOGUE_FILES: catalogueFile([{ match: 'cpu_busy', role: 'signal', kind: 'ratio', direction: 'up', unit: 'percent' }]),
      // Nothing listens there: alert deliveries fail and are retried (queue metrics).
      FORESHOCK_ALERTMANAGER_URL: `http://127.0.0.1:${await freePort()}`,
    },
  });
  fs = await startForeshock(config, silentLogger());
  seed = seedLines(run);
  const r = await fetch(`${fs.url}/api/v2/write?precision=ms`, { method: 'POST', body: seed.body });
  expect(r.status).toBe(204);
  await waitFor(async () => {
    const { body } = await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}`);
    return body.anomalies.some((e) => e.kind === 'anomaly_opened') ? true : null;
  }, 20_000);
  await waitFor(async () => ((await get<{ total: number }>(`/api/v1/series?match=${run}`)).body.total === 3 ? true : null), 10_000);
}, 60_000);

afterAll(async () => {
  await fs?.close();
});

describe('anomalies', () => {
  it('lists the seeded anomaly with its explanation', async () => {
    const { status, body } = await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}&kind=anomaly_opened`);
    expect(status).toBe(200);
    expect(body.anomalies).toHaveLength(1);
    const e = body.anomalies[0];
    expect(e.seriesKey).toBe(seed.anomalyKey);
    expect(e.labels.cluster).toBe('c1');
    expect(e.ts).toBeGreaterThanOrEqual(seed.anomalyStart);
    expect(e.explanation.fired.length).toBeGreaterThan(0);
    expect(e.explanation.value).toBeGreaterThan(90);
    expect(e.explanation.expected).toBeLessThan(40);
    expect(e.explanation.summary).toMatch(/\S/);
  });

  it('filters by cluster, service, time range and state', async () => {
    const inC1 = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?cluster=c1&service=trading`)).body.anomalies;
    expect(inC1.some((e) => e.seriesKey === seed.anomalyKey)).toBe(true);
    const inC2 = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?cluster=c2`)).body.anomalies;
    expect(inC2.some((e) => e.seriesKey === seed.anomalyKey)).toBe(false);
    const after = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}&from=${seed.end + 1}`)).body.anomalies;
    expect(after).toEqual([]);
    const iso = new Date(seed.anomalyStart - 60_000).toISOString();
    const inRange = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}&from=${iso}&to=${seed.end}`)).body.anomalies;
    expect(inRange.length).toBeGreaterThan(0);
    const open = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}&state=open`)).body.anomalies;
    expect(open.some((e) => e.kind === 'anomaly_opened')).toBe(true);
    const resolved = (await get<{ anomalies: Event[] }>(`/api/v1/anomalies?host=${seed.anomalyHost}&state=resolved`)).body.anomalies;
    expect(resolved).toEqual([]);
  });

  it('answers 400 naming the field for a bad time', async () => {
    const r = await get<{ code: string; message: string }>('/api/v1/anomalies?from=yesterday');
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/from/);
    const r2 = await get<{ code: string; message: string }>('/api/v1/anomalies?limit=0');
    expect(r2.status).toBe(400);
    expect(r2.body.message).toMatch(/limit/);
  });
});

describe('series and forecast', () => {
  it('lists series with filters and paging', async () => {
    const all = (await get<{ total: number; series: { key: string; state: string }[] }>(`/api/v1/series?match=${run}`)).body;
    expect(all.total).toBe(3);
    const c2 = (await get<{ total: number; series: { key: string }[] }>(`/api/v1/series?match=${run}&cluster=c2`)).body;
    expect(c2.total).toBe(1);
    expect(c2.series[0].key).toContain(`${run}-h3`);
    const page = (await get<{ total: number; series: { key: string }[] }>(`/api/v1/series?match=${run}&limit=1&offset=2`)).body;
    expect(page.total).toBe(3);
    expect(page.series).toHaveLength(1);
    const anomalous = (await get<{ series: { key: string }[] }>(`/api/v1/series?host=${seed.anomalyHost}`)).body.series[0];
    expect(anomalous.key).toBe(seed.anomalyKey);
  });

  it('forecasts a series: path with a widening interval from the last sample', async () => {
    const { status, body } = await get<{
      horizonMs: number;
      forecasts: { series: { key: string; lastTs: number }; points: { ts: number; mean: number; lower: number; upper: number }[] }[];
    }>(`/api/v1/forecast?series=${encodeURIComponent(seed.trendKey)}&horizon=2h&steps=12`);
    expect(status).toBe(200);
    expect(body.horizonMs).toBe(7_200_000);
    const f = body.forecasts[0];
    expect(f.points).toHaveLength(13);
    expect(f.points[0].ts).toBe(f.series.lastTs);
    expect(f.points[12].ts).toBe(f.series.lastTs + 7_200_000);
    for (const p of f.points) expect(p.lower).toBeLessThanOrEqual(p.mean), expect(p.upper).toBeGreaterThanOrEqual(p.mean);
    // rising series: the mean goes up, and the interval widens with the horizon
    expect(f.points[12].mean).toBeGreaterThan(f.points[0].mean);
    expect(f.points[12].upper - f.points[12].lower).toBeGreaterThan(f.points[1].upper - f.points[1].lower);
  });

  it('forecasts by host and metric', async () => {
    const { status, body } = await get<{ forecasts: { series: { key: string } }[] }>(`/api/v1/forecast?host=${run}-h2&metric=disk_used_ratio`);
    expect(status).toBe(200);
    expect(body.forecasts.map((f) => f.series.key)).toEqual([seed.trendKey]);
  });

  it('answers 400 / 404 with the field named', async () => {
    const bad = await get<{ message: string }>(`/api/v1/forecast?series=${encodeURIComponent(seed.trendKey)}&horizon=soon`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/horizon/);
    const neither = await get<{ message: string }>('/api/v1/forecast');
    expect(neither.status).toBe(400);
    const both = await get<{ message: string }>(`/api/v1/forecast?series=x&host=h&metric=m`);
    expect(both.status).toBe(400);
    const missing = await get<{ message: string }>('/api/v1/forecast?series=nope%7B%7D');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/series/);
  });

  it('returns recent values of a series from the embedded sink', async () => {
    const { status, body } = await get<{ available: boolean; points: { ts: number; value: number }[] }>(
      `/api/v1/series/values?series=${encodeURIComponent(seed.anomalyKey)}&window=2h`,
    );
    expect(status).toBe(200);
    expect(body.available).toBe(true);
  });
});

describe('risks and alerts', () => {
  it('ranks the series heading for its threshold, with the crossing time and its interval', async () => {
    const { body } = await get<{ risks: { key: string; metric: string; crossing: { threshold: number; direction: string; at: number; earliest: number; latest: number | null } }[] }>(
      `/api/v1/risks?host=${run}-h2`,
    );
    expect(body.risks).toHaveLength(1);
    const r = body.risks[0];
    expect(r.key).toBe(seed.trendKey);
    expect(r.metric).toBe('disk_used_ratio');
    expect(r.crossing.threshold).toBe(0.9);
    expect(r.crossing.direction).toBe('above');
    // 0.8 rising 0.3 per hour reaches 0.9 about 20 minutes after the last sample.
    expect((r.crossing.at - seed.end) / 60_000).toBeGreaterThan(10);
    expect((r.crossing.at - seed.end) / 60_000).toBeLessThan(40);
    expect(r.crossing.earliest).toBeLessThanOrEqual(r.crossing.at);
    if (r.crossing.latest !== null) expect(r.crossing.latest).toBeGreaterThanOrEqual(r.crossing.at);
    expect((await get<{ risks: unknown[] }>(`/api/v1/risks?metric=disk_used_ratio&cluster=c1`)).body.risks.length).toBeGreaterThan(0);
    expect((await get<{ risks: { key: string }[] }>(`/api/v1/risks?cluster=c2`)).body.risks.some((x) => x.key === seed.trendKey)).toBe(false);
    // The same crossing in the forecast of the series.
    const f = (await get<{ forecasts: { crossings: { at: number; withinHorizon: boolean }[] }[] }>(
      `/api/v1/forecast?series=${encodeURIComponent(seed.trendKey)}&horizon=2h`,
    )).body.forecasts[0];
    expect(f.crossings).toHaveLength(1);
    expect(f.crossings[0].at).toBe(r.crossing.at);
    expect(f.crossings[0].withinHorizon).toBe(true);
  });

  it('pages the risk board and validates its filters', async () => {
    const { status, body } = await get<{ total: number; limit: number; offset: number; workers: number; series: number; risks: unknown[] }>('/api/v1/risks?limit=5');
    expect(status).toBe(200);
    expect(body.limit).toBe(5);
    expect(body.workers).toBe(1);
    expect(body.series).toBeGreaterThanOrEqual(3);
    expect(body.risks.length).toBeLessThanOrEqual(5);
    expect((await get('/api/v1/risks?limit=5000')).status).toBe(400);
    expect((await get('/api/v1/risks?within=later')).status).toBe(400);
  });

  it('lists alerts with filters and their explanation', async () => {
    const firing = await waitFor(async () => {
      const { body } = await get<{ total: number; alerts: { host: string; status: string; explanation: { summary: string } }[] }>(`/api/v1/alerts?state=firing&cluster=c1&host=${seed.anomalyHost}`);
      return body.alerts.length > 0 ? body : null;
    }, 15_000);
    expect(firing.total).toBe(firing.alerts.length);
    expect(firing.alerts[0].host).toBe(seed.anomalyHost);
    expect(firing.alerts[0].explanation.summary).toMatch(/\S/);
    expect((await get<{ alerts: unknown[] }>(`/api/v1/alerts?cluster=c2&host=${seed.anomalyHost}`)).body.alerts).toEqual([]);
    expect((await get<{ alerts: unknown[] }>(`/api/v1/alerts?host=${seed.anomalyHost}&to=${seed.anomalyStart - 3_600_000}`)).body.alerts).toEqual([]);
    expect((await get('/api/v1/alerts?state=maybe')).status).toBe(400);
  });
});

describe('page, docs and headers', () => {
  it('serves the page with hardened headers', async () => {
    const r = await get<string>('/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.body).toContain('/assets/page.js');
    expect((await get('/assets/page.js')).status).toBe(200);
    expect((await get('/assets/nope.js')).status).toBe(404);
  });

  it('publishes an OpenAPI document that validates, with an example for every endpoint', async () => {
    const { status, body } = await get<{ paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, { content?: Record<string, { schema?: { example?: unknown } }> }> }>> }>('/docs/json');
    expect(status).toBe(200);
    await SwaggerParser.validate(structuredClone(body) as never);
    const mine = ['/api/v1/series', '/api/v1/series/values', '/api/v1/forecast', '/api/v1/risks', '/api/v1/anomalies', '/api/v1/alerts',
      '/api/v1/write', '/api/v2/write', '/write', '/healthz', '/readyz', '/metrics'];
    for (const path of mine) expect(body.paths[path], path).toBeDefined();
    // Every endpoint the server documents, not only the ones listed above, carries an example.
    for (const [path, ops] of Object.entries(body.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const examples = Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {}).map((m) => (m as { example?: unknown; schema?: { example?: unknown } }).example ?? m.schema?.example));
        const requestExample = (op as { requestBody?: { content?: Record<string, { example?: unknown; schema?: { example?: unknown } }> } }).requestBody;
        const reqEx = Object.values(requestExample?.content ?? {}).map((m) => m.example ?? m.schema?.example);
        // An operation with no body either way (a 204 probe) has nothing to exemplify.
        const bodyless = requestExample === undefined && Object.values(op.responses).every((r) => r.content === undefined);
        if (!bodyless) expect([...examples, ...reqEx].some((e) => e !== undefined), `${method} ${path} has an example`).toBe(true);
      }
    }
    // Query parameters come from the validating schema.
    expect(body.paths['/api/v1/risks'].get.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['cluster', 'service', 'host', 'metric', 'limit', 'offset']));
    const html = await get<string>('/docs');
    expect(html.status).toBe(200);
    expect(html.body).toContain('/docs/docs.js');
  });

  it('exposes HTTP latency by route in /metrics', async () => {
    const text = (await get<string>('/metrics')).body;
    expect(text).toMatch(/foreshock_http_request_duration_seconds_count\{route="\/api\/v1\/anomalies",method="GET",status="200"\} \d+/);
    expect(text).toMatch(/foreshock_view_publish_seconds_count \d+/);
    expect(text).toMatch(/foreshock_events_total\{kind="anomaly_opened"\} [1-9]/);
    expect(text).toMatch(/foreshock_series_active [1-9]/);
  });

  it('counts failed delivery attempts (retries) of the queue', async () => {
    await waitFor(async () => (/foreshock_queue_attempts_total\{outcome="failed"\} [1-9]/.test((await get<string>('/metrics')).body) ? true : null), 20_000);
    expect((await get<string>('/metrics')).body).toMatch(/foreshock_queue_jobs\{state="waiting"\} \d+/);
  }, 30_000);
});
