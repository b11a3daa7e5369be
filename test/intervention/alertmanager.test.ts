// Intervention against a real Alertmanager (Debian prometheus-alertmanager): an anomaly opened
// by the detector shows up there as an active alert with our labels, and its resolve ends it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJobQueue, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { seriesKey, sortedLabels, type AnomalyEvent, type EventKind } from '../../shared/model/index.js';
import { InterventionService, type InterventionLogger } from '../../services/intervention/index.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const alertmanager = requireService('alertmanager');

/** gettableAlert of Alertmanager's OpenAPI, the fields this test reads. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: 'unprocessed' | 'active' | 'suppressed' };
}

describe.skipIf(!alertmanager)('intervention → Alertmanager', () => {
  // A host of its own, so alerts of other runs or suites on the same Alertmanager do not match.
  const host = `fs-it-${Date.now().toString(36)}-${process.pid}`;
  const labels = sortedLabels([
    ['__name__', 'node_load1'],
    ['host', host],
    ['cluster', 'it'],
  ]);
  const key = seriesKey(labels);
  const queue = new MemoryJobQueue({ backoffBaseMs: 100, backoffMaxMs: 1000 });
  const store = new MemoryStateStore();
  const logger: InterventionLogger = { info: () => {}, warn: () => {}, error: () => {} };
  const service = new InterventionService(
    { alertmanagerUrls: [alertmanager ?? ''], resendIntervalMs: 1000, foreshockUrl: 'http://127.0.0.1:9740', timeoutMs: 2000 },
    { queue, store, logger, clock: Date.now },
  );
  const startedAt = Date.now() - 30_000;

  function event(kind: EventKind, ts: number): AnomalyEvent {
    return {
      id: `${host}-${startedAt}-${kind}`,
      kind,
      seriesKey: key,
      labels,
      host,
      ts,
      startedAt,
      severity: 'critical',
      explanation: {
        fired: ['zscore', 'holt'],
        value: 17.5,
        expected: 2.1,
        lower: 0.4,
        upper: 3.8,
        z: 9.2,
        trendPerS: 0.05,
        score: 0.995,
        summary: `load ${host} 17.5, expected 2.1`,
      },
    };
  }

  async function ours(): Promise<GettableAlert[]> {
    const url = new URL('api/v2/alerts', alertmanager!.endsWith('/') ? alertmanager! : `${alertmanager}/`);
    url.searchParams.append('filter', `host="${host}"`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return (await res.json()) as GettableAlert[];
  }

  beforeAll(async () => {
    await service.start();
  });

  afterAll(async () => {
    await queue.close();
    await service.close();
    await store.close();
  });

  it('opens an active alert with our labels and annotations', async () => {
    await service.handle(event('anomaly_opened', Date.now()));
    const [alert] = await waitFor(async () => {
      const list = await ours();
      return list.length > 0 && list[0].status.state === 'active' ? list : null;
    }, 10_000);
    expect(alert.labels).toEqual({
      alertname: 'ForeshockAnomaly',
      severity: 'critical',
      host,
      cluster: 'it',
      metric: 'node_load1',
      foreshock_series: key,
    });
    expect(alert.annotations).toMatchObject({ summary: `load ${host} 17.5, expected 2.1`, value: '17.5', expected: '2.1' });
    expect(alert.annotations.description).toContain('detectors fired: zscore, holt');
    expect(Date.parse(alert.startsAt)).toBe(startedAt);
    expect(Date.parse(alert.endsAt)).toBeGreaterThan(Date.now());
    expect(alert.generatorURL).toContain('series=');
    expect(service.stats.alertsOpened).toBe(1);
  });

  it('keeps one alert when the same event arrives again and the resend loop runs', async () => {
    await service.handle(event('anomaly_opened', Date.now()));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await ours()).toHaveLength(1);
    expect(service.stats.alertsOpened).toBe(1);
  });

  it('resolves it: the alert leaves the active list within seconds', async () => {
    await service.handle(event('anomaly_resolved', Date.now()));
    // Alertmanager's GET /api/v2/alerts lists only alerts whose endsAt is still ahead; a
    // resolved alert (endsAt = the resolve time) is gone from it.
    await waitFor(async () => ((await ours()).length === 0 ? true : null), 10_000);
    const [record] = await service.alerts();
    expect(record).toMatchObject({ status: 'resolved', seriesKey: key });
    expect(service.stats.alertsResolved).toBe(1);
    // The resend loop keeps sending the resolution; it must not bring the alert back.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await ours()).toHaveLength(0);
    expect(service.stats).toMatchObject({ notificationsFailed: 0, deliveriesRejected: 0 });
    expect(service.stats.notificationsSent).toBeGreaterThanOrEqual(3);
  });
});
