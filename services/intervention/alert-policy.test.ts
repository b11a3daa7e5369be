import { describe, expect, it } from 'vitest';
import { seriesKey, sortedLabels, type AnomalyEvent, type EventKind } from '../../shared/model/index.js';
import type { AlertRecord } from './alert-lifecycle.js';
import { alertIdFor, applyWithPolicy, releaseHeld, type AlertPolicy } from './alert-policy.js';

const T0 = Date.UTC(2025, 0, 6, 9, 30);

function ev(host: string, kind: EventKind, startedAt: number, ts: number, over: Partial<AnomalyEvent> = {}): AnomalyEvent {
  const labels = sortedLabels([['__name__', 'cpu'], ['host', host], ['cluster', 'db'], ['service', 'pg']]);
  return {
    id: `${host}-${kind}-${startedAt}-${ts}`,
    kind,
    seriesKey: seriesKey(labels),
    labels,
    host,
    ts,
    startedAt,
    severity: 'warning',
    explanation: { fired: ['zscore'], value: 9, expected: 1, lower: 0, upper: 2, z: 7, trendPerS: 0, score: 0.97, summary: `cpu ${host}` },
    ...over,
  };
}

/** Applies events in order like the lifecycle does (duplicates and stale events change nothing). */
function run(policy: AlertPolicy, events: [AnomalyEvent, number][], start: AlertRecord | null = null) {
  let rec = start;
  const transitions: string[] = [];
  for (const [e, now] of events) {
    const r = applyWithPolicy(rec, e, now, policy);
    transitions.push(r.transition);
    if (r.transition !== 'duplicate' && r.transition !== 'stale') rec = r.record;
  }
  return { rec: rec!, transitions };
}

describe('alert grouping', () => {
  const policy: AlertPolicy = { groupBy: ['cluster', 'service'], minFiringMs: 0, resolveHoldMs: 0 };

  it('folds the anomalies of a group into one alert that resolves when the last member does', () => {
    const a = ev('db-1', 'anomaly_opened', T0, T0 + 1);
    expect(alertIdFor(a, policy)).toBe('group:cluster=db,service=pg');
    expect(alertIdFor(ev('db-2', 'anomaly_opened', T0, T0), policy)).toBe(alertIdFor(a, policy));
    const { rec, transitions } = run(policy, [
      [a, 1],
      [ev('db-2', 'anomaly_opened', T0 + 10, T0 + 11), 2],
      [ev('db-3', 'anomaly_opened', T0 + 20, T0 + 21, { severity: 'critical' }), 3],
      [a, 4], // replayed
      [ev('db-1', 'anomaly_resolved', T0, T0 + 100), 5],
      [ev('db-2', 'anomaly_resolved', T0 + 10, T0 + 110), 6],
    ]);
    expect(transitions).toEqual(['opened', 'updated', 'escalated', 'duplicate', 'updated', 'updated']);
    expect(rec.status).toBe('firing');
    expect(rec.labels).toEqual({ cluster: 'db', service: 'pg', foreshock_group: 'cluster=db,service=pg', severity: 'critical', alertname: 'ForeshockAnomaly' });
    expect(Object.keys(rec.members!)).toHaveLength(1);
    const end = run(policy, [
      [ev('db-3', 'anomaly_resolved', T0 + 20, T0 + 120), 7],
      [ev('db-1', 'anomaly_opened', T0, T0 + 1), 8], // a replay of a closed member episode
      [ev('db-3', 'anomaly_resolved', T0 + 20, T0 + 120), 9],
    ], rec);
    expect(end.transitions).toEqual(['resolved', 'stale', 'duplicate']);
    expect(end.rec).toMatchObject({ status: 'resolved', startsAt: T0, endsAt: T0 + 120 });
    // A new episode of a member opens the group again.
    const again = run(policy, [[ev('db-1', 'anomaly_opened', T0 + 500, T0 + 501), 10]], end.rec);
    expect(again.transitions).toEqual(['opened']);
    expect(again.rec.startsAt).toBe(T0 + 500);
  });
});

describe('anti-flapping', () => {
  it('holds a resolve; a new anomaly meanwhile continues the same alert', () => {
    const policy: AlertPolicy = { groupBy: [], minFiringMs: 0, resolveHoldMs: 60_000 };
    const now = 1_000_000;
    const { rec, transitions } = run(policy, [
      [ev('web-1', 'anomaly_opened', T0, T0 + 1), now],
      [ev('web-1', 'anomaly_resolved', T0, T0 + 100), now + 1000],
    ]);
    expect(transitions).toEqual(['opened', 'resolve_held']);
    expect(rec.status).toBe('firing');
    expect(releaseHeld(rec, now + 30_000, policy)).toBeNull();
    const flap = run(policy, [
      [ev('web-1', 'anomaly_opened', T0 + 200, T0 + 201), now + 30_000],
      [ev('web-1', 'anomaly_updated', T0 + 200, T0 + 300), now + 31_000],
      [ev('web-1', 'anomaly_resolved', T0, T0 + 100), now + 32_000], // the old episode's resolve again
    ], rec);
    expect(flap.transitions).toEqual(['updated', 'updated', 'stale']);
    expect(flap.rec).toMatchObject({ status: 'firing', startsAt: T0, episodeStart: T0 + 200, pendingResolve: null });
    const end = run(policy, [[ev('web-1', 'anomaly_resolved', T0 + 200, T0 + 400), now + 40_000]], flap.rec);
    expect(end.transitions).toEqual(['resolve_held']);
    expect(releaseHeld(end.rec, now + 99_000, policy)).toBeNull();
    expect(releaseHeld(end.rec, now + 100_000, policy)).toMatchObject({ status: 'resolved', startsAt: T0, endsAt: T0 + 400 });
  });

  it('keeps an alert firing for the minimum firing time', () => {
    const policy: AlertPolicy = { groupBy: [], minFiringMs: 10_000, resolveHoldMs: 0 };
    const now = 5_000_000;
    const { rec } = run(policy, [
      [ev('web-2', 'anomaly_opened', T0, T0 + 1), now],
      [ev('web-2', 'anomaly_resolved', T0, T0 + 2), now + 1000],
    ]);
    expect(rec.status).toBe('firing');
    expect(releaseHeld(rec, now + 9_999, policy)).toBeNull();
    expect(releaseHeld(rec, now + 10_000, policy)?.status).toBe('resolved');
  });
});

