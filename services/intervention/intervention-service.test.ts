import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJobQueue, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { ALERTS_KEY, seriesKey, sortedLabels, type AnomalyEvent, type EventKind } from '../../shared/model/index.js';
import { AlertmanagerClient, AlertmanagerError, type PostableAlert } from './alertmanager-client.js';
import { InterventionService, type InterventionLogger, type InterventionOptions } from './intervention-service.js';
import { LocalHttpServer, readBody } from '../../test/support/local-http.js';

// A pino logger is what the composition root passes; this fails to compile if it stops fitting.
const pinoFits: InterventionLogger = pino({ level: 'silent' });
void pinoFits;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const POSTABLE_KEYS = new Set(['labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL']);

/** Checks a POST /api/v2/alerts body against postableAlerts in Alertmanager's OpenAPI; returns the problems. */
function schemaProblems(body: unknown): string[] {
  const problems: string[] = [];
  if (!Array.isArray(body)) return ['body is not an array'];
  body.forEach((a: unknown, i) => {
    if (typeof a !== 'object' || a === null) return void problems.push(`[${i}] not an object`);
    const o = a as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!POSTABLE_KEYS.has(k)) problems.push(`[${i}] unknown field ${k}`);
    for (const set of ['labels', 'annotations'] as const) {
      const v = o[set];
      if (v === undefined && set === 'annotations') continue;
      if (typeof v !== 'object' || v === null) {
        problems.push(`[${i}].${set} missing`);
        continue;
      }
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') problems.push(`[${i}].${set}.${k} not a string`);
        if (set === 'labels' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) problems.push(`[${i}] label name ${k}`);
      }
    }
    for (const t of ['startsAt', 'endsAt'] as const) {
      if (o[t] !== undefined && (typeof o[t] !== 'string' || !RFC3339.test(o[t] as string))) problems.push(`[${i}].${t} not date-time`);
    }
    if (o.generatorURL !== undefined && !URL.canParse(String(o.generatorURL))) problems.push(`[${i}].generatorURL not a uri`);
    if (typeof o.startsAt === 'string' && typeof o.endsAt === 'string' && Date.parse(o.endsAt) < Date.parse(o.startsAt)) {
      problems.push(`[${i}] endsAt before startsAt`);
    }
  });
  return problems;
}

/** Stands in for an Alertmanager: records valid POSTs, answers 400 to invalid ones, and can fail on demand. */
class AlertmanagerStub {
  posts: PostableAlert[][] = [];
  requests = 0;
  /** Answer this status to the next `failNext` requests. */
  failNext = 0;
  failStatus = 500;
  /** Never answer (to exercise timeouts). */
  hang = false;
  private readonly http = new LocalHttpServer((req, res) => void this.handle(req, res));
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alerts(): PostableAlert[] {
    return this.posts.flat();
  }

