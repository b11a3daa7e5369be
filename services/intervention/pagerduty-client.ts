// Delivery of pages to PagerDuty (Events API v2, POST /v2/enqueue), the paging hop of the
// intervention stage. One request per event; the caller's job queue retries what may succeed later.

import { createHash } from 'node:crypto';
import { ForeshockError } from '../../shared/errors/index.js';

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

/** `payload` of an alert event (PD-CEF); limits from PagerDuty's documentation. */
export interface PagerDutyPayload {
  /** At most 1024 characters. */
  summary: string;
  source: string;
  severity: PagerDutySeverity;
  /** ISO 8601. */
  timestamp?: string;
  component?: string;
  group?: string;
  class?: string;
  custom_details?: Record<string, unknown>;
}

/** An Events API v2 alert event without its routing key (added when it is sent, never stored). */
export interface PagerDutyEvent {
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  /** At most 255 characters. */
  dedup_key: string;
  payload?: PagerDutyPayload;
  links?: { href: string; text?: string }[];
  images?: { src: string; href?: string; alt?: string }[];
  client?: string;
  client_url?: string;
}

export const PAGERDUTY_SUMMARY_MAX = 1024;
export const PAGERDUTY_DEDUP_KEY_MAX = 255;

/** Foreshock severity → PagerDuty severity. */
export function pagerDutySeverity(severity: 'warning' | 'critical'): PagerDutySeverity {
  return severity === 'critical' ? 'critical' : 'warning';
}

/** Stable dedup_key of an alert: readable when short enough, else a hash of the alert id. */
export function dedupKeyOf(alertId: string): string {
  const key = `foreshock/${alertId}`;
  if (key.length <= PAGERDUTY_DEDUP_KEY_MAX) return key;
  return `foreshock/sha256:${createHash('sha256').update(alertId).digest('hex')}`;
}

/** Cuts `s` to `max` characters (code points kept whole), ending with an ellipsis when cut. */
export function truncate(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

/** One answer of PagerDuty (or of the network). */
export interface PagerDutyResult {
  /** HTTP status, 0 when there was no response. */
  status: number;
  /** accepted (2xx), rejected (400 and other 4xx except 408/429: never retried), retry. */
  outcome: 'accepted' | 'rejected' | 'retry';
  message: string;
}

export interface PagerDutyClientOptions {
  url: string;
  timeoutMs?: number;
  userAgent?: string;
}

export class PagerDutyClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  /** Throws FS_PD_URL for a URL that does not parse. */
  constructor(options: PagerDutyClientOptions) {
    if (!URL.canParse(options.url)) throw new ForeshockError('FS_PD_URL', `pagerduty url ${JSON.stringify(options.url)} is not a URL`);
    this.url = options.url;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.userAgent = options.userAgent ?? 'foreshock';
  }

  /** Sends one event with `routingKey`; never throws (the result says what happened). The key is never logged or returned. */
  async send(routingKey: string, event: PagerDutyEvent): Promise<PagerDutyResult> {
    const body = JSON.stringify({ routing_key: routingKey, ...event });
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': this.userAgent },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { status: 0, outcome: 'retry', message: why };
    }
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The status says enough.
    }
    const detail = text.trim().slice(0, 300);
    const message = `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
    if (res.status >= 200 && res.status < 300) return { status: res.status, outcome: 'accepted', message };
    if (res.status === 429 || res.status === 408 || res.status >= 500) return { status: res.status, outcome: 'retry', message };
    return { status: res.status, outcome: 'rejected', message };
  }
}

/**
 * At most `max` requests per key in any `windowMs` (sliding window, as PagerDuty counts arrivals):
 * `acquire` waits until a slot is free; the returned `settle` moves the request's stamp to when
 * it finished, so latency never squeezes two windows' worth into one at the receiver.
 * In-process: with several worker processes, give each a share of the rate.
 */
export class SlidingWindowLimiter {
  private readonly stamps = new Map<string, { t: number }[]>();
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(max >= 1) || !(windowMs > 0)) throw new ForeshockError('FS_LIMITER_OPTIONS', 'limiter: max >= 1 and windowMs > 0 required');
  }

  /** Resolves with `settle` when the caller may go; callers of one key go in call order. */
  acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const mine = prev.then(() => this.take(key));
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return mine;
  }

  private async take(key: string): Promise<() => void> {
    let list = this.stamps.get(key);
    if (list === undefined) this.stamps.set(key, (list = []));
    for (;;) {
      const now = this.clock();
      list.sort((a, b) => a.t - b.t);
      while (list.length > 0 && list[0].t <= now - this.windowMs) list.shift();
      if (list.length < this.max) {
        const stamp = { t: now };
        list.push(stamp);
        return () => {
          stamp.t = Math.max(stamp.t, this.clock());
        };
      }
      await new Promise((r) => setTimeout(r, Math.max(1, list[0].t + this.windowMs - now)));
    }
  }
}
