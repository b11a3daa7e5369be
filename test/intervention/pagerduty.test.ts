// Paging through PagerDuty's Events API v2, against a local receiver that checks every request
// against the documented schema: trigger and resolve share one dedup_key, 429 is retried into
// exactly one delivered trigger, 400 is dead-lettered, the per-key rate holds, keys stay secret.

import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJobQueue, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { AUDIT_LOG, type AuditEntry } from '../../shared/model/index.js';
import type { PagerDutyRoute } from '../../shared/config/index.js';
import { InterventionService, PAGERDUTY_DEAD_LETTERS } from '../../services/intervention/index.js';
import { waitFor } from '../support/wait.js';
import { anomalyEvent, RecordingLogger } from './support/events.js';
import { PagerDutyReceiver, pagerDutyProblems } from './support/pagerduty-receiver.js';

const KEY_OPS = 'R0UTINGKEY0PS00000000000000000a1';
const KEY_DB = 'R0UTINGKEYDB000000000000000000b2';
const ROUTES: PagerDutyRoute[] = [
  { name: 'db-team', routingKey: KEY_DB, match: { cluster: 'db' } },
  { name: 'ops', routingKey: KEY_OPS, match: {} },
];

interface Harness {
  service: InterventionService;
  store: MemoryStateStore;
  queue: MemoryJobQueue;
  logger: RecordingLogger;
}

const open: Harness[] = [];
let receiver: PagerDutyReceiver;

async function harness(pd: PagerDutyReceiver, over: { ratePerMinute?: number; rateWindowMs?: number; minSeverity?: 'warning' | 'critical' } = {}): Promise<Harness> {
  const store = new MemoryStateStore();
  const queue = new MemoryJobQueue({ backoffBaseMs: 50, backoffMaxMs: 200, attempts: 6 });
  const logger = new RecordingLogger();
  const service = new InterventionService(
    {
      alertmanagerUrls: [],
      foreshockUrl: 'http://foreshock.example:9740/',
      pagerduty: { url: pd.url, routes: ROUTES, minSeverity: over.minSeverity ?? 'critical', ratePerMinute: over.ratePerMinute ?? 100, rateWindowMs: over.rateWindowMs, timeoutMs: 2000 },
      concurrency: 8,
    },
    { queue, store, logger, clock: Date.now },
  );
  await service.start();
  const h = { service, store, queue, logger };
  open.push(h);
  return h;
}

async function audit(store: MemoryStateStore): Promise<AuditEntry[]> {
  return (await store.range(AUDIT_LOG, 10_000)).map((e) => JSON.parse(e.entry) as AuditEntry).reverse();
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.queue.close();
    await h.service.close();
    await h.store.close();
  }
  await receiver?.stop();
});

