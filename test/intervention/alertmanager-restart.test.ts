// Alertmanager keeps alerts in memory only. With an HA pair of private Alertmanagers, one stopped
// during an open alert and started again: its peer keeps the alert meanwhile, the resend loop
// brings it back, and a resolve that happened while it was down still reaches it (it notifies
// its receiver "resolved").

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJobQueue, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { InterventionService } from '../../services/intervention/index.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { anomalyEvent, RecordingLogger } from './support/events.js';
import { PrivateAlertmanager } from '../support/private-alertmanager.js';

// The shared server's presence says the Debian package is installed; this suite runs its own.
const shared = requireService('alertmanager');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!shared || !PrivateAlertmanager.available())('Alertmanager restarted during an open alert', () => {
  const am = new PrivateAlertmanager();
  const peer = new PrivateAlertmanager();
  const host = `fs-restart-${process.pid}-${Date.now().toString(36)}`;
  const queue = new MemoryJobQueue({ backoffBaseMs: 200, backoffMaxMs: 1000, attempts: 30 });
  const store = new MemoryStateStore();
  let service: InterventionService;
  const startedAt = Date.now() - 30_000;
  const spec = { host, cluster: 'restart', kind: 'anomaly_opened' as const, startedAt, tag: 'restart' };

  beforeAll(async () => {
    await am.setUp();
    await peer.setUp();
    await Promise.all([am.start(), peer.start()]);
    service = new InterventionService(
      { alertmanagerUrls: [am.url, peer.url], resendIntervalMs: 1000, timeoutMs: 1000 },
      { queue, store, logger: new RecordingLogger(), clock: Date.now },
    );
    await service.start();
  });

  afterAll(async () => {
    await queue.close();
    await service.close();
    await store.close();
    await am.tearDown();
    await peer.tearDown();
  });

  const ours = (m = am) => m.active(`host="${host}"`);
  const notified = (status: string, m = am) => m.notifications.some((n) => n.alerts.some((a) => a.labels.host === host && a.status === status));

  it('is there again after Alertmanager comes back', async () => {
    await service.handle(anomalyEvent(spec));
    await waitFor(async () => ((await ours()).length === 1 ? true : null), 10_000);
    await waitFor(async () => (notified('firing') ? true : null), 10_000);
    await waitFor(async () => ((await ours(peer)).length === 1 && notified('firing', peer) ? true : null), 10_000);
    await am.stop();
    await sleep(2500);
    expect(service.stats.notificationsFailed).toBeGreaterThan(0); // the resend loop kept trying
    expect(await ours(peer)).toHaveLength(1); // the peer kept it all along
    await am.start();
    const [alert] = await waitFor(async () => {
      const l = await ours();
      return l.length === 1 ? l : null;
    }, 10_000);
    expect(alert.labels).toMatchObject({ alertname: 'ForeshockAnomaly', host });
    expect(Date.parse(alert.startsAt)).toBe(startedAt);
  });

  it('gets the resolution that happened while it was down', async () => {
    await am.stop();
    await service.handle(anomalyEvent({ ...spec, kind: 'anomaly_resolved', ts: Date.now() }));
    await waitFor(async () => ((await service.alerts())[0].status === 'resolved' ? true : null), 5000);
    await sleep(2000);
    await am.start();
    await waitFor(async () => (notified('resolved') ? true : null), 20_000);
    expect(await ours()).toHaveLength(0);
    expect(notified('resolved', peer)).toBe(true);
    expect(await ours(peer)).toHaveLength(0);
  });
});
