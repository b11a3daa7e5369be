// Intervention stage: detector events (from the "events" topic) become jobs, idempotent by
// event id; each job moves its alert through the lifecycle and delivers it to Alertmanager.
// A periodic loop re-sends what is firing (and what just resolved) so Alertmanager converges.

import { urlAllowed, type PagerDutyRoute, type RunbookRule } from '../../shared/config/index.js';
import { ForeshockError } from '../../shared/errors/index.js';
import { endsEpisode, RUNBOOK_APPROVED_JOB, type AnomalyEvent, type AuditEntry, type RunbookApproval, type RunbookExecution } from '../../shared/model/index.js';
import type { Job, JobQueue, ProcessOptions, StateStore } from '../../shared/ports/index.js';
import {
  AlertLifecycle,
  escalateForRunbook,
  expireForecast,
  needsResend,
  toPostableAlerts,
  type AlertRecord,
  type PostableOptions,
} from './alert-lifecycle.js';
import { AlertmanagerClient, AlertmanagerError, type AlertmanagerResult, type PostableAlert } from './alertmanager-client.js';
import { AuditLog } from './audit-log.js';
import { KeyedLock } from './keyed-lock.js';
import { releaseHeld, type AlertPolicy } from './alert-policy.js';
import { PAGERDUTY_JOB, Pager, type PageJob, type PagerStats } from './pager.js';
import { dedupKeyOf } from './pagerduty-client.js';
import { RUNBOOK_JOB, RunbookEngine, VERIFY_JOB, type RunbookJob, type RunbookStats } from './runbook-engine.js';

/** Job name of the intervention jobs on the JobQueue. */
export const INTERVENTION_JOB = 'intervention.event';

export interface InterventionOptions {
  /** Alertmanager base URLs; each receives every alert. Empty: alerts are tracked, not sent. */
  alertmanagerUrls: string[];
  /** Interval of the resend loop, ms. Default 60_000. */
  resendIntervalMs?: number;
  /** While firing, endsAt = now + this, so Alertmanager resolves an alert we stop sending. Default 4 × resendIntervalMs (as Prometheus). */
  endsAtAheadMs?: number;
  /** How long a resolved alert keeps being re-sent (a restarted Alertmanager learns it ended), ms. Default 15 min. */
  resolvedResendForMs?: number;
  /** Foreshock's public base URL, for generatorURL links. Default '' (no link). */
  foreshockUrl?: string;
  /** Timeout of one POST to one Alertmanager, ms. Default 10_000. */
  timeoutMs?: number;
  /** Jobs processed at once. Default 4. */
  concurrency?: number;
  /** A forecast-breach alert resolves when no new breach came for this long, ms. Default 1 h. */
  forecastTtlMs?: number;
  /** Resolved alerts stay listed (alerts(), /api/v1/alerts) this long, then are forgotten, ms. Default 24 h. */
  keepResolvedMs?: number;
  /** Alerts per POST in the resend loop. Default 256. */
  resendBatchSize?: number;
  /** PagerDuty paging; no routes (default): no paging. */
  pagerduty?: {
    url: string;
    routes: PagerDutyRoute[];
    minSeverity: 'warning' | 'critical';
    ratePerMinute: number;
    /** Window of ratePerMinute, ms. Default 60_000; tests shorten it. */
    rateWindowMs?: number;
    timeoutMs: number;
  };
  /** Runbooks and their guardrails; no rules (default): none run. */
  runbooks?: {
    rules: RunbookRule[];
    /** URL prefixes webhooks may call; a rule outside them is refused here too (FS_RUNBOOK_URL). */
    allowList: string[];
    dryRun: boolean;
    maxConcurrentPerCluster: number;
    hourlyBudget: number;
    clusterLabel: string;
    webhookBackoffBaseMs?: number;
  };
  /** Audit entries kept. Default 100_000. */
  auditMaxEntries?: number;
  /** Labels that fold the anomalies of several series into one alert (host, cluster, service, …). Default none. */
  groupBy?: string[];
  /** Labels a group alert carries from the event that opened it (for Alertmanager routing). Default none. */
  carryLabels?: string[];
  /** An alert fires at least this long; an earlier resolve is held, ms. Default 0. */
  minFiringMs?: number;
  /** A resolve waits this long; a new anomaly meanwhile keeps the alert firing, ms. Default 0. */
  resolveHoldMs?: number;
}

