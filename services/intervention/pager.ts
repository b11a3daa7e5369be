// Paging: which PagerDuty route an alert goes to, the Events API v2 event built from the alert
// record, and the job that sends it (rate-limited per routing key, 429/5xx retried by the queue,
// 400 audited and dead-lettered).

import type { PagerDutyRoute } from '../../shared/config/index.js';
import { ForeshockError } from '../../shared/errors/index.js';
import type { Job, StateStore } from '../../shared/ports/index.js';
import { alertAnnotations, generatorUrl, type AlertRecord } from './alert-lifecycle.js';
import type { AuditLog } from './audit-log.js';
import {
  PAGERDUTY_SUMMARY_MAX,
  PagerDutyClient,
  SlidingWindowLimiter,
  dedupKeyOf,
  pagerDutySeverity,
  truncate,
  type PagerDutyEvent,
} from './pagerduty-client.js';

/** Job name of PagerDuty deliveries. */
export const PAGERDUTY_JOB = 'intervention.pagerduty';
/** StateStore log of events PagerDuty refused (400): JSON { at, route, status, message, event }. */
export const PAGERDUTY_DEAD_LETTERS = 'fs:pagerduty:dead-letters';

export interface PagerOptions {
  url: string;
  routes: PagerDutyRoute[];
  minSeverity: 'warning' | 'critical';
  ratePerMinute: number;
  /** Window of the rate, ms. Default 60_000 (PagerDuty counts over the last 60 s); tests shorten it. */
  rateWindowMs?: number;
  timeoutMs: number;
  /** Foreshock's public URL for links ('' for none). */
  foreshockUrl: string;
}

export interface PageJob {
  route: string;
  alertId: string;
  seriesKey: string;
  event: PagerDutyEvent;
}

export interface PagerStats {
  pagesSent: number;
  pagesRetried: number;
  pagesRejected: number;
}

interface PagerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export class Pager {
  readonly stats: PagerStats = { pagesSent: 0, pagesRetried: 0, pagesRejected: 0 };
  private readonly client: PagerDutyClient | null;
  private readonly limiter: SlidingWindowLimiter;

  constructor(
    private readonly options: PagerOptions,
    private readonly deps: { store: StateStore; audit: AuditLog; logger: PagerLogger; clock: () => number },
  ) {
    this.client = options.routes.length > 0 ? new PagerDutyClient({ url: options.url, timeoutMs: options.timeoutMs }) : null;
    this.limiter = new SlidingWindowLimiter(options.ratePerMinute, options.rateWindowMs ?? 60_000);
  }

  get enabled(): boolean {
    return this.client !== null;
  }

  /** First route whose `match` labels all equal the alert's; null: this alert does not page. */
  routeFor(record: AlertRecord): PagerDutyRoute | null {
    for (const r of this.options.routes) {
      if (Object.entries(r.match).every(([k, v]) => record.labels[k] === v)) return r;
    }
    return null;
  }

  /** Whether the alert's severity (or a failed runbook) makes it page. */
  shouldPage(record: AlertRecord): boolean {
    return record.severity === 'critical' || this.options.minSeverity === 'warning' || Boolean(record.runbookFailed);
  }

  /** The trigger event of an alert (PD-CEF payload with the explanation in custom_details). */
  trigger(record: AlertRecord, now: number): PagerDutyEvent {
    const a = alertAnnotations(record);
    const x = record.explanation;
    const link = generatorUrl(this.options.foreshockUrl, record.seriesKey);
    const custom: Record<string, unknown> = {
      description: a.description,
      series: record.seriesKey,
      labels: record.labels,
      value: x.value,
      expected: x.expected,
      band: [x.lower, x.upper],
      z: x.z,
      trend_per_s: x.trendPerS,
      score: x.score,
      detectors: x.fired,
      started_at: new Date(record.startsAt).toISOString(),
    };
    if (x.forecast) custom.forecast = { threshold: x.forecast.threshold, breach_at: new Date(x.forecast.breachAt).toISOString() };
    if (record.runbookFailed) custom.runbook_failed = record.runbookFailed;
    const ev: PagerDutyEvent = {
      event_action: 'trigger',
      dedup_key: dedupKeyOf(record.id),
      payload: {
        summary: truncate((record.runbookFailed ? '[runbook failed] ' : '') + a.summary, PAGERDUTY_SUMMARY_MAX),
        source: truncate(record.host || record.seriesKey, 255),
        severity: pagerDutySeverity(record.severity),
        timestamp: new Date(now).toISOString(),
        class: record.alertname,
        custom_details: custom,
      },
      client: 'Foreshock',
    };
    const component = record.labels.metric;
    if (component) ev.payload!.component = component;
    const group = record.labels.cluster ?? record.labels.service;
    if (group) ev.payload!.group = group;
    if (link) {
      ev.links = [{ href: link, text: 'Series on Foreshock' }];
      ev.client_url = this.options.foreshockUrl;
    }
    return ev;
  }

  resolve(record: AlertRecord): PagerDutyEvent {
    return { event_action: 'resolve', dedup_key: record.paged?.dedupKey ?? dedupKeyOf(record.id) };
  }

  /** Job handler: one delivery attempt. Throws to make the queue retry (429, 5xx, network). */
  async run(job: Job<PageJob>): Promise<void> {
    const { route: name, event, alertId, seriesKey } = job.data;
    const route = this.options.routes.find((r) => r.name === name);
    const base = { kind: 'notification' as const, action: `pagerduty.${event.event_action}`, alertId, seriesKey, target: `pagerduty/${name}`, attempt: job.attempt, detail: `dedup_key ${event.dedup_key}` };
    if (route === undefined || this.client === null) {
      await this.deps.audit.append({ ...base, at: this.deps.clock(), outcome: 'skipped', detail: `route ${name} is not configured` });
      return;
    }
    const settle = await this.limiter.acquire(route.routingKey);
    const res = await this.client.send(route.routingKey, event);
    settle();
    const at = this.deps.clock();
    const outcome = res.outcome === 'accepted' ? 'ok' : res.outcome === 'rejected' ? 'dead_letter' : 'failed';
    await this.deps.audit.append({ ...base, at, status: res.status, outcome, detail: `${base.detail}; ${res.message.slice(0, 200)}` });
    if (res.outcome === 'accepted') {
      this.stats.pagesSent++;
      return;
    }
    const log = { alert: alertId, route: name, action: event.event_action, status: res.status, attempt: job.attempt, message: res.message };
    if (res.outcome === 'rejected') {
      this.stats.pagesRejected++;
      this.deps.logger.error(log, 'pagerduty rejected the event; dead-lettered, not retried');
      await this.deps.store.append(PAGERDUTY_DEAD_LETTERS, JSON.stringify({ at, route: name, status: res.status, message: res.message, event }), 1000);
      return;
    }
    this.stats.pagesRetried++;
    this.deps.logger.warn(log, 'pagerduty delivery failed; the job retries with backoff');
    throw new ForeshockError('FS_PD_RETRY', `pagerduty ${event.event_action} ${event.dedup_key}: ${res.message}`, 502);
  }
}
