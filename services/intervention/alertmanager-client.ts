// Delivery of alerts to Alertmanager (API v2, POST /api/v2/alerts), the last hop of the
// intervention stage. Every configured Alertmanager receives every alert, as Prometheus does.

import { ForeshockError } from '../../shared/errors/index.js';

/** `postableAlert` of Alertmanager's OpenAPI (api/v2/openapi.yaml); times are RFC 3339. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface AlertmanagerClientOptions {
  /** Base URLs (e.g. http://am:9093, or with a route prefix http://host/am/). */
  urls: string[];
  /** Timeout of one POST, ms. Default 10_000. */
  timeoutMs?: number;
  /** User-Agent header. Default 'foreshock'. */
  userAgent?: string;
}

export const ALERTMANAGER_CLIENT_DEFAULTS = Object.freeze({ timeoutMs: 10_000, userAgent: 'foreshock' });

/** One Alertmanager that did not accept a POST. */
export interface AlertmanagerFailure {
  url: string;
  /** HTTP status, or 0 when there was no response (refused, reset, timeout). */
  status: number;
  message: string;
}

/**
 * A delivery failed on at least one Alertmanager. `code` is FS_AM_HTTP (non-2xx answer),
 * FS_AM_TIMEOUT or FS_AM_NETWORK, after the first failure; `failures` lists every one.
 * Retrying can succeed unless `retryable` is false (a 4xx other than 408/429: the request itself is wrong).
 */
export class AlertmanagerError extends ForeshockError {
  readonly failures: AlertmanagerFailure[];
  /** Alertmanagers that accepted the same POST. */
  readonly delivered: number;
  /** Status of the first failure (0: no response). */
  readonly upstreamStatus: number;
  readonly retryable: boolean;
  /** Every Alertmanager's answer to the POST (accepted ones too), for the audit. */
  results: AlertmanagerResult[] = [];

  constructor(code: string, failures: AlertmanagerFailure[], delivered: number) {
    const first = failures[0];
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more Alertmanager(s))` : '';
    super(code, `alertmanager ${first.url}: ${first.message}${more}`, 502);
    this.failures = failures;
    this.delivered = delivered;
    this.upstreamStatus = first.status;
    this.retryable = failures.some((f) => f.status === 0 || f.status >= 500 || f.status === 408 || f.status === 429);
  }
}

/** One Alertmanager's answer to one POST: HTTP status, 0 without a response. */
export interface AlertmanagerResult {
  url: string;
  status: number;
}

function alertsEndpoint(base: string): string {
  const u = new URL(base.endsWith('/') ? base : base + '/');
  return new URL('api/v2/alerts', u).toString();
}

function codeOf(f: AlertmanagerFailure, timedOut: boolean): string {
  if (f.status !== 0) return 'FS_AM_HTTP';
  return timedOut ? 'FS_AM_TIMEOUT' : 'FS_AM_NETWORK';
}

export class AlertmanagerClient {
  readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  /** Throws FS_AM_URL for a URL that does not parse. */
  constructor(options: AlertmanagerClientOptions) {
    this.timeoutMs = options.timeoutMs ?? ALERTMANAGER_CLIENT_DEFAULTS.timeoutMs;
    this.userAgent = options.userAgent ?? ALERTMANAGER_CLIENT_DEFAULTS.userAgent;
    this.endpoints = options.urls.map((u) => {
      try {
        return alertsEndpoint(u);
      } catch (err) {
        throw new ForeshockError('FS_AM_URL', `alertmanager url ${JSON.stringify(u)} is not a URL`, 500, { cause: err });
      }
    });
  }

  /**
   * POSTs `alerts` to every Alertmanager concurrently. Resolves when all answered 2xx; else
   * throws AlertmanagerError after all were tried (so a retry re-sends to all, which
   * Alertmanager deduplicates by label set).
   */
  async post(alerts: PostableAlert[]): Promise<AlertmanagerResult[]> {
    if (alerts.length === 0 || this.endpoints.length === 0) return [];
    const body = JSON.stringify(alerts);
    const answers = await Promise.all(this.endpoints.map((url) => this.postOne(url, body)));
    const failures: { f: AlertmanagerFailure; timedOut: boolean }[] = [];
    const results: AlertmanagerResult[] = [];
    for (const a of answers) {
      results.push({ url: a.url, status: a.status });
      if (a.failure !== null) failures.push(a.failure);
    }
    if (failures.length === 0) return results;
    const err = new AlertmanagerError(
      codeOf(failures[0].f, failures[0].timedOut),
      failures.map((x) => x.f),
      this.endpoints.length - failures.length,
    );
    err.results = results;
    throw err;
  }

  private async postOne(url: string, body: string): Promise<{ url: string; status: number; failure: { f: AlertmanagerFailure; timedOut: boolean } | null }> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': this.userAgent },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const timedOut = e.name === 'TimeoutError';
      const why = timedOut ? `timed out after ${this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { url, status: 0, failure: { f: { url, status: 0, message: why }, timedOut } };
    }
    // Read the body either way so the connection can be reused.
    let text = '';
    try {
      text = await res.text();
    } catch {
      // A body cut short does not change what the status says.
    }
    if (res.ok) return { url, status: res.status, failure: null };
    const detail = text.trim().slice(0, 300);
    return { url, status: res.status, failure: { f: { url, status: res.status, message: `HTTP ${res.status}${detail ? `: ${detail}` : ''}` }, timedOut: false } };
  }
}