type ResolvedOptions = Required<Omit<InterventionOptions, 'pagerduty' | 'runbooks'>> & Pick<InterventionOptions, 'pagerduty' | 'runbooks'>;

function resolveOptions(o: InterventionOptions): ResolvedOptions {
  const resendIntervalMs = o.resendIntervalMs ?? 60_000;
  const out: ResolvedOptions = {
    alertmanagerUrls: o.alertmanagerUrls,
    resendIntervalMs,
    endsAtAheadMs: o.endsAtAheadMs ?? 4 * resendIntervalMs,
    resolvedResendForMs: o.resolvedResendForMs ?? 15 * 60_000,
    foreshockUrl: o.foreshockUrl ?? '',
    timeoutMs: o.timeoutMs ?? 10_000,
    concurrency: o.concurrency ?? 4,
    forecastTtlMs: o.forecastTtlMs ?? 3600_000,
    keepResolvedMs: o.keepResolvedMs ?? 24 * 3600_000,
    resendBatchSize: o.resendBatchSize ?? 256,
    pagerduty: o.pagerduty,
    runbooks: o.runbooks,
    auditMaxEntries: o.auditMaxEntries ?? 100_000,
    groupBy: o.groupBy ?? [],
    carryLabels: o.carryLabels ?? [],
    minFiringMs: o.minFiringMs ?? 0,
    resolveHoldMs: o.resolveHoldMs ?? 0,
  };
  for (const r of o.runbooks?.rules ?? []) {
    if (!urlAllowed(r.url, o.runbooks!.allowList)) {
      throw new ForeshockError('FS_RUNBOOK_URL', `runbook ${r.id}: ${JSON.stringify(r.url)} is not covered by the allow-list`);
    }
  }
  for (const k of ['resendIntervalMs', 'endsAtAheadMs', 'timeoutMs', 'concurrency', 'resendBatchSize'] as const) {
    if (!(out[k] > 0)) throw new ForeshockError('FS_INTERVENTION_OPTIONS', `intervention: ${k} must be positive`);
  }
  if (out.foreshockUrl !== '' && !URL.canParse(out.foreshockUrl)) {
    throw new ForeshockError('FS_INTERVENTION_OPTIONS', `intervention: foreshockUrl ${JSON.stringify(out.foreshockUrl)} is not a URL`);
  }
  return out;
}

/** The subset of pino's Logger the stage uses. */
export interface InterventionLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface InterventionDeps {
  queue: JobQueue;
  store: StateStore;
  logger: InterventionLogger;
  /** Wall clock, ms since epoch (endsAt while firing, resend windows). */
  clock: () => number;
}

/** Counters for /metrics; the object is updated in place. */
export interface InterventionStats {
  /** Alerts accepted, counted once per Alertmanager. */
  notificationsSent: number;
  /** Alerts not accepted, counted once per Alertmanager and attempt. */
  notificationsFailed: number;
  alertsOpened: number;
  alertsResolved: number;
  alertsEscalated: number;
  /** Events that changed nothing (already applied, or older than the alert's state). */
  eventsIgnored: number;
  /** Deliveries given up without retry because Alertmanager rejected the request (4xx). */
  deliveriesRejected: number;
}

/** Counters of paging and runbooks, next to InterventionStats. */
export type InterventionAllStats = InterventionStats & PagerStats & RunbookStats;

export class InterventionService {
  readonly stats: InterventionStats = {
    notificationsSent: 0,
    notificationsFailed: 0,
    alertsOpened: 0,
    alertsResolved: 0,
    alertsEscalated: 0,
    eventsIgnored: 0,
    deliveriesRejected: 0,
  };
  private readonly options: ResolvedOptions;
  private readonly client: AlertmanagerClient;
  private readonly lifecycle: AlertLifecycle;
  private readonly locks = new KeyedLock();
  private readonly postable: PostableOptions;
  private readonly audit: AuditLog;
  private readonly policy: AlertPolicy;
  private readonly pager: Pager;
  private readonly runbooks: RunbookEngine;
  private timer: NodeJS.Timeout | null = null;
  private tick: Promise<void> | null = null;
  private started = false;
  private closed = false;

