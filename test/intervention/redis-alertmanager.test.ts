// The intervention worker on its real adapters (BullMQ JobQueue and Redis StateStore on a real
// redis-server) delivering to a real Alertmanager: the anomalies of one group open exactly one
// alert, it stays firing while they last (re-sent with endsAt ahead), and it resolves after.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullMqJobQueue } from '../../shared/adapters/bullmq/index.js';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { AUDIT_LOG, type AuditEntry } from '../../shared/model/index.js';
import { InterventionService } from '../../services/intervention/index.js';
import { dropNamespace, testNamespace } from '../adapters/redis-namespace.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { anomalyEvent, RecordingLogger } from './support/events.js';

const redis = requireService('redis');
const alertmanager = requireService('alertmanager');

interface GettableAlert {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

describe.skipIf(!redis || !alertmanager)('intervention on BullMQ + Redis → Alertmanager', () => {
  const ns = testNamespace();
  const cluster = `fs-it-${ns.slice(8, 16)}`;
  const queue = new BullMqJobQueue({ url: redis!, prefix: `${ns}q`, backoffBaseMs: 100, backoffMaxMs: 1000, closeTimeoutMs: 2000 });
  const store = new RedisStateStore({ url: redis!, keyPrefix: `${ns}s:` });
  const logger = new RecordingLogger();
  const service = new InterventionService(
    { alertmanagerUrls: [alertmanager!], resendIntervalMs: 1000, timeoutMs: 2000, groupBy: ['cluster'], foreshockUrl: 'http://127.0.0.1:9740/' },
    { queue, store, logger, clock: Date.now },
  );
  const startedAt = Date.now() - 60_000;
  const hosts = ['a', 'b', 'c'];

  async function active(): Promise<GettableAlert[]> {
    const url = new URL('/api/v2/alerts', alertmanager!);
    url.searchParams.append('filter', `cluster="${cluster}"`);
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
    await dropNamespace(redis!, ns);
  });

  it('opens exactly one alert for the anomalies of one cluster and keeps it firing', async () => {
    for (const h of hosts) {
      const e = anomalyEvent({ host: `${cluster}-${h}`, cluster, kind: 'anomaly_opened', startedAt, tag: ns });
      await service.handle(e);
      await service.handle(e); // a replay is a no-op
    }
    const [alert] = await waitFor(async () => {
      const list = await active();
      return list.length === 1 && list[0].status.state === 'active' ? list : null;
    }, 15_000);
    expect(alert.labels).toMatchObject({ alertname: 'ForeshockAnomaly', cluster, foreshock_group: `cluster=${cluster}` });
    expect(Date.parse(alert.startsAt)).toBe(startedAt);
    const firstEndsAt = Date.parse(alert.endsAt);
    // Three resend intervals later: still exactly one, its endsAt pushed ahead.
    await new Promise((r) => setTimeout(r, 3500));
    const later = await active();
    expect(later).toHaveLength(1);
    expect(Date.parse(later[0].endsAt)).toBeGreaterThan(firstEndsAt);
    const records = await service.alerts();
    expect(records.filter((r) => r.status === 'firing')).toHaveLength(1);
    expect(Object.keys(records[0].members ?? {})).toHaveLength(3);
    expect(service.stats.alertsOpened).toBe(1);
    expect((await queue.counts()).failed).toBe(0);
  });

  it('resolves after the last member resolves, and stays resolved', async () => {
    for (const h of hosts) {
      await service.handle(anomalyEvent({ host: `${cluster}-${h}`, cluster, kind: 'anomaly_resolved', startedAt, tag: ns }));
    }
    await waitFor(async () => ((await active()).length === 0 ? true : null), 15_000);
    await new Promise((r) => setTimeout(r, 2500)); // resends of the resolution do not bring it back
    expect(await active()).toHaveLength(0);
    const [record] = await service.alerts();
    expect(record.status).toBe('resolved');
    const audit = (await store.range(AUDIT_LOG, 1000)).map((e) => JSON.parse(e.entry) as AuditEntry).reverse();
    const transitions = audit.filter((e) => e.kind === 'alert').map((e) => e.action);
    expect(transitions).toEqual(['opened', 'updated', 'updated', 'updated', 'updated', 'resolved']);
    const posts = audit.filter((e) => e.kind === 'notification');
    expect(posts.length).toBeGreaterThanOrEqual(6);
    expect(posts.every((e) => e.target!.startsWith(alertmanager!) && e.status === 200)).toBe(true);
    expect(service.stats).toMatchObject({ alertsOpened: 1, alertsResolved: 1, notificationsFailed: 0 });
  });
});
