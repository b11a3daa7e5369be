import { describe, expect, it } from 'vitest';
import { seriesKey, sortedLabels, type AnomalyEvent, type EventKind } from '../../shared/model/index.js';
import {
  ALERTNAME_ANOMALY,
  ALERTNAME_FORECAST,
  alertAnnotations,
  alertLabels,
  applyEvent,
  expireForecast,
  needsResend,
  toPostableAlerts,
  type AlertRecord,
} from './alert-lifecycle.js';

const labels = sortedLabels([
  ['__name__', 'node_cpu_usage'],
  ['host', 'web-1'],
  ['cluster', 'c1'],
  ['k8s.pod-name', 'api-7f'],
  ['empty', ''],
]);
const key = seriesKey(labels);
const T0 = Date.UTC(2025, 0, 6, 9, 30);

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
    explanation: {
      fired: ['zscore', 'ewma'],
      value: 93.25,
      expected: 41.7,
      lower: 35.1,
      upper: 48.3,
      z: 6.123456789,
      trendPerS: 0.012,
      score: 0.97,
      summary: 'cpu 93.2 far above 41.7 expected',
    },
    ...over,
  };
}

function apply(events: AnomalyEvent[], now = T0): { record: AlertRecord | null; transitions: string[] } {
  let record: AlertRecord | null = null;
  const transitions: string[] = [];
  for (const e of events) {
    const r = applyEvent(record, e, now);
    record = r.record;
    transitions.push(r.transition);
  }
  return { record, transitions };
}

describe('alert labels and annotations', () => {
  it('carries the series labels with valid names, metric for __name__, and ours on top', () => {
    const l = alertLabels(ev('anomaly_opened', T0, { labels: sortedLabels([...Object.entries(labels), ['severity', 'page'], ['0ops', 'x']]) }), ALERTNAME_ANOMALY);
    expect(l).toEqual({
      alertname: 'ForeshockAnomaly',
      severity: 'warning',
      host: 'web-1',
      foreshock_series: key,
      metric: 'node_cpu_usage',
      cluster: 'c1',
      k8s_pod_name: 'api-7f',
      _0ops: 'x',
    });
  });

  it('explains the event in the annotations', () => {
    const a = alertAnnotations({ alertname: ALERTNAME_ANOMALY, seriesKey: key, explanation: ev('anomaly_opened', T0).explanation });
    expect(a).toEqual({
      summary: 'cpu 93.2 far above 41.7 expected',
      description: 'value 93.25, expected 41.7 (band 35.1 to 48.3), z 6.12346, trend +0.012/s, score 0.97; detectors fired: zscore, ewma',
      value: '93.25',
      expected: '41.7',
    });
  });
});