  /** Throws FS_INTERVENTION_OPTIONS / FS_AM_URL for invalid options. */
  constructor(
    options: InterventionOptions,
    private readonly deps: InterventionDeps,
  ) {
    this.options = resolveOptions(options);
    this.client = new AlertmanagerClient({ urls: this.options.alertmanagerUrls, timeoutMs: this.options.timeoutMs });
    this.policy = { groupBy: this.options.groupBy, carryLabels: this.options.carryLabels, minFiringMs: this.options.minFiringMs, resolveHoldMs: this.options.resolveHoldMs };
    this.lifecycle = new AlertLifecycle(deps.store, undefined, this.policy);
    this.postable = {
      endsAtAheadMs: this.options.endsAtAheadMs,
      resolvedResendForMs: this.options.resolvedResendForMs,
      foreshockUrl: this.options.foreshockUrl,
    };
    this.audit = new AuditLog(deps.store, this.options.auditMaxEntries);
    const pd = this.options.pagerduty;
    this.pager = new Pager(
      {
        url: pd?.url ?? 'https://events.pagerduty.com/v2/enqueue',
        routes: pd?.routes ?? [],
        minSeverity: pd?.minSeverity ?? 'critical',
        ratePerMinute: pd?.ratePerMinute ?? 100,
        rateWindowMs: pd?.rateWindowMs,
        timeoutMs: pd?.timeoutMs ?? this.options.timeoutMs,
        foreshockUrl: this.options.foreshockUrl,
      },
      { store: deps.store, audit: this.audit, logger: deps.logger, clock: deps.clock },
    );
    const rb = this.options.runbooks;
    this.runbooks = new RunbookEngine(
      {
        rules: rb?.rules ?? [],
        dryRun: rb?.dryRun ?? false,
        maxConcurrentPerCluster: rb?.maxConcurrentPerCluster ?? 2,
        hourlyBudget: rb?.hourlyBudget ?? 20,
        clusterLabel: rb?.clusterLabel ?? 'cluster',
        webhookBackoffBaseMs: rb?.webhookBackoffBaseMs,
      },
      {
        queue: deps.queue,
        store: deps.store,
        audit: this.audit,
        logger: deps.logger,
        clock: deps.clock,
        locks: this.locks,
        alert: (id) => this.lifecycle.get(id),
        escalate: (exec, reason) => this.escalate(exec, reason),
      },
    );
  }

  /** Alert, paging and runbook counters together (a snapshot). */
  allStats(): InterventionAllStats {
    return { ...this.stats, ...this.pager.stats, ...this.runbooks.stats };
  }

  /**
   * Registers the job processor and starts the resend loop. When the store already holds
   * alerts to send (a restart with a snapshot or Redis), the first pass runs at once.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const now = this.deps.clock();
    const pending = (await this.lifecycle.list()).some((r) => needsResend(r, now, this.options.resolvedResendForMs));
    this.deps.queue.process<AnomalyEvent>(INTERVENTION_JOB, (job) => this.runJob(job), { concurrency: this.options.concurrency });
    if (this.pager.enabled) {
      // `limiter` is read by the BullMQ queue (shared by every worker process, so N processes
      // together stay under the rate); the embedded queue ignores it and the in-process limiter holds.
      const pd = this.options.pagerduty!;
      const opts: ProcessOptions & { limiter?: { max: number; durationMs: number } } = {
        concurrency: this.options.concurrency,
        limiter: { max: pd.ratePerMinute, durationMs: pd.rateWindowMs ?? 60_000 },
      };
      this.deps.queue.process<PageJob>(PAGERDUTY_JOB, (job) => this.pager.run(job), opts);
    }
    if (this.runbooks.enabled) {
      const c = { concurrency: this.options.concurrency };
      this.deps.queue.process<RunbookJob>(RUNBOOK_JOB, (job) => this.runbooks.run(job), c);
      this.deps.queue.process<RunbookApproval>(RUNBOOK_APPROVED_JOB, (job) => this.runbooks.runApproved(job), c);
      this.deps.queue.process<{ executionId: string }>(VERIFY_JOB, (job) => this.runbooks.runVerify(job), c);
    }
    this.schedule(pending && this.client.endpoints.length > 0 ? 0 : this.options.resendIntervalMs);
  }

  /**
   * Enqueues the event; a job with the same event id that is queued, running or recently
   * done makes this a no-op, so a replayed event never acts twice.
   */
  async handle(event: AnomalyEvent): Promise<void> {
    await this.deps.queue.add(INTERVENTION_JOB, event.id, event);
  }