describe('PagerDuty Events API v2', () => {
  it('the receiver refuses what PagerDuty refuses (the schema check can fail)', () => {
    expect(pagerDutyProblems(JSON.stringify({ routing_key: KEY_OPS, event_action: 'trigger', payload: { summary: 'x', source: 'h', severity: 'high' } }))).toEqual([
      'payload.severity must be critical, error, warning or info',
    ]);
    expect(pagerDutyProblems(JSON.stringify({ routing_key: KEY_OPS, event_action: 'resolve' }))).toContain('dedup_key is required to acknowledge or resolve');
    expect(pagerDutyProblems(JSON.stringify({ routing_key: 'short', event_action: 'trigger', dedup_key: 'k', payload: { summary: 'x'.repeat(1025), source: 'h', severity: 'info' } }))).toEqual([
      'routing_key must be the 32 character integration key',
      'payload.summary must be 1-1024 characters',
    ]);
  });

  it('triggers and resolves with the same dedup_key on the route of the alert, explanation in custom_details', async () => {
    receiver = await new PagerDutyReceiver().start();
    const h = await harness(receiver);
    const startedAt = Date.now() - 60_000;
    const spec = { host: 'db-7', cluster: 'db', kind: 'anomaly_opened' as const, startedAt, tag: 'pd1' };
    await h.service.handle(anomalyEvent(spec));
    await h.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_updated', ts: Date.now() + 1 }));
    await waitFor(async () => (receiver.accepted('trigger').length === 1 ? true : null), 5000, 10);
    await h.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_resolved', ts: Date.now() + 2 }));
    await waitFor(async () => (receiver.accepted('resolve').length === 1 ? true : null), 5000, 10);
    await new Promise((r) => setTimeout(r, 200));

    expect(receiver.invalid).toEqual([]);
    expect(receiver.received).toHaveLength(2); // the update did not page again
    const [trigger, resolve] = receiver.received.map((r) => r.body);
    expect(trigger.routing_key).toBe(KEY_DB); // first matching route
    expect(resolve.routing_key).toBe(KEY_DB);
    expect(trigger.dedup_key).toBeTruthy();
    expect(resolve.dedup_key).toBe(trigger.dedup_key);
    expect(trigger.payload).toMatchObject({
      summary: 'load on db-7 17.5, expected 2.1',
      source: 'db-7',
      severity: 'critical',
      component: 'node_load1',
      group: 'db',
      class: 'ForeshockAnomaly',
    });
    const details = trigger.payload!.custom_details as Record<string, unknown>;
    expect(details).toMatchObject({ value: 17.5, expected: 2.1, z: 9.2, score: 0.99, detectors: ['zscore', 'ewma'] });
    expect(String(details.description)).toContain('detectors fired: zscore, ewma');
    expect((trigger.links as { href: string }[])[0].href).toContain('series=');

    const entries = (await audit(h.store)).filter((e) => e.kind === 'notification');
    expect(entries.map((e) => [e.action, e.target, e.status, e.outcome])).toEqual([
      ['pagerduty.trigger', 'pagerduty/db-team', 202, 'ok'],
      ['pagerduty.resolve', 'pagerduty/db-team', 202, 'ok'],
    ]);
    // The routing key is a secret: not in logs, not in the audit, not in stored state.
    const stored = JSON.stringify(await h.store.hgetall('fs:alerts')) + JSON.stringify(await audit(h.store));
    for (const text of [h.logger.text(), stored]) {
      expect(text).not.toContain(KEY_DB);
      expect(text).not.toContain(KEY_OPS);
    }
  });

  it('resolves the page of an alert whose state was lost (a restart on a store without persistence)', async () => {
    receiver = await new PagerDutyReceiver().start();
    const before = await harness(receiver);
    const startedAt = Date.now() - 60_000;
    const spec = { host: 'db-8', cluster: 'db', kind: 'anomaly_opened' as const, startedAt, tag: 'pd-lost' };
    await before.service.handle(anomalyEvent(spec));
    await waitFor(async () => (receiver.accepted('trigger').length === 1 ? true : null), 5000, 10);
    // A new worker on an empty store gets the end of the episode (its resolve has a warning severity).
    const after = await harness(receiver);
    await after.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_resolved', ts: Date.now() + 1, severity: 'warning' }));
    await waitFor(async () => (receiver.accepted('resolve').length === 1 ? true : null), 5000, 10);
    const [trigger, resolve] = receiver.received.map((r) => r.body);
    expect(resolve.dedup_key).toBe(trigger.dedup_key);
    expect(resolve.routing_key).toBe(KEY_DB);
    expect(receiver.invalid).toEqual([]);
    // Replayed, the resolve is not sent again.
    await after.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_resolved', ts: Date.now() + 2, severity: 'warning' }));
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received).toHaveLength(2);
  });

  it('warning alerts do not page under minSeverity critical; escalation to critical pages once', async () => {
    receiver = await new PagerDutyReceiver().start();
    const h = await harness(receiver);
    const startedAt = Date.now() - 60_000;
    const spec = { host: 'web-2', cluster: 'web', kind: 'anomaly_opened' as const, startedAt, tag: 'pd2', severity: 'warning' as const };
    await h.service.handle(anomalyEvent(spec));
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(0);
    await h.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_updated', severity: 'critical', ts: Date.now() + 1 }));
    await waitFor(async () => (receiver.accepted('trigger').length === 1 ? true : null), 5000, 10);
    expect(receiver.received[0].body.routing_key).toBe(KEY_OPS); // the catch-all route
    expect(receiver.received[0].body.payload!.severity).toBe('critical');
  });

  it('answers 429 then 202: the trigger is retried with backoff and delivered once', async () => {
    receiver = await new PagerDutyReceiver().start();
    receiver.script = [429, 503];
    const h = await harness(receiver);
    await h.service.handle(anomalyEvent({ host: 'api-1', cluster: 'api', kind: 'anomaly_opened', startedAt: Date.now() - 1000, tag: 'pd3' }));
    await waitFor(async () => (receiver.accepted('trigger').length === 1 ? true : null), 10_000, 10);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.map((r) => r.status)).toEqual([429, 503, 202]);
    expect(new Set(receiver.received.map((r) => r.body.dedup_key)).size).toBe(1);
    expect(receiver.accepted()).toHaveLength(1);
    const attempts = (await audit(h.store)).filter((e) => e.kind === 'notification').map((e) => [e.status, e.outcome, e.attempt]);
    expect(attempts).toEqual([[429, 'failed', 1], [503, 'failed', 2], [202, 'ok', 3]]);
    expect(h.service.allStats()).toMatchObject({ pagesSent: 1, pagesRetried: 2, pagesRejected: 0 });
  });

  it('answers 400: logged and dead-lettered, not retried', async () => {
    receiver = await new PagerDutyReceiver().start();
    receiver.script = [400];
    const h = await harness(receiver);
    await h.service.handle(anomalyEvent({ host: 'api-2', cluster: 'api', kind: 'anomaly_opened', startedAt: Date.now() - 1000, tag: 'pd4' }));
    await waitFor(async () => ((await h.store.range(PAGERDUTY_DEAD_LETTERS, 10)).length === 1 ? true : null), 5000, 10);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.received).toHaveLength(1);
    const [dead] = await h.store.range(PAGERDUTY_DEAD_LETTERS, 10);
    expect(JSON.parse(dead.entry)).toMatchObject({ route: 'ops', status: 400, event: { event_action: 'trigger' } });
    expect(dead.entry).not.toContain(KEY_OPS);
    expect(h.logger.records.some((r) => r.level === 'error' && String(r.msg).includes('dead-lettered'))).toBe(true);
    const n = (await audit(h.store)).filter((e) => e.kind === 'notification');
    expect(n.map((e) => [e.status, e.outcome])).toEqual([[400, 'dead_letter']]);
  });

  it('keeps the rate per routing key: never more than the limit in any window', async () => {
    receiver = await new PagerDutyReceiver().start();
    const h = await harness(receiver, { ratePerMinute: 5, rateWindowMs: 1000 });
    const t0 = Date.now();
    for (let i = 0; i < 12; i++) {
      await h.service.handle(anomalyEvent({ host: `burst-${i}`, cluster: 'web', kind: 'anomaly_opened', startedAt: t0 - 1000, tag: 'pd5' }));
    }
    await waitFor(async () => (receiver.accepted().length === 12 ? true : null), 10_000, 10);
    const times = receiver.received.map((r) => r.at).sort((a, b) => a - b);
    for (let i = 0; i + 5 < times.length; i++) {
      // Six consecutive sends never fit in one window: the sixth waits for the first to age out.
      expect(times[i + 5] - times[i]).toBeGreaterThanOrEqual(990);
    }
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(1990);
  });
});
