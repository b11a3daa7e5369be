// Intervention stage: detector events (from the "events" topic) become jobs, idempotent by
// event id; each job moves its alert through the lifecycle and delivers it to Alertmanager.
// A periodic loop re-sends what is firing (and what just resolved) so Alertmanager converges.

import { ForeshockError } from '../../shared/errors/index.js';
import type { AnomalyEvent } from '../../shared/model/index.js';
import type { Job, JobQueue, StateStore } from '../../shared/ports/index.js';
import {
  AlertLifecycle,
  alertIdOf,
  expireForecast,
  needsResend,
  toPostableAlerts,
  type AlertRecord,
  type PostableOptions,
} from './alert-lifecycle.js';
import { AlertmanagerClient, AlertmanagerError, type PostableAlert } from './alertmanager-client.js';
import { KeyedLock } from './keyed-lock.js';

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
}

type ResolvedOptions = Required<InterventionOptions>;

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
  };
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
    this.lifecycle = new AlertLifecycle(deps.store);
    this.postable = {
      endsAtAheadMs: this.options.endsAtAheadMs,
      resolvedResendForMs: this.options.resolvedResendForMs,
      foreshockUrl: this.options.foreshockUrl,
    };
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
    const id = alertIdOf(event);
    await this.locks.run(id, async () => {
      const now = this.deps.clock();
      const { record, transition } = await this.lifecycle.apply(event, now);
      const log = { alert: id, event: event.id, kind: event.kind, attempt: job.attempt };
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
      if (transition === 'stale' || this.client.endpoints.length === 0) return;
      const alerts = toPostableAlerts(record, now, this.postable);
      try {
        await this.deliver(alerts);
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

  /** POSTs to every Alertmanager, counting per Alertmanager; rethrows a failure. */
  private async deliver(alerts: PostableAlert[]): Promise<void> {
    const n = alerts.length;
    try {
      await this.client.post(alerts);
    } catch (err) {
      if (err instanceof AlertmanagerError) {
        this.stats.notificationsSent += n * err.delivered;
        this.stats.notificationsFailed += n * err.failures.length;
      } else {
        this.stats.notificationsFailed += n * this.client.endpoints.length;
      }
      throw err;
    }
    this.stats.notificationsSent += n * this.client.endpoints.length;
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
      this.deps.logger.info({ alert: id, endsAt: expired.endsAt }, 'forecast alert expired');
      return expired;
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