  /** Every alert record, newest episode first. */
  async alerts(): Promise<AlertRecord[]> {
    const all = await this.lifecycle.list();
    return all.sort((a, b) => b.startsAt - a.startsAt);
  }

  /**
   * One pass of the resend loop: expire forecast alerts, forget long-resolved ones, and send
   * every firing (and recently resolved) alert to every Alertmanager. Failures are counted and
   * logged; the next pass tries again.
   */
  async resendNow(): Promise<void> {
    const now = this.deps.clock();
    const due: AlertRecord[] = [];
    const forget: string[] = [];
    for (const listed of await this.lifecycle.list()) {
      let r = listed;
      const expired = expireForecast(r, now, this.options.forecastTtlMs);
      if (expired !== null) r = (await this.expire(r.id, now)) ?? r;
      if (releaseHeld(r, now, this.policy) !== null) r = (await this.release(r.id, now)) ?? r;
      if (r.status === 'resolved' && r.resolvedAt !== null && now - r.resolvedAt >= this.options.keepResolvedMs) forget.push(r.id);
      else if (needsResend(r, now, this.options.resolvedResendForMs)) due.push(r);
    }
    for (const id of forget) {
      await this.locks.run(id, async () => {
        const cur = await this.lifecycle.get(id);
        if (cur !== null && cur.status === 'resolved' && cur.resolvedAt !== null && now - cur.resolvedAt >= this.options.keepResolvedMs) {
          await this.lifecycle.forget([id]);
        }
      });
    }
    await this.runbooks.sweep(now);
    if (this.client.endpoints.length === 0) return;
    for (let i = 0; i < due.length; i += this.options.resendBatchSize) {
      const chunk = due.slice(i, i + this.options.resendBatchSize);
      const alerts = chunk.flatMap((r) => toPostableAlerts(r, now, this.postable));
      try {
        await this.deliver(alerts);
      } catch (err) {
        this.deps.logger.warn({ ...errorFields(err), alerts: alerts.length }, 'alertmanager resend failed; next pass retries');
        continue;
      }
      for (const r of chunk) await this.markSent(r.id, now);
    }
  }