  async start(port = 0): Promise<this> {
    this.port = await this.http.start(port);
    return this;
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    if (this.hang) return;
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/api/v2/alerts') return void res.writeHead(404).end('not found');
    if (this.failNext > 0) {
      this.failNext--;
      return void res.writeHead(this.failStatus, { 'content-type': 'application/json' }).end('"failing on purpose"');
    }
    if (!String(req.headers['content-type']).startsWith('application/json')) return void res.writeHead(415).end();
    const body: unknown = JSON.parse(raw.toString('utf8'));
    const problems = schemaProblems(body);
    if (problems.length > 0) return void res.writeHead(400).end(JSON.stringify(problems.join('; ')));
    this.posts.push(body as PostableAlert[]);
    res.writeHead(200).end();
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const labels = sortedLabels([
  ['__name__', 'node_cpu_usage'],
  ['host', 'web-1'],
  ['cluster', 'c1'],
  ['service', 'api'],
]);
const key = seriesKey(labels);
const T0 = Date.UTC(2025, 0, 6, 9, 30);
const iso = (ms: number) => new Date(ms).toISOString();

function ev(kind: EventKind, ts: number, over: Partial<AnomalyEvent> = {}): AnomalyEvent {
  return {
    id: `${kind}-${ts}`,
    kind,
    seriesKey: key,
    labels,
    host: 'web-1',
    ts,
    startedAt: T0,
    severity: 'warning',
    explanation: { fired: ['zscore'], value: 93, expected: 41, lower: 35, upper: 48, z: 6, trendPerS: 0.01, score: 0.97, summary: 'cpu far above normal' },
    ...over,
  };
}

interface Harness {
  service: InterventionService;
  queue: MemoryJobQueue;
  store: MemoryStateStore;
  logs: { level: string; obj: object; msg?: string }[];
  setNow(ms: number): void;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups.length = 0;
});

async function stub(port = 0): Promise<AlertmanagerStub> {
  const s = await new AlertmanagerStub().start(port);
  cleanups.push(() => s.stop());
  return s;
}

async function harness(options: Partial<InterventionOptions> & { alertmanagerUrls: string[] }, queueAttempts = 30): Promise<Harness> {
  let now = T0 + 60_000;
  const queue = new MemoryJobQueue({ attempts: queueAttempts, backoffBaseMs: 10, backoffMaxMs: 40, closeTimeoutMs: 1000 });
  const store = new MemoryStateStore();
  const logs: Harness['logs'] = [];
  const logger: InterventionLogger = {
    info: (obj, msg) => void logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void logs.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void logs.push({ level: 'error', obj, msg }),
  };
  const service = new InterventionService(
    { resendIntervalMs: 3_600_000, timeoutMs: 500, foreshockUrl: 'http://foreshock.test:9740', ...options },
    { queue, store, logger, clock: () => now },
  );
  await service.start();
  cleanups.push(async () => {
    await queue.close();
    await service.close();
    await store.close();
  });
  return { service, queue, store, logs, setNow: (ms) => void (now = ms) };
}

describe('InterventionService', () => {
  it('opens, updates and resolves an Alertmanager alert with the right times, labels and annotations', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url], endsAtAheadMs: 240_000 });

