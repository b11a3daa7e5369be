// Reads history back from a Prometheus-compatible query API (Prometheus, VictoriaMetrics,
// Thanos, Mimir): the series a selector matches, their raw samples over a time range, and the
// metric types. Used by `foreshock backtest` to replay what a team already stores.
//
// Raw samples, not a resampled `query_range`: a range-vector selector `{…}[d]` evaluated at
// time t returns every stored sample in (t − d, t] with its own timestamp, so the replay sees
// the scrape intervals, gaps and jitter the detector would have seen live.

import { ForeshockError } from '../../errors/index.js';

export interface HistoryClientOptions {
  /** Base URL, e.g. http://prometheus:9090 (a path prefix such as /prometheus is kept). */
  url: string;
  /** Timeout of one HTTP request, ms. Default 60 s. */
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

/** One series' raw samples of a time range, in time order. */
export interface HistorySeries {
  labels: Record<string, string>;
  timestamps: Float64Array;
  values: Float64Array;
}

export type MetricTypes = Map<string, string>;

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** Prometheus' HTTP API, read only. */
export class PrometheusHistory {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;

  constructor(options: HistoryClientOptions) {
    if (!/^https?:\/\/[^/]+/.test(options.url)) throw new ForeshockError('FS_HISTORY_URL', `"${options.url}" is not an http(s) URL`, 400);
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.headers = options.headers ?? {};
  }

  /** Label sets of the series any selector matches within [fromMs, toMs]. */
  async series(selectors: readonly string[], fromMs: number, toMs: number): Promise<Record<string, string>[]> {
    const q = new URLSearchParams();
    for (const s of selectors) q.append('match[]', s);
    q.set('start', String(fromMs / 1000));
    q.set('end', String(toMs / 1000));
    return this.get<Record<string, string>[]>('/api/v1/series', q);
  }

  /** Metric name → type (counter, gauge, histogram, summary, …) as the targets announced them. */
  async metadata(): Promise<MetricTypes> {
    const data = await this.get<Record<string, { type: string }[]>>('/api/v1/metadata', new URLSearchParams());
    const out: MetricTypes = new Map();
    for (const [name, entries] of Object.entries(data)) if (entries.length > 0) out.set(name, entries[0].type);
    return out;
  }

  /**
   * Raw samples of `selector` with timestamps in (fromMs, toMs] (a range-vector query at toMs).
   * Keep the range small enough for the server's sample limit (Prometheus: 50 M per query).
   */
  async raw(selector: string, fromMs: number, toMs: number): Promise<HistorySeries[]> {
    const rangeS = Math.max(1, Math.ceil((toMs - fromMs) / 1000));
    const q = new URLSearchParams({ query: `${selector}[${rangeS}s]`, time: String(toMs / 1000) });
    const data = await this.get<{ resultType: string; result: { metric: Record<string, string>; values?: [number, string][] }[] }>('/api/v1/query', q);
    if (data.resultType !== 'matrix') throw new ForeshockError('FS_HISTORY_ANSWER', `expected a matrix for ${selector}, got ${data.resultType}`, 502);
    const out: HistorySeries[] = [];
    for (const r of data.result) {
      const vals = r.values ?? [];
      const timestamps = new Float64Array(vals.length);
      const values = new Float64Array(vals.length);
      let n = 0;
      for (const [t, v] of vals) {
        const ms = Math.round(t * 1000);
        if (ms <= fromMs) continue;
        timestamps[n] = ms;
        values[n] = Number(v);
        n++;
      }
      if (n > 0) out.push({ labels: r.metric, timestamps: timestamps.subarray(0, n), values: values.subarray(0, n) });
    }
    return out;
  }

  private async get<T>(path: string, query: URLSearchParams): Promise<T> {
    const url = `${this.base}${path}?${query.toString()}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (err) {
      throw new ForeshockError('FS_HISTORY_FETCH', `GET ${this.base}${path}: ${(err as Error).message}`, 502, { cause: err });
    }
    const text = await res.text();
    let body: ApiAnswer<T>;
    try {
      body = JSON.parse(text) as ApiAnswer<T>;
    } catch {
      throw new ForeshockError('FS_HISTORY_ANSWER', `GET ${this.base}${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`, 502);
    }
    if (!res.ok || body.status !== 'success') {
      throw new ForeshockError('FS_HISTORY_ANSWER', `GET ${this.base}${path}: HTTP ${res.status} ${body.errorType ?? ''}: ${body.error ?? text.slice(0, 200)}`, 502);
    }
    return body.data;
  }
}