  /** Stops the resend loop (waits for a pass in flight). Jobs stop with the queue: close the queue first. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.tick !== null) await this.tick;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick = this.resendNow()
        .catch((err: unknown) => {
          // Store errors end up here; the pass is retried on the next interval.
          this.deps.logger.error(errorFields(err), 'alert resend pass failed');
        })
        .finally(() => {
          this.tick = null;
          this.schedule(this.options.resendIntervalMs);
        });
    }, delayMs);
    // The HTTP server keeps the process alive; this loop alone must not.
    this.timer.unref();
  }

  private async runJob(job: Job<AnomalyEvent>): Promise<void> {
    const event = job.data;
    const id = this.lifecycle.idOf(event);
    await this.locks.run(id, async () => {
      const now = this.deps.clock();
      const { record, transition } = await this.lifecycle.apply(event, now);
      const log = { alert: id, event: event.id, kind: event.kind, attempt: job.attempt };
      // A context member remembered by a group that is not firing: stored, nothing to send.
      if (transition === 'noted') return;
      if (transition !== 'duplicate' && transition !== 'stale') {
        await this.auditEntry({ kind: 'alert', action: transition, outcome: record.status, alertId: id, seriesKey: record.seriesKey, detail: `event ${event.id} (${event.kind}), severity ${record.severity}` });
      }
      switch (transition) {
        case 'opened':
          this.stats.alertsOpened++;
          this.deps.logger.info({ ...log, severity: record.severity, startsAt: record.startsAt }, 'alert opened');
          break;
        case 'resolved':
          this.stats.alertsResolved++;
          this.deps.logger.info({ ...log, endsAt: record.endsAt }, 'alert resolved');
          break;
        case 'escalated':
          this.stats.alertsEscalated++;
          this.deps.logger.info(log, 'alert escalated to critical');
          break;
        case 'duplicate':
        case 'stale':
          // A retry finds its own event applied already: only the first attempt counts.
          if (job.attempt === 1) this.stats.eventsIgnored++;
          break;
        default:
          break;
      }
      // A stale event is older than the alert's state, which its own event delivered.
      if (transition === 'stale') return;
      // Paging and runbooks are queued before Alertmanager's delivery, so an Alertmanager outage
      // delays neither; their job ids make a retry of this job add nothing twice.
      const paged = await this.planPage(record, now, transition === 'resolved_unseen');
      if (paged !== record) Object.assign(record, paged);
      if (record.status === 'firing' && !endsEpisode(event.kind)) await this.runbooks.enqueueMatches(event, record);
      if (transition === 'resolved') await this.runbooks.alertResolved(record);
      if (this.client.endpoints.length === 0) return;
      const alerts = toPostableAlerts(record, now, this.postable);
      try {
        await this.deliver(alerts, { alertId: id, seriesKey: record.seriesKey, attempt: job.attempt });
      } catch (err) {
        if (err instanceof AlertmanagerError && !err.retryable) {
          this.stats.deliveriesRejected++;
          this.deps.logger.error({ ...log, ...errorFields(err) }, 'alertmanager rejected the alert; not retrying');
          return;
        }
        this.deps.logger.warn({ ...log, ...errorFields(err) }, 'alertmanager delivery failed; the job retries with backoff');
        throw err;
      }
      record.lastSentAt = now;
      await this.lifecycle.save(record);
    });
  }

  /** POSTs to every Alertmanager, counting per Alertmanager (and auditing, given `audit`); rethrows a failure. */
  private async deliver(alerts: PostableAlert[], audit?: { alertId: string; seriesKey: string; attempt: number }): Promise<void> {
    const n = alerts.length;
    let results: AlertmanagerResult[] = [];
    let failure: unknown = null;
    try {
      results = await this.client.post(alerts);
      this.stats.notificationsSent += n * this.client.endpoints.length;
    } catch (err) {
      failure = err;
      if (err instanceof AlertmanagerError) {
        this.stats.notificationsSent += n * err.delivered;
        this.stats.notificationsFailed += n * err.failures.length;
        results = err.results;
      } else {
        this.stats.notificationsFailed += n * this.client.endpoints.length;
      }
    }
    if (audit !== undefined) {
      const detail = alerts.map((a) => `${a.labels.severity ?? ''} endsAt ${a.endsAt ?? ''}`).join('; ');
      for (const r of results) {
        await this.auditEntry({
          kind: 'notification', action: 'alertmanager.post', outcome: r.status >= 200 && r.status < 300 ? 'ok' : 'failed',
          target: r.url, status: r.status, attempt: audit.attempt, alertId: audit.alertId, seriesKey: audit.seriesKey, detail,
        });
      }
    }
    if (failure !== null) throw failure;
  }

  private auditEntry(e: Omit<AuditEntry, 'at'>): Promise<void> {
    return this.audit.append({ at: this.deps.clock(), ...e });
  }

  /**
   * Queues the PagerDuty event the alert's state calls for: a trigger while it fires and pages
   * (again when its severity rises or a runbook failed), a resolve once a paged alert resolved.
   * Job ids make it once per episode and step. Returns the record (with `paged` set and saved).
   * `unseenResolve`: the end of an episode whose record this worker does not have (its state was
   * lost, e.g. a restart on a store without persistence); a page it had sent used the alert's
   * stable dedup_key, so the resolve goes to the alert's route anyway (PagerDuty ignores a resolve
   * for a key it has no incident for) rather than leave an incident open for good.
   */
  private async planPage(record: AlertRecord, now: number, unseenResolve = false): Promise<AlertRecord> {
    if (!this.pager.enabled) return record;
    if (record.status === 'firing' && this.pager.shouldPage(record)) {
      const route = record.paged ? { name: record.paged.route } : this.pager.routeFor(record);
      if (route === null) return record;
      let next = record;
      const dedupKey = record.paged?.dedupKey ?? dedupKeyOf(record.id);
      if (record.paged?.severity !== record.severity) {
        next = { ...record, paged: { route: route.name, dedupKey, severity: record.severity } };
        await this.lifecycle.save(next);
      }
      const step = `trigger:${next.severity}${next.runbookFailed ? ':runbook-failed' : ''}`;
      const data: PageJob = { route: route.name, alertId: next.id, seriesKey: next.seriesKey, event: this.pager.trigger(next, now) };
      await this.deps.queue.add(PAGERDUTY_JOB, `pd:${dedupKey}:${next.startsAt}:${step}`, data);
      return next;
    }
    if (record.status === 'resolved' && record.paged) {
      const data: PageJob = { route: record.paged.route, alertId: record.id, seriesKey: record.seriesKey, event: this.pager.resolve(record) };
      await this.deps.queue.add(PAGERDUTY_JOB, `pd:${record.paged.dedupKey}:${record.startsAt}:resolve`, data);
    } else if (record.status === 'resolved' && unseenResolve) {
      const route = this.pager.routeFor(record);
      if (route === null) return record;
      const data: PageJob = { route: route.name, alertId: record.id, seriesKey: record.seriesKey, event: this.pager.resolve(record) };
      await this.deps.queue.add(PAGERDUTY_JOB, `pd:${dedupKeyOf(record.id)}:${record.startsAt}:resolve`, data);
    }
    return record;
  }