describe('one page per incident (host groups, catalogue roles)', () => {
  const policy: AlertPolicy = { groupBy: ['host'], carryLabels: ['cluster', 'service'], minFiringMs: 0, resolveHoldMs: 0 };
  const ctx = (name: string, kind: EventKind, startedAt: number, ts: number, score = 0.95) => {
    const labels = sortedLabels([['__name__', name], ['host', 'db-3'], ['cluster', 'db'], ['service', 'pg']]);
    return ev('db-3', kind, startedAt, ts, {
      id: `${name}-${kind}-${startedAt}-${ts}`, labels, seriesKey: seriesKey(labels), role: 'context', pages: false,
      explanation: { fired: ['zscore'], value: 9, expected: 1, lower: 0, upper: 2, z: 7, trendPerS: 0, score, summary: `${name} unusual` },
    });
  };
  const signal = (kind: EventKind, startedAt: number, ts: number, severity: 'warning' | 'critical') => {
    const labels = sortedLabels([['__name__', 'host:filesystem_used:ratio'], ['host', 'db-3'], ['cluster', 'db'], ['service', 'pg'], ['mountpoint', '/data']]);
    return ev('db-3', kind, startedAt, ts, {
      id: `fs-${kind}-${startedAt}-${ts}`, labels, seriesKey: seriesKey(labels), role: 'signal', pages: true, severity,
      explanation: { fired: [], value: 0.7, expected: 0.7, lower: 0.6, upper: 0.8, z: 0, trendPerS: 0.001, score: 1, summary: `disk /data full in about 3 h` },
    });
  };

  it('context alone never opens an alert; a signal opens one that lists what else is unusual on the host, paging members first', () => {
    const { rec, transitions } = run(policy, [
      [ctx('node_load1', 'anomaly_opened', T0, T0 + 1), 1],
      [ctx('go_goroutines', 'anomaly_opened', T0 + 5, T0 + 6, 0.91), 2],
      [ctx('go_goroutines', 'anomaly_resolved', T0 + 5, T0 + 60), 3],
      [signal('forecast_breach', T0 + 100, T0 + 100, 'warning'), 4],
      [ctx('process_open_fds', 'anomaly_opened', T0 + 110, T0 + 111), 5],
      [signal('saturation_opened', T0 + 200, T0 + 200, 'critical'), 6],
    ]);
    expect(transitions).toEqual(['noted', 'noted', 'noted', 'opened', 'updated', 'escalated']);
    expect(rec.status).toBe('firing');
    expect(rec.alertname).toBe('ForeshockForecastBreach');
    expect(rec.labels).toEqual({ host: 'db-3', cluster: 'db', service: 'pg', foreshock_group: 'host=db-3', severity: 'critical', alertname: 'ForeshockForecastBreach' });
    const members = Object.values(rec.memberInfo!).sort((a, b) => Number(b.pages) - Number(a.pages));
    expect(members.filter((m) => m.pages).map((m) => m.family).sort()).toEqual(['forecast', 'saturation']);
    expect(members.filter((m) => !m.pages).map((m) => m.metric).sort()).toEqual(['node_load1', 'process_open_fds']);
  });

  it('resolves when the last paging member ends, though context members are still unusual', () => {
    const opened = run(policy, [
      [ctx('node_load1', 'anomaly_opened', T0, T0 + 1), 1],
      [signal('saturation_opened', T0 + 200, T0 + 200, 'critical'), 2],
    ]).rec;
    const end = run(policy, [[signal('saturation_resolved', T0 + 200, T0 + 900, 'critical'), 3]], opened);
    expect(end.transitions).toEqual(['resolved']);
    expect(end.rec).toMatchObject({ status: 'resolved', endsAt: T0 + 900 });
    // the context member stays remembered: it is listed if the host pages again
    const again = run(policy, [[signal('forecast_breach', T0 + 2000, T0 + 2000, 'warning'), 4]], end.rec);
    expect(again.transitions).toEqual(['opened']);
    expect(Object.keys(again.rec.memberInfo!)).toHaveLength(2);
  });
});
