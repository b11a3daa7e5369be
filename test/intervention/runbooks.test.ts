// Runbooks against a local remediation endpoint that verifies each signature: guardrails under
// a burst of 100 matching events, dry run, approval through the API route, verify-after with
// escalation to PagerDuty, and the allow-list enforced at config load.

import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJobQueue, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { loadConfig, type RunbookRule } from '../../shared/config/index.js';
import { AUDIT_LOG, RUNBOOK_EXECUTIONS_KEY, type AuditEntry, type RunbookExecution } from '../../shared/model/index.js';
import { ConfigError } from '../../shared/errors/index.js';
import { InterventionService } from '../../services/intervention/index.js';
import { auditRoutes, runbookRoutes } from '../../services/api/index.js';
import { waitFor } from '../support/wait.js';
import { anomalyEvent, RecordingLogger } from './support/events.js';
import { PagerDutyReceiver } from './support/pagerduty-receiver.js';
import { WebhookReceiver, verifySignature } from './support/webhook-receiver.js';

const SECRET = 'runbook-test-secret-1234567890';
const PD_KEY = 'R0UTINGKEYRUNB00KS0000000000000c';

interface Harness {
  service: InterventionService;
  store: MemoryStateStore;
  queue: MemoryJobQueue;
  logger: RecordingLogger;
}
const open: Harness[] = [];
const servers: { stop(): Promise<void> }[] = [];

function rule(hook: WebhookReceiver, over: Partial<RunbookRule> = {}): RunbookRule {
  return {
    id: 'restart-service',
    url: hook.url('/hooks/restart'),
    kinds: ['anomaly_opened'],
    labels: {},
    minScore: 0.9,
    forecast: 'any',
    body: { action: 'restart', host: '{{host}}', cluster: '{{cluster}}', score: '{{score}}', note: 'runbook {{runbook}} on {{labels.__name__}}' },
    secret: SECRET,
    target: '{{host}}',
    timeoutMs: 2000,
    attempts: 3,
    cooldownMs: 3600_000,
    approval: false,
    verifyWindowMs: 3600_000,
    ...over,
  };
}

async function harness(
  rules: RunbookRule[],
  hook: WebhookReceiver,
  over: { dryRun?: boolean; maxConcurrentPerCluster?: number; hourlyBudget?: number; pd?: PagerDutyReceiver } = {},
): Promise<Harness> {
  const store = new MemoryStateStore();
  const queue = new MemoryJobQueue({ backoffBaseMs: 20, backoffMaxMs: 100 });
  const logger = new RecordingLogger();
  const service = new InterventionService(
    {
      alertmanagerUrls: [],
      concurrency: 8,
      runbooks: {
        rules,
        allowList: [`http://127.0.0.1:${hook.port}/hooks`],
        dryRun: over.dryRun ?? false,
        maxConcurrentPerCluster: over.maxConcurrentPerCluster ?? 2,
        hourlyBudget: over.hourlyBudget ?? 20,
        clusterLabel: 'cluster',
        webhookBackoffBaseMs: 20,
      },
      pagerduty: over.pd
        ? { url: over.pd.url, routes: [{ name: 'ops', routingKey: PD_KEY, match: {} }], minSeverity: 'critical', ratePerMinute: 100, timeoutMs: 2000 }
        : undefined,
    },
    { queue, store, logger, clock: Date.now },
  );
  await service.start();
  const h = { service, store, queue, logger };
  open.push(h);
  return h;
}

async function auditOf(store: MemoryStateStore): Promise<AuditEntry[]> {
  return (await store.range(AUDIT_LOG, 100_000)).map((e) => JSON.parse(e.entry) as AuditEntry).reverse();
}

async function executions(store: MemoryStateStore): Promise<RunbookExecution[]> {
  return Object.values(await store.hgetall(RUNBOOK_EXECUTIONS_KEY)).map((v) => JSON.parse(v) as RunbookExecution);
}

/** 100 opened anomalies on 100 series: 20 hosts (5 series each) in 4 clusters. */
function burst(tag: string) {
  const t0 = Date.now() - 60_000;
  return Array.from({ length: 100 }, (_, i) => {
    const host = `h${i % 20}`;
    return anomalyEvent({ host, cluster: `c${i % 4}`, metric: `m${Math.floor(i / 20)}`, kind: 'anomaly_opened', startedAt: t0, tag });
  });
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.queue.close();
    await h.service.close();
    await h.store.close();
  }
  for (const s of servers.splice(0)) await s.stop();
});