describe('applyEvent', () => {
  it('opens, updates and resolves one episode with startsAt at the episode start and endsAt at the resolve', () => {
    const { record, transitions } = apply([ev('anomaly_opened', T0 + 30_000), ev('anomaly_updated', T0 + 330_000), ev('anomaly_resolved', T0 + 600_000)]);
    expect(transitions).toEqual(['opened', 'updated', 'resolved']);
    expect(record).toMatchObject({ id: `anomaly:${key}`, status: 'resolved', startsAt: T0, endsAt: T0 + 600_000, openedBy: `anomaly_opened-${T0 + 30_000}` });
  });

  it('ignores replays: the same event, an older update, and an open after the resolve', () => {
    const open = ev('anomaly_opened', T0 + 30_000);
    const upd = ev('anomaly_updated', T0 + 330_000);
    const res = ev('anomaly_resolved', T0 + 600_000);
    const { record, transitions } = apply([open, open, upd, open, ev('anomaly_updated', T0 + 100_000), res, open, upd, res]);
    expect(transitions).toEqual(['opened', 'duplicate', 'updated', 'duplicate', 'duplicate', 'resolved', 'stale', 'stale', 'duplicate']);
    expect(record!.status).toBe('resolved');
  });

  it('opens a new episode after a resolve and ignores events of the older one', () => {
    const { record, transitions } = apply([
      ev('anomaly_opened', T0 + 30_000),
      ev('anomaly_resolved', T0 + 600_000),
      ev('anomaly_opened', T0 + 3_630_000, { startedAt: T0 + 3_600_000 }),
      ev('anomaly_resolved', T0 + 600_000),
      ev('anomaly_updated', T0 + 300_000),
    ]);
    expect(transitions).toEqual(['opened', 'resolved', 'opened', 'stale', 'stale']);
    expect(record).toMatchObject({ status: 'firing', startsAt: T0 + 3_600_000, endsAt: null });
  });

  it('escalates warning to critical as a new label set and retires the old one', () => {
    const { record, transitions } = apply([
      ev('anomaly_opened', T0 + 30_000),
      ev('anomaly_updated', T0 + 60_000, { severity: 'critical' }),
      ev('anomaly_updated', T0 + 90_000, { severity: 'warning' }),
    ]);
    expect(transitions).toEqual(['opened', 'escalated', 'updated']);
    expect(record!.labels.severity).toBe('critical');
    expect(record!.retired).toMatchObject({ labels: { severity: 'warning' }, endsAt: T0 + 60_000 });
    const alerts = toPostableAlerts(record!, T0 + 100_000, { endsAtAheadMs: 240_000, resolvedResendForMs: 900_000, foreshockUrl: '' });
    expect(alerts.map((a) => [a.labels.severity, a.endsAt])).toEqual([
      ['critical', new Date(T0 + 340_000).toISOString()],
      ['warning', new Date(T0 + 60_000).toISOString()],
    ]);
  });

  it('records the resolve of an episode it never saw open', () => {
    const { record, transitions } = apply([ev('anomaly_resolved', T0 + 600_000)]);
    expect(transitions).toEqual(['resolved_unseen']);
    expect(record).toMatchObject({ status: 'resolved', startsAt: T0, endsAt: T0 + 600_000 });
  });

  it('keeps forecast breaches a separate alert that expires without refresh', () => {
    const breach = ev('forecast_breach', T0 + 10_000, {
      explanation: { ...ev('anomaly_opened', T0).explanation, forecast: { threshold: 95, breachAt: T0 + 7_200_000, breachEarliest: T0 + 5_400_000, breachLatest: T0 + 9_000_000 } },
    });
    const { record, transitions } = apply([breach, { ...breach, id: 'b2', ts: T0 + 20_000, startedAt: T0 + 20_000 }], 1_000);
    expect(transitions).toEqual(['opened', 'updated']);
    expect(record).toMatchObject({ id: `forecast:${key}`, alertname: ALERTNAME_FORECAST, startsAt: T0, labels: { alertname: 'ForeshockForecastBreach' } });
    expect(alertAnnotations(record!).description).toContain('forecast crosses 95 at 2025-01-06T11:30:00.000Z');
    expect(expireForecast(record!, 1_000 + 3_599_999, 3_600_000)).toBeNull();
    const expired = expireForecast(record!, 1_000 + 3_600_000, 3_600_000)!;
    expect(expired).toMatchObject({ status: 'resolved', resolvedAt: 3_601_000 });
    expect(applyEvent(expired, { ...breach, id: 'b3', ts: T0 + 30_000 }, 4_000_000).transition).toBe('opened');
  });

  it('sends firing alerts with endsAt ahead of now and resolved ones for a while', () => {
    const { record } = apply([ev('anomaly_opened', T0 + 30_000)], T0);
    const now = T0 + 50_000;
    const [a] = toPostableAlerts(record!, now, { endsAtAheadMs: 240_000, resolvedResendForMs: 900_000, foreshockUrl: 'http://fs.example:9740' });
    expect(a.startsAt).toBe(new Date(T0).toISOString());
    expect(a.endsAt).toBe(new Date(now + 240_000).toISOString());
    expect(a.generatorURL).toBe(`http://fs.example:9740/?series=${encodeURIComponent(key).replace(/%20/g, '+')}`);
    const resolved = applyEvent(record, ev('anomaly_resolved', T0 + 600_000), now).record;
    expect(needsResend(resolved, now + 899_999, 900_000)).toBe(true);
    expect(needsResend(resolved, now + 900_000, 900_000)).toBe(false);
  });
});