    h.setNow(T0 + 31_000);
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => am.posts.length === 1);
    const [opened] = am.posts[0];
    expect(opened.labels).toEqual({
      alertname: 'ForeshockAnomaly',
      severity: 'warning',
      host: 'web-1',
      foreshock_series: key,
      metric: 'node_cpu_usage',
      cluster: 'c1',
      service: 'api',
    });
    expect(opened.annotations).toMatchObject({ summary: 'cpu far above normal', value: '93', expected: '41' });
    expect(opened.annotations!.description).toContain('band 35 to 48');
    expect(opened.startsAt).toBe(iso(T0));
    expect(opened.endsAt).toBe(iso(T0 + 31_000 + 240_000));
    expect(new URL(opened.generatorURL!).searchParams.get('series')).toBe(key);

    h.setNow(T0 + 331_000);
    await h.service.handle(ev('anomaly_updated', T0 + 330_000, { explanation: { ...ev('anomaly_updated', 0).explanation, value: 97, summary: 'still high' } }));
    await waitFor(() => am.posts.length === 2);
    const [updated] = am.posts[1];
    expect(updated.labels).toEqual(opened.labels);
    expect(updated.annotations).toMatchObject({ summary: 'still high', value: '97' });
    expect(updated.startsAt).toBe(iso(T0));
    expect(updated.endsAt).toBe(iso(T0 + 331_000 + 240_000));

    h.setNow(T0 + 601_000);
    await h.service.handle(ev('anomaly_resolved', T0 + 600_000));
    await waitFor(() => h.service.stats.notificationsSent === 3);
    const [resolved] = am.posts[2];
    expect(resolved.labels).toEqual(opened.labels);
    expect(resolved.startsAt).toBe(iso(T0));
    expect(resolved.endsAt).toBe(iso(T0 + 600_000));

    const [record] = await h.service.alerts();
    expect(record).toMatchObject({ status: 'resolved', startsAt: T0, endsAt: T0 + 600_000, lastSentAt: T0 + 601_000, severity: 'warning', host: 'web-1' });
    // The API reads the same records from the shared hash.
    expect(Object.keys(await h.store.hgetall(ALERTS_KEY))).toEqual([`anomaly:${key}`]);
    expect(h.service.stats).toMatchObject({ alertsOpened: 1, alertsResolved: 1, notificationsSent: 3, notificationsFailed: 0 });
  });

  it('does not open twice for a duplicate event id, nor reopen on a replayed open', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url] });
    const open = ev('anomaly_opened', T0 + 30_000);
    await Promise.all([h.service.handle(open), h.service.handle(open), h.service.handle({ ...open })]);
    await waitFor(async () => (await h.queue.counts()).completed === 1);
    await h.service.handle(open);
    await h.service.handle(ev('anomaly_resolved', T0 + 600_000));
    await waitFor(async () => (await h.queue.counts()).completed === 2);
    // The same open under another id (a re-emitted event) is older than the resolve: ignored.
    await h.service.handle({ ...open, id: 'replayed-open' });
    await waitFor(async () => (await h.queue.counts()).completed === 3);
    expect(h.service.stats).toMatchObject({ alertsOpened: 1, alertsResolved: 1, eventsIgnored: 1 });
    expect(am.posts.length).toBe(2);
    expect((await h.service.alerts())[0].status).toBe('resolved');
  });

  it('retries with backoff while Alertmanager answers 500, then delivers', async () => {
    const am = await stub();
    am.failNext = 3;
    const h = await harness({ alertmanagerUrls: [am.url] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => h.service.stats.notificationsSent === 1);
    expect(am.posts.length).toBe(1);
    expect(am.requests).toBe(4);
    expect(h.service.stats).toMatchObject({ notificationsFailed: 3, notificationsSent: 1, alertsOpened: 1 });
    expect(h.logs.filter((l) => l.level === 'warn' && (l.obj as { code?: string }).code === 'FS_AM_HTTP')).toHaveLength(3);
    await waitFor(async () => (await h.service.alerts())[0].lastSentAt !== null);
  });

  it('retries while Alertmanager refuses connections, and delivers once it listens', async () => {
    const probe = await new AlertmanagerStub().start();
    const port = probe.port;
    await probe.stop();
    const h = await harness({ alertmanagerUrls: [`http://127.0.0.1:${port}`] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => h.service.stats.notificationsFailed >= 3);
    expect(h.logs.some((l) => (l.obj as { code?: string }).code === 'FS_AM_NETWORK')).toBe(true);
    const am = await stub(port);
    await waitFor(() => am.posts.length === 1);
    expect(am.posts[0][0].labels.alertname).toBe('ForeshockAnomaly');
  });

  it('sends every alert to every Alertmanager and retries until all accepted', async () => {
    const a = await stub();
    const b = await stub();
    b.failNext = 2;
    const h = await harness({ alertmanagerUrls: [a.url, `${b.url}/`] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => h.service.stats.notificationsSent === 4);
    expect(b.posts.length).toBe(1);
    expect(a.posts.length).toBe(3);
    expect(h.service.stats).toMatchObject({ notificationsSent: 4, notificationsFailed: 2 });
  });

  it('does not retry an alert Alertmanager rejects as invalid (4xx)', async () => {
    const am = await stub();
    am.failNext = 1;
    am.failStatus = 400;
    const h = await harness({ alertmanagerUrls: [am.url] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(async () => (await h.queue.counts()).completed === 1);
    expect(am.requests).toBe(1);
    expect(h.service.stats).toMatchObject({ deliveriesRejected: 1, notificationsFailed: 1 });
    expect(h.logs.some((l) => l.level === 'error')).toBe(true);
  });

  it('sends the escalation to critical and resolves the warning label set', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => am.posts.length === 1);
    await h.service.handle(ev('anomaly_updated', T0 + 90_000, { severity: 'critical' }));
    await waitFor(() => am.posts.length === 2);
    expect(am.posts[1].map((a) => [a.labels.severity, Date.parse(a.endsAt!) > T0 + 90_000])).toEqual([
      ['critical', true],
      ['warning', false],
    ]);
    expect(h.service.stats.alertsEscalated).toBe(1);
  });

  it('re-sends firing alerts each interval and resolved ones for resolvedResendForMs, then forgets them', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url], resolvedResendForMs: 600_000, keepResolvedMs: 3_600_000 });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await h.service.handle(ev('anomaly_opened', T0 + 30_000, { id: 'other', seriesKey: 'mem{host="web-1"}' }));
    await waitFor(() => am.posts.length === 2);

    h.setNow(T0 + 120_000);
    await h.service.resendNow();
    expect(am.posts.length).toBe(3);
    expect(am.posts[2].map((a) => a.labels.foreshock_series).sort()).toEqual(['mem{host="web-1"}', key]);
    expect(am.posts[2].every((a) => a.endsAt === iso(T0 + 120_000 + 4 * 3_600_000))).toBe(true);

    await h.service.handle(ev('anomaly_resolved', T0 + 150_000));
    await waitFor(() => am.posts.length === 4);
    h.setNow(T0 + 120_000 + 599_999);
    await h.service.resendNow();
    expect(am.posts[4].map((a) => [a.labels.foreshock_series, a.endsAt])).toEqual(
      expect.arrayContaining([[key, iso(T0 + 150_000)]]),
    );
    h.setNow(T0 + 120_000 + 600_000);
    await h.service.resendNow();
    expect(am.posts[5].map((a) => a.labels.foreshock_series)).toEqual(['mem{host="web-1"}']);
    h.setNow(T0 + 120_000 + 3_600_000);
    await h.service.resendNow();
    expect((await h.service.alerts()).map((a) => a.seriesKey)).toEqual(['mem{host="web-1"}']);
  });

  it('runs the resend loop on its own, so a restarted Alertmanager gets the firing alerts back', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url], resendIntervalMs: 30 });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(() => am.posts.length >= 4);
    expect(new Set(am.posts.map((p) => p[0].labels.alertname))).toEqual(new Set(['ForeshockAnomaly']));
  });

  it('opens a separate forecast-breach alert that expires when no breach refreshes it', async () => {
    const am = await stub();
    const h = await harness({ alertmanagerUrls: [am.url], forecastTtlMs: 3_600_000 });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await h.service.handle(
      ev('forecast_breach', T0 + 40_000, {
        explanation: { ...ev('forecast_breach', 0).explanation, forecast: { threshold: 95, breachAt: T0 + 7_200_000, breachEarliest: T0 + 5_000_000, breachLatest: T0 + 9_000_000 } },
      }),
    );
    await waitFor(() => am.posts.length === 2);
    expect((await h.service.alerts()).map((a) => a.alertname).sort()).toEqual(['ForeshockAnomaly', 'ForeshockForecastBreach']);
    h.setNow(T0 + 60_000 + 3_600_000);
    await h.service.resendNow();
    const forecast = am.posts[2].find((a) => a.labels.alertname === 'ForeshockForecastBreach')!;
    expect(forecast.endsAt).toBe(iso(T0 + 60_000 + 3_600_000));
    expect(forecast.annotations!.threshold).toBe('95');
    expect(h.service.stats.alertsResolved).toBe(1);
  });

  it('tracks alerts without sending when no Alertmanager is configured', async () => {
    const h = await harness({ alertmanagerUrls: [] });
    await h.service.handle(ev('anomaly_opened', T0 + 30_000));
    await waitFor(async () => (await h.service.alerts()).length === 1);
    expect(h.service.stats).toMatchObject({ alertsOpened: 1, notificationsSent: 0 });
  });
});

describe('AlertmanagerClient', () => {
  it('times out a hanging Alertmanager with FS_AM_TIMEOUT', async () => {
    const am = await stub();
    am.hang = true;
    const client = new AlertmanagerClient({ urls: [am.url], timeoutMs: 50 });
    const err = await client.post([{ labels: { alertname: 'x' } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlertmanagerError);
    expect(err).toMatchObject({ code: 'FS_AM_TIMEOUT', upstreamStatus: 0, retryable: true, delivered: 0 });
  });

  it('names the status of a non-2xx answer and posts under a route prefix', async () => {
    const am = await stub();
    am.failNext = 1;
    am.failStatus = 503;
    const client = new AlertmanagerClient({ urls: [am.url] });
    await expect(client.post([{ labels: { alertname: 'x' } }])).rejects.toMatchObject({ code: 'FS_AM_HTTP', upstreamStatus: 503, message: expect.stringContaining('HTTP 503') });
    expect(new AlertmanagerClient({ urls: ['http://am.example/prefix'] }).endpoints).toEqual(['http://am.example/prefix/api/v2/alerts']);
    expect(() => new AlertmanagerClient({ urls: ['not a url'] })).toThrow(expect.objectContaining({ code: 'FS_AM_URL' }));
  });
});