describe('runbooks', () => {
  it('the receiver can tell a bad signature from a good one', () => {
    const now = Math.floor(Date.now() / 1000);
    const body = '{"a":1}';
    const good = 'sha256=' + createHmac('sha256', SECRET).update(`${now}.${body}`).digest('hex');
    expect(verifySignature(SECRET, good, String(now), body, now)).toBe(true);
    expect(verifySignature(SECRET, good, String(now), '{"a":2}', now)).toBe(false);
    expect(verifySignature('other', good, String(now), body, now)).toBe(false);
    expect(verifySignature(SECRET, good, String(now), body, now + 3600)).toBe(false);
  });

  it('holds cooldown, concurrency per cluster and the hourly budget under a burst of 100 matching events', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    hook.holdMs = 100;
    const h = await harness([rule(hook)], hook, { maxConcurrentPerCluster: 2, hourlyBudget: 6 });
    await Promise.all(burst('burst').map((e) => h.service.handle(e)));
    await waitFor(async () => ((await auditOf(h.store)).filter((e) => e.action === 'decide').length === 100 ? true : null), 20_000, 20);
    await waitFor(async () => ((await executions(h.store)).every((e) => e.status !== 'running') ? true : null), 10_000, 20);

    expect(hook.calls).toHaveLength(6); // the budget
    expect(hook.invalid).toEqual([]); // every signature verifies
    const hosts = hook.calls.map((c) => c.body.host);
    expect(new Set(hosts).size).toBe(6); // cooldown: never twice on one target
    const perCluster = new Map<string, number>();
    for (const c of hook.calls) perCluster.set(String(c.body.cluster), (perCluster.get(String(c.body.cluster)) ?? 0) + 1);
    for (const n of perCluster.values()) expect(n).toBeLessThanOrEqual(2); // concurrency (all still verifying)
    for (const n of hook.maxInFlight.values()) expect(n).toBeLessThanOrEqual(2);
    // The templated body: placeholders alone keep their type.
    expect(hook.calls[0].body).toMatchObject({ action: 'restart', score: 0.99 });
    expect(String(hook.calls[0].body.note)).toMatch(/^runbook restart-service on m\d$/);
    expect(hook.calls[0].execution).toMatch(/^restart-service\//);

    const decisions = (await auditOf(h.store)).filter((e) => e.action === 'decide');
    expect(decisions.filter((e) => e.outcome === 'started')).toHaveLength(6);
    const skipped = decisions.filter((e) => e.outcome === 'skipped');
    expect(skipped).toHaveLength(94);
    const reasons = new Set(skipped.map((e) => String(e.detail).split(':')[0]));
    expect(reasons).toEqual(new Set(['cooldown', 'concurrency', 'budget']));
    const webhookAudit = (await auditOf(h.store)).filter((e) => e.action === 'webhook');
    expect(webhookAudit.map((e) => [e.status, e.outcome])).toEqual(Array(6).fill([200, 'ok']));
    const ex = await executions(h.store);
    expect(ex.filter((e) => e.status === 'verifying')).toHaveLength(6);
  });

  it('dry run sends nothing and audits every match', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    const h = await harness([rule(hook)], hook, { dryRun: true, hourlyBudget: 6 });
    await Promise.all(burst('dry').map((e) => h.service.handle(e)));
    await waitFor(async () => ((await auditOf(h.store)).filter((e) => e.action === 'decide').length === 100 ? true : null), 20_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.calls).toHaveLength(0);
    const decisions = (await auditOf(h.store)).filter((e) => e.action === 'decide');
    expect(decisions.every((e) => e.outcome === 'dry_run')).toBe(true);
    expect(decisions[0].detail).toContain('would POST http://127.0.0.1');
    expect(decisions[0].detail).toContain('"action":"restart"');
    expect(h.service.allStats().runbooksDryRun).toBe(100);
  });

  it('does not match below minScore, other kinds, or other labels', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    const h = await harness([rule(hook, { labels: { cluster: 'db' } })], hook);
    const t0 = Date.now() - 1000;
    await h.service.handle(anomalyEvent({ host: 'a', cluster: 'db', kind: 'anomaly_opened', startedAt: t0, score: 0.5, tag: 'nm' }));
    await h.service.handle(anomalyEvent({ host: 'b', cluster: 'web', kind: 'anomaly_opened', startedAt: t0, tag: 'nm' }));
    await h.service.handle(anomalyEvent({ host: 'c', cluster: 'db', kind: 'forecast_breach', startedAt: t0, tag: 'nm' }));
    await h.service.handle(anomalyEvent({ host: 'd', cluster: 'db', kind: 'anomaly_opened', startedAt: t0, tag: 'nm' }));
    await waitFor(async () => (hook.calls.length === 1 ? true : null), 5000, 10);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.calls.map((c) => c.body.host)).toEqual(['d']);
  });

  it('waits for approval via POST /api/v1/runbooks/{id}/approve, then runs once', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    const h = await harness([rule(hook, { approval: true })], hook);
    const app = Fastify();
    await app.register(async (s) => runbookRoutes(s, { store: h.store, queue: h.queue }));
    await app.register(async (s) => auditRoutes(s, { store: h.store }));
    servers.push({ stop: () => app.close() });
    await h.service.handle(anomalyEvent({ host: 'db-1', cluster: 'db', kind: 'anomaly_opened', startedAt: Date.now() - 1000, tag: 'appr' }));
    const pending = await waitFor(async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1/runbooks?status=pending_approval' });
      const list = (res.json() as { executions: RunbookExecution[] }).executions;
      return list.length === 1 ? list[0] : null;
    }, 5000, 10);
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.calls).toHaveLength(0);

    const missing = await app.inject({ method: 'POST', url: '/api/v1/runbooks/nope/approve', payload: { by: 'alice' } });
    expect(missing.statusCode).toBe(404);
    const url = `/api/v1/runbooks/${encodeURIComponent(pending.id)}/approve`;
    const ok = await app.inject({ method: 'POST', url, payload: { by: 'alice' } });
    expect(ok.statusCode).toBe(202);
    await waitFor(async () => (hook.calls.length === 1 ? true : null), 5000, 10);
    await waitFor(async () => ((await executions(h.store))[0].status === 'verifying' ? true : null), 5000, 10);
    const again = await app.inject({ method: 'POST', url, payload: { by: 'bob' } });
    expect(again.statusCode).toBe(409);
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.calls).toHaveLength(1);
    expect((await executions(h.store))[0]).toMatchObject({ status: 'verifying', approvedBy: 'alice' });

    const audit = await app.inject({ method: 'GET', url: `/api/v1/audit?kind=runbook&limit=2` });
    const page = audit.json() as { entries: AuditEntry[]; next: string | null };
    expect(page.entries).toHaveLength(2);
    expect(page.entries.map((e) => e.action)).toEqual(['webhook', 'approve']); // newest first
    expect(page.next).not.toBeNull();
    const rest = await app.inject({ method: 'GET', url: `/api/v1/audit?kind=runbook&before=${page.next}` });
    expect((rest.json() as { entries: AuditEntry[]; next: string | null }).entries.map((e) => e.outcome)).toEqual(['pending_approval']);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/audit?kind=nope' });
    expect(bad.statusCode).toBe(400);
  });

  it('verify after: the anomaly did not clear in the window, so the runbook failed and the alert pages (once)', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    const pd = await new PagerDutyReceiver().start();
    servers.push(pd);
    const h = await harness([rule(hook, { verifyWindowMs: 1000 })], hook, { pd });
    const spec = { host: 'web-9', cluster: 'web', kind: 'anomaly_opened' as const, startedAt: Date.now() - 1000, tag: 'verify', severity: 'warning' as const };
    await h.service.handle(anomalyEvent(spec));
    await waitFor(async () => (hook.calls.length === 1 ? true : null), 5000, 10);
    expect(pd.received).toHaveLength(0); // a warning does not page
    await waitFor(async () => (pd.accepted('trigger').length === 1 ? true : null), 8000, 20);
    const [exec] = await executions(h.store);
    expect(exec.status).toBe('failed');
    expect(exec.error).toContain('did not clear');
    const page = pd.received[0].body;
    expect(page.payload!.severity).toBe('critical');
    expect(String(page.payload!.summary)).toMatch(/^\[runbook failed\] /);
    expect((page.payload!.custom_details as Record<string, unknown>).runbook_failed).toContain('restart-service');
    const [alert] = await h.service.alerts();
    expect(alert).toMatchObject({ severity: 'critical', status: 'firing' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.calls).toHaveLength(1); // not retried forever
    expect(pd.received).toHaveLength(1);
    const verify = (await auditOf(h.store)).filter((e) => e.action === 'verify');
    expect(verify.map((e) => e.outcome)).toEqual(['failed']);
  });

  it('verify after: the anomaly cleared within the window, so the runbook succeeded and nothing escalates', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    const pd = await new PagerDutyReceiver().start();
    servers.push(pd);
    const h = await harness([rule(hook, { verifyWindowMs: 1500 })], hook, { pd });
    const spec = { host: 'web-8', cluster: 'web', kind: 'anomaly_opened' as const, startedAt: Date.now() - 1000, tag: 'verify-ok', severity: 'warning' as const };
    await h.service.handle(anomalyEvent(spec));
    await waitFor(async () => (hook.calls.length === 1 ? true : null), 5000, 10);
    await waitFor(async () => ((await executions(h.store))[0]?.status === 'verifying' ? true : null), 5000, 10);
    await h.service.handle(anomalyEvent({ ...spec, kind: 'anomaly_resolved', ts: Date.now() + 1 }));
    await waitFor(async () => ((await executions(h.store))[0].status === 'succeeded' ? true : null), 5000, 10);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await executions(h.store))[0].status).toBe('succeeded');
    expect(pd.received).toHaveLength(0);
    expect(h.service.allStats()).toMatchObject({ runbooksSucceeded: 1, runbooksFailed: 0 });
  });

  it('a webhook failing on every attempt fails the runbook and escalates', async () => {
    const hook = await new WebhookReceiver(SECRET).start();
    servers.push(hook);
    hook.script = [500, 502, 503];
    const pd = await new PagerDutyReceiver().start();
    servers.push(pd);
    const h = await harness([rule(hook, { attempts: 3 })], hook, { pd });
    await h.service.handle(anomalyEvent({ host: 'db-3', cluster: 'db', kind: 'anomaly_opened', startedAt: Date.now() - 1000, tag: 'fail', severity: 'warning' }));
    await waitFor(async () => (pd.accepted('trigger').length === 1 ? true : null), 8000, 20);
    expect(hook.calls.map((c) => c.status)).toEqual([500, 502, 503]);
    const [exec] = await executions(h.store);
    expect(exec).toMatchObject({ status: 'failed', attempts: 3 });
    expect(exec.error).toContain('HTTP 503');
  });

  it('refuses a webhook URL outside the allow-list at config load, naming the rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-runbooks-'));
    const file = join(dir, 'foreshock.yaml');
    writeFileSync(
      file,
      [
        'runbooks:',
        '  allowList: [https://ops.example.com/hooks]',
        '  rules:',
        '    - id: ok',
        '      url: https://ops.example.com/hooks/restart',
        '      secret: env:RB_SECRET',
        '    - id: evil',
        '      url: https://ops.example.com.evil.net/hooks/restart',
        '      secret: env:RB_SECRET',
      ].join('\n'),
    );
    let err: unknown = null;
    try {
      loadConfig({ file, env: { RB_SECRET: 's3cret' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('runbooks.rules[1].url');
    expect((err as Error).message).toContain('not covered by runbooks.allowList');
    // And the service refuses it when built without the loader.
    expect(
      () =>
        new InterventionService(
          { alertmanagerUrls: [], runbooks: { rules: [{ ...rule(new WebhookReceiver(SECRET)), url: 'http://10.0.0.1/x' }], allowList: ['http://127.0.0.1:1/hooks'], dryRun: false, maxConcurrentPerCluster: 1, hourlyBudget: 1, clusterLabel: 'cluster' } },
          { queue: new MemoryJobQueue(), store: new MemoryStateStore(), logger: new RecordingLogger(), clock: Date.now },
        ),
    ).toThrow(/allow-list/);
  });
});