  /** A runbook acting on the alert failed: mark it, make it critical, page, tell Alertmanager. */
  private async escalate(exec: RunbookExecution, reason: string): Promise<void> {
    await this.locks.run(exec.alertId, async () => {
      const now = this.deps.clock();
      const cur = await this.lifecycle.get(exec.alertId);
      if (cur === null || cur.startsAt !== exec.alertStartsAt) return;
      const next = escalateForRunbook(cur, `${exec.runbook}: ${reason}`, now);
      if (next === null) return;
      await this.lifecycle.save(next);
      this.stats.alertsEscalated++;
      await this.auditEntry({ kind: 'alert', action: 'escalated', outcome: 'runbook_failed', alertId: next.id, seriesKey: next.seriesKey, runbook: exec.runbook, execution: exec.id, detail: reason });
      this.deps.logger.warn({ alert: next.id, runbook: exec.runbook, reason }, 'alert escalated: runbook failed');
      await this.planPage(next, now);
      if (this.client.endpoints.length === 0) return;
      try {
        await this.deliver(toPostableAlerts(next, now, this.postable), { alertId: next.id, seriesKey: next.seriesKey, attempt: 1 });
        next.lastSentAt = now;
        await this.lifecycle.save(next);
      } catch (err) {
        this.deps.logger.warn({ alert: next.id, ...errorFields(err) }, 'alertmanager delivery of the escalation failed; the resend loop retries');
      }
    });
  }

  /** Resolves an expired forecast alert under its lock; returns the record as it is now. */
  private expire(id: string, now: number): Promise<AlertRecord | null> {
    return this.locks.run(id, async () => {
      const cur = await this.lifecycle.get(id);
      if (cur === null) return null;
      const expired = expireForecast(cur, now, this.options.forecastTtlMs);
      if (expired === null) return cur;
      await this.lifecycle.save(expired);
      this.stats.alertsResolved++;
      await this.auditEntry({ kind: 'alert', action: 'expired', outcome: 'resolved', alertId: id, seriesKey: expired.seriesKey });
      await this.planPage(expired, now);
      this.deps.logger.info({ alert: id, endsAt: expired.endsAt }, 'forecast alert expired');
      return expired;
    });
  }

  /** Resolves an alert whose held resolve is due, under its lock; returns the record as it is now. */
  private release(id: string, now: number): Promise<AlertRecord | null> {
    return this.locks.run(id, async () => {
      const cur = await this.lifecycle.get(id);
      if (cur === null) return null;
      const done = releaseHeld(cur, now, this.policy);
      if (done === null) return cur;
      await this.lifecycle.save(done);
      this.stats.alertsResolved++;
      await this.auditEntry({ kind: 'alert', action: 'resolved', outcome: 'resolved', alertId: id, seriesKey: done.seriesKey, detail: 'held resolve released' });
      this.deps.logger.info({ alert: id, endsAt: done.endsAt }, 'alert resolved after its hold');
      await this.planPage(done, now);
      await this.runbooks.alertResolved(done);
      return done;
    });
  }

  private markSent(id: string, now: number): Promise<void> {
    return this.locks.run(id, async () => {
      const cur = await this.lifecycle.get(id);
      if (cur === null) return;
      cur.lastSentAt = now;
      await this.lifecycle.save(cur);
    });
  }
}

function errorFields(err: unknown): { code: string; error: string } {
  if (err instanceof ForeshockError) return { code: err.code, error: err.message };
  if (err instanceof Error) return { code: 'FS_INTERNAL', error: err.message };
  return { code: 'FS_INTERNAL', error: String(err) };
}
