// The intervention worker process killed with SIGKILL in the middle of a job (a page on its way
// to PagerDuty): after a restart the job completes once, PagerDuty accepts one trigger and one
// resolve with one dedup_key, and replays page nobody again.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BullMqJobQueue } from '../../shared/adapters/bullmq/index.js';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { AUDIT_LOG, type AuditEntry } from '../../shared/model/index.js';
import { INTERVENTION_JOB } from '../../services/intervention/index.js';
import { dropNamespace, testNamespace } from '../adapters/redis-namespace.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { anomalyEvent } from './support/events.js';
import { PagerDutyReceiver } from './support/pagerduty-receiver.js';

const redis = requireService('redis');
const alertmanager = requireService('alertmanager');
const PD_KEY = 'R0UTINGKEYCRASH00000000000000d4e';
const WORKER = fileURLToPath(new URL('./support/intervention-worker.ts', import.meta.url));

describe.skipIf(!redis || !alertmanager)('intervention worker killed with SIGKILL mid-job', () => {
  const ns = testNamespace();
  const children: ChildProcess[] = [];
  const receiver = new PagerDutyReceiver();
  const producer = new BullMqJobQueue({ url: redis!, prefix: `${ns}q` });
  const store = new RedisStateStore({ url: redis!, keyPrefix: `${ns}s:` });

  async function startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: {
        ...process.env,
        FS_TEST_REDIS_URL: redis!,
        FS_TEST_NS: ns,
        FS_TEST_PD_URL: receiver.url,
        FS_TEST_PD_KEY: PD_KEY,
        FS_TEST_AM_URL: alertmanager!,
        FS_TEST_LOCK_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        if (c.toString().includes('ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
    });
    return child;
  }

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await producer.close();
    await store.close();
    await receiver.stop();
    await dropNamespace(redis!, ns);
  });

  it('completes the interrupted page once after a restart; one trigger and one resolve delivered', async () => {
    await receiver.start();
    const held = new Promise<void>((resolve) => {
      receiver.holdNext = () => resolve();
    });
    const first = await startWorker();
    const host = `fs-crash-${ns.slice(8, 16)}`;
    const opened = anomalyEvent({ host, cluster: 'crash', kind: 'anomaly_opened', startedAt: Date.now() - 10_000, tag: ns });
    await producer.add(INTERVENTION_JOB, opened.id, opened);
    await held; // the worker is inside the PagerDuty job, its request unanswered
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    await startWorker();
    await waitFor(async () => (receiver.accepted('trigger').length === 1 ? true : null), 20_000, 50);
    // Replays of the event, from the topic or an operator, page nobody again.
    await producer.add(INTERVENTION_JOB, opened.id, opened);
    const resolved = anomalyEvent({ host, cluster: 'crash', kind: 'anomaly_resolved', startedAt: opened.startedAt, tag: ns });
    await producer.add(INTERVENTION_JOB, resolved.id, resolved);
    await waitFor(async () => (receiver.accepted('resolve').length === 1 ? true : null), 20_000, 50);
    await waitFor(async () => {
      const c = await producer.counts();
      return c.waiting + c.active + c.delayed === 0 ? c : null;
    }, 10_000, 50);
    await new Promise((r) => setTimeout(r, 1500));

    expect(receiver.invalid).toEqual([]);
    // Two trigger requests reached the receiver: the one cut off by the kill (never answered) and
    // its retry; PagerDuty accepted one. Both carry the same dedup_key, so even the cut-off one
    // could never open a second incident.
    const triggers = receiver.received.filter((r) => r.body.event_action === 'trigger');
    expect(triggers.map((t) => t.status)).toEqual([0, 202]);
    expect(receiver.accepted('trigger')).toHaveLength(1);
    expect(receiver.accepted('resolve')).toHaveLength(1);
    expect(new Set(receiver.received.map((r) => r.body.dedup_key)).size).toBe(1);
    // Jobs: the opened and resolved events and the two pages, each completed once; none failed.
    expect(await producer.counts()).toMatchObject({ failed: 0, completed: 4 });
    const audit = (await store.range(AUDIT_LOG, 1000)).map((e) => JSON.parse(e.entry) as AuditEntry);
    const pages = audit.filter((e) => e.kind === 'notification' && e.target === 'pagerduty/ops');
    expect(pages.map((e) => `${e.action} ${e.outcome}`).sort()).toEqual(['pagerduty.resolve ok', 'pagerduty.trigger ok']);
    expect(audit.filter((e) => e.kind === 'alert').map((e) => e.action).sort()).toEqual(['opened', 'resolved']);
  });
});
