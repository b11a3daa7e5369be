// Real MetricSink: the detector's scores, bands and forecasts, downsampled per interval and
// written to InfluxDB 2 (or anything that takes /api/v2/write) as line protocol, in batches,
// with retries, through @influxdata/influxdb-client's WriteApi.

import { HttpError, InfluxDB, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import { formatLineProtocol, type FieldType } from '../../codecs/index.js';
import { ForeshockError } from '../../errors/index.js';
import { SINK_MAX_FIELDS } from '../../model/index.js';
import type { MetricPoint, MetricSink } from '../../ports/index.js';
import type { Logger } from '../../telemetry/index.js';
import { withDefaults } from '../memory/with-defaults.js';
import { Downsampler } from './downsampler.js';

export interface InfluxMetricSinkOptions {
  /** Base URL, e.g. http://influxdb:8086. */
  url: string;
  org: string;
  bucket: string;
  /** API token ('' for none, as VictoriaMetrics needs). */
  token?: string;
  /** Lines per write request. Default 5000. */
  batchSize?: number;
  /** How often ended intervals are emitted and the batch is sent, ms. Default 10 s. */
  flushIntervalMs?: number;
  /** Downsampling interval, ms; 0 writes every point. Default 60 s. */
  downsampleMs?: number;
  /** Retries of a failed batch (network errors, 429 and 5xx). Default 5. */
  maxRetries?: number;
  /** A batch is given up this long after its first attempt, ms. Default 3 min. */
  maxRetryTimeMs?: number;
  /** First retry delay, ms (grows exponentially, randomised). Default 1 s. */
  minRetryDelayMs?: number;
  /** Longest retry delay, ms. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Lines kept for retry; beyond it the oldest are dropped (counted). Default 100 000. */
  maxBufferLines?: number;
  /** Timeout of one write request, ms. Default 10 s. */
  timeoutMs?: number;
  /** Fields a downsampled interval keeps the maximum of. Default: the sink schema's (score). */
  maxFields?: readonly string[];
  /** Where failed writes are reported (else they are only counted). */
  logger?: Logger;
  /** Told every count added to `stats` (e.g. to mirror them into /metrics). */
  onCount?: (what: Exclude<keyof InfluxMetricSinkStats, 'received'>, n: number) => void;
}

export const INFLUX_METRIC_SINK_DEFAULTS: Readonly<Required<Omit<InfluxMetricSinkOptions, 'url' | 'org' | 'bucket' | 'logger' | 'onCount'>>> = Object.freeze({
  token: '',
  batchSize: 5000,
  flushIntervalMs: 10_000,
  downsampleMs: 60_000,
  maxRetries: 5,
  maxRetryTimeMs: 180_000,
  minRetryDelayMs: 1000,
  maxRetryDelayMs: 30_000,
  maxBufferLines: 100_000,
  timeoutMs: 10_000,
  maxFields: SINK_MAX_FIELDS,
});

export interface InfluxMetricSinkStats {
  /** Points handed to `write`. */
  received: number;
  /** Lines InfluxDB acknowledged. */
  written: number;
  /** Failed write attempts that were scheduled for a retry (in lines). */
  retried: number;
  /** Lines given up: retries exhausted, rejected (4xx), pushed out of the retry buffer, or unsent at close. */
  dropped: number;
  /** Points older than the interval their series had reached: dropped. */
  late: number;
  /** Points that could not be written as line protocol (bad names): dropped. */
  invalid: number;
}

const FLOAT: FieldType = 'float';
/** Write requests in flight at once; beyond it lines wait in `pending` (bounded by maxBufferLines). */
const MAX_IN_FLIGHT = 4;

/**
 * `write` only buffers (downsampling, then the client's batch buffer) and never waits for the
 * network. `flush` sends everything held now, including batches waiting for a retry, and
 * rejects when InfluxDB still fails (the lines stay queued for retry). `close` flushes what it
 * can, then stops; what could not be sent is counted in `stats.dropped`.
 */
export class InfluxMetricSink implements MetricSink {
  readonly stats: InfluxMetricSinkStats = { received: 0, written: 0, retried: 0, dropped: 0, late: 0, invalid: 0 };
  private readonly writeApi: WriteApi;
  private readonly downsampler: Downsampler;
  private readonly timer: NodeJS.Timeout;
  private readonly emit = (p: MetricPoint): void => this.emitPoint(p);
  private readonly logger: Logger | undefined;
  private readonly batchSize: number;
  private readonly maxBufferLines: number;
  /** Lines emitted and not yet handed to the client, oldest first. */
  private pending: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly onCount: InfluxMetricSinkOptions['onCount'];
  private readonly count = (what: Exclude<keyof InfluxMetricSinkStats, 'received'>, n: number): void => {
    if (n <= 0) return;
    this.stats[what] += n;
    this.onCount?.(what, n);
  };

  constructor(options: InfluxMetricSinkOptions) {
    const o = withDefaults(INFLUX_METRIC_SINK_DEFAULTS, options);
    for (const k of ['url', 'org', 'bucket'] as const) {
      if (typeof options[k] !== 'string' || options[k] === '') {
        throw new ForeshockError('FS_SINK_OPTIONS', `influx metric sink: ${k} is required`);
      }
    }
    if (!/^https?:\/\/[^/]+/.test(options.url)) throw new ForeshockError('FS_SINK_OPTIONS', `influx metric sink: url "${options.url}" is not an http(s) URL`);
    for (const k of ['batchSize', 'flushIntervalMs', 'maxBufferLines', 'timeoutMs'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new ForeshockError('FS_SINK_OPTIONS', `influx metric sink: ${k} must be a positive integer`);
    }
    if (!Number.isInteger(o.downsampleMs) || o.downsampleMs < 0) {
      throw new ForeshockError('FS_SINK_OPTIONS', 'influx metric sink: downsampleMs must be a whole number of ms, 0 or more');
    }
    this.logger = options.logger;
    this.batchSize = o.batchSize;
    this.maxBufferLines = o.maxBufferLines;
    const count = this.count;
    this.onCount = options.onCount;
    const maxRetries = o.maxRetries;
    const logger = this.logger;
    routeClientLog(logger ?? null);
    const client = new InfluxDB({ url: options.url, token: o.token || undefined, timeout: o.timeoutMs });
    this.writeApi = client.getWriteApi(options.org, options.bucket, 'ms', {
      // We cut the batches (so flush can wait for every one of them); the client never sends on
      // its own: not by size (one more than a batch) nor by timer.
      batchSize: o.batchSize + 1,
      flushInterval: 0,
      maxRetries,
      maxRetryTime: o.maxRetryTimeMs,
      minRetryDelay: o.minRetryDelayMs,
      maxRetryDelay: o.maxRetryDelayMs,
      maxBufferLines: o.maxBufferLines,
      retryJitter: Math.min(200, o.minRetryDelayMs),
      exponentialBase: 2,
      randomRetry: true,
      writeSuccess(lines) {
        count('written', lines.length);
      },
      writeFailed(error, lines, attempt, expires) {
        // The client retries network errors, 429 and 5xx until maxRetries or the expiry.
        const retriable = !(error instanceof HttpError) || error.statusCode >= 429;
        const final = !retriable || attempt > maxRetries || expires <= Date.now();
        count(final ? 'dropped' : 'retried', lines.length);
        logger?.warn({ err: error.message, lines: lines.length, attempt, final }, final ? 'metric sink: batch dropped' : 'metric sink: write failed, will retry');
        return undefined;
      },
      writeRetrySkipped(entry) {
        count('dropped', entry.lines.length);
        logger?.warn({ lines: entry.lines.length }, 'metric sink: retry buffer full, oldest lines dropped');
      },
    });
    this.downsampler = new Downsampler(o.downsampleMs, o.maxFields);
    this.timer = setInterval(() => this.tick(), o.flushIntervalMs);
    this.timer.unref();
  }

  write(points: MetricPoint[]): void {
    if (this.closed) {
      // A stage still draining during shutdown must not crash on a closed sink.
      this.count('dropped', points.length);
      return;
    }
    this.stats.received += points.length;
    const late = this.downsampler.stats.late;
    for (let i = 0; i < points.length; i++) this.downsampler.add(points[i], this.emit);
    if (this.downsampler.stats.late > late) this.count('late', this.downsampler.stats.late - late);
  }

  async flush(): Promise<void> {
    this.downsampler.drain(this.emit);
    while (this.pending.length > 0 || this.inFlight.size > 0) {
      this.sendPending(true);
      // Failures are already queued for retry; the retry flush below decides the outcome.
      await Promise.allSettled([...this.inFlight]);
    }
    await this.writeApi.flush(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.flush();
    } catch {
      // Counted below: whatever is still queued is lost.
    }
    this.count('dropped', this.writeApi.dispose() + this.pending.length);
    this.pending = [];
  }

  /** Series with a downsampling interval held in memory. */
  get seriesHeld(): number {
    return this.downsampler.size;
  }

  private tick(): void {
    this.downsampler.tick(this.emit);
    this.sendPending(true);
  }

  /** Hands full batches (and with `partial`, the rest) to the client, within MAX_IN_FLIGHT. */
  private sendPending(partial: boolean): void {
    while (this.inFlight.size < MAX_IN_FLIGHT && (this.pending.length >= this.batchSize || (partial && this.pending.length > 0))) {
      const batch = this.pending.length > this.batchSize ? this.pending.splice(0, this.batchSize) : this.pending;
      if (batch === this.pending) this.pending = [];
      this.writeApi.writeRecords(batch);
      // Failures are counted in writeFailed and the lines queued in the client's retry buffer.
      const p: Promise<void> = this.writeApi.flush().then(
        () => undefined,
        () => undefined,
      );
      this.inFlight.add(p);
      p.finally(() => {
        this.inFlight.delete(p);
        if (!this.closed) this.sendPending(false);
      });
    }
    if (this.pending.length > this.maxBufferLines) {
      // InfluxDB is slower than the detector: keep the newest lines, count the rest.
      const drop = this.pending.length - this.maxBufferLines;
      this.pending.splice(0, drop);
      this.count('dropped', drop);
    }
  }

  private emitPoint(p: MetricPoint): void {
    const fieldKeys = Object.keys(p.fields);
    const fieldValues = new Array<number>(fieldKeys.length);
    const fieldTypes = new Array<FieldType>(fieldKeys.length);
    for (let i = 0; i < fieldKeys.length; i++) {
      fieldValues[i] = p.fields[fieldKeys[i]];
      fieldTypes[i] = FLOAT;
    }
    let line: string;
    try {
      line = formatLineProtocol({ measurement: p.measurement, tags: Object.entries(p.tags), fieldKeys, fieldTypes, fieldValues, timestampMs: p.ts }, 'ms');
    } catch (err) {
      this.count('invalid', 1);
      this.logger?.warn({ err: (err as Error).message, measurement: p.measurement }, 'metric sink: point dropped');
      return;
    }
    // No finite field left: nothing to write.
    if (line === '') return;
    this.pending.push(line);
    if (this.pending.length >= this.batchSize) this.sendPending(false);
  }
}

let routed = false;

/**
 * The client logs through one module-wide logger (to the console by default); send it to ours,
 * or nowhere: every failure it reports is also counted in `stats` and reported by writeFailed.
 */
function routeClientLog(logger: Logger | null): void {
  if (routed && logger === null) return;
  routed = true;
  setLogger({
    error: (message, err) => logger?.warn({ err: err instanceof Error ? err.message : err }, `influx client: ${message}`),
    warn: (message, err) => logger?.debug({ err: err instanceof Error ? err.message : err }, `influx client: ${message}`),
  });
}
