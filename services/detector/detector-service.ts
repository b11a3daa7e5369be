// Detector stage: consumes sample batches (the partitions this worker owns), prepares each
// series (order, duplicates, counter → rate), runs the engine on event time and publishes
// the events it raises to the events topic and the recent-events log.

import { decodeSampleBatch } from '../../shared/codecs/index.js';
import type { ForeshockConfig } from '../../shared/config/index.js';
import { ForeshockError } from '../../shared/errors/index.js';
import {
  EVENTS_LOG, KIND_COUNTER, type AnomalyEvent, type EventKind, type ForecastPoint, type SeriesFilter, type SeriesSamples,
  type SeriesState, type SeriesSummary, type SeriesView,
} from '../../shared/model/index.js';
import type { Bus, BusBatch, MetricSink, OutgoingMessage, StateStore, Subscription } from '../../shared/ports/index.js';
import type { Logger, Telemetry } from '../../shared/telemetry/index.js';
import { DetectorEngine, EVENT_OPENED, EVENT_RESOLVED, EVENT_UPDATED, explain, paramsFromConfig } from './engine/index.js';
import { SeriesTable } from './series-table.js';

export interface DetectorDeps {
  bus: Bus;
  store: StateStore;
  sink: MetricSink;
  config: ForeshockConfig;
  telemetry: Telemetry;
  logger: Logger;
}

/** Events kept in the StateStore's recent-events log. */
const EVENTS_LOG_MAX = 10_000;
const EVICT_EVERY_MS = 60_000;
const textEncoder = new TextEncoder();

export class DetectorService implements SeriesView {
  private readonly engine: DetectorEngine;
  private readonly table = new SeriesTable();
  private subscription: Subscription | null = null;
  private started = false;
  private maxEventTs = -Infinity;
  private lastEvictAt = -Infinity;
  private readonly out = new Float64Array(3);
  private dropped = { duplicate: 0, out_of_order: 0 };

  constructor(private readonly deps: DetectorDeps) {
    this.engine = new DetectorEngine([paramsFromConfig(deps.config.detector)]);
  }

  ready(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    const { bus, config } = this.deps;
    this.subscription = await bus.subscribe({
      groupId: 'foreshock-detector',
      topics: [config.bus.topicSamples],
      eachBatch: (batch) => this.handleBatch(batch),
    });
    this.started = true;
  }

  async handleBatch(batch: BusBatch): Promise<void> {
    const { telemetry, logger } = this.deps;
    const events: AnomalyEvent[] = [];
    const t0 = process.hrtime.bigint();
    let scored = 0;
    for (const m of batch.messages) {
      let series: SeriesSamples[];
      try {
        series = decodeSampleBatch(m.value).series;
      } catch (err) {
        telemetry.errors.inc({ code: err instanceof ForeshockError ? err.code : 'FS_DETECTOR_DECODE' });
        logger.warn({ partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'sample batch dropped');
        continue;
      }
      for (const s of series) scored += this.processSeries(s, events);
    }
    const ns = Number(process.hrtime.bigint() - t0);
    if (scored > 0) {
      telemetry.samplesScored.inc(scored);
      telemetry.detectorNsPerSample.set(ns / scored);
      telemetry.detectorBatchSeconds.observe(ns / 1e9);
    }
    this.flushDropCounts();
    this.maybeEvict();
    telemetry.seriesActive.set(this.table.size);
    if (events.length > 0) await this.publish(events);
  }

  /** Runs one series' samples through the engine; returns the number scored. */
  processSeries(s: SeriesSamples, events: AnomalyEvent[]): number {
    const { engine, table } = this;
    let slot = table.get(s.key);
    if (slot === undefined) {
      slot = engine.allocSlot(0);
      table.bind(slot, s.key, s.labels, s.host, s.kind);
    }
    const ts = s.timestamps;
    const vs = s.values;
    const counter = s.kind === KIND_COUNTER;
    let last = table.lastTs[slot];
    let raw = table.lastRaw[slot];
    let scored = 0;
    for (let i = 0; i < vs.length; i++) {
      const t = ts[i];
      let x = vs[i];
      if (t <= last) {
        if (t === last) this.dropped.duplicate++;
        else this.dropped.out_of_order++;
        continue;
      }
      if (counter) {
        // A raw counter is never scored: the first sample only primes the rate, and a
        // value below the previous one is a reset (the counter restarted from zero).
        const prev = raw;
        raw = x;
        const dtMs = t - last;
        last = t;
        if (prev !== prev) continue;
        x = ((x >= prev ? x - prev : x) * 1000) / dtMs;
      } else {
        last = t;
      }
      const code = engine.update(slot, t, x);
      scored++;
      if (code !== 0) events.push(this.makeEvent(slot, code, t));
    }
    table.lastTs[slot] = last;
    table.lastRaw[slot] = raw;
    table.samples[slot] += scored;
    if (last > this.maxEventTs) this.maxEventTs = last;
    if (s.stale && last > -Infinity) {
      const code = engine.markStale(slot, last);
      if (code !== 0) events.push(this.makeEvent(slot, code, last));
    }
    return scored;
  }

  private makeEvent(slot: number, code: number, ts: number): AnomalyEvent {
    const { engine, table } = this;
    const kind: EventKind = code === EVENT_OPENED ? 'anomaly_opened' : code === EVENT_UPDATED ? 'anomaly_updated' : 'anomaly_resolved';
    const key = table.keys[slot]!;
    const startedAt = engine.outEpisodeStart;
    const explanation = explain(engine);
    // Stable across replays: the same series, episode and kind (and time, for updates)
    // always give the same id.
    const id = `${hash64(key)}-${startedAt}-${kind}${code === EVENT_UPDATED ? `-${ts}` : ''}`;
    return {
      id,
      kind,
      seriesKey: key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      ts,
      startedAt,
      severity: explanation.score >= 0.99 ? 'critical' : 'warning',
      explanation,
    };
  }

  private async publish(events: AnomalyEvent[]): Promise<void> {
    const { bus, store, config, telemetry } = this.deps;
    const messages: OutgoingMessage[] = [];
    for (const e of events) {
      telemetry.events.inc({ kind: e.kind });
      messages.push({ key: e.seriesKey, value: textEncoder.encode(JSON.stringify(e)) });
    }
    await bus.send(config.bus.topicEvents, messages);
    for (const e of events) await store.append(EVENTS_LOG, JSON.stringify(e), EVENTS_LOG_MAX);
  }

  private flushDropCounts(): void {
    const { telemetry } = this.deps;
    if (this.dropped.duplicate > 0) telemetry.samplesDropped.inc({ reason: 'duplicate' }, this.dropped.duplicate);
    if (this.dropped.out_of_order > 0) telemetry.samplesDropped.inc({ reason: 'out_of_order' }, this.dropped.out_of_order);
    this.dropped = { duplicate: 0, out_of_order: 0 };
  }

  private maybeEvict(): void {
    if (this.maxEventTs - this.lastEvictAt < EVICT_EVERY_MS) return;
    this.lastEvictAt = this.maxEventTs;
    const evicted = this.engine.evictIdle(this.maxEventTs, this.deps.config.detector.idleEvict, (slot) => this.table.release(slot));
    if (evicted > 0) this.deps.telemetry.seriesEvicted.inc(evicted);
  }

  // ---- SeriesView (cold path: API queries) ----

  getSeries(key: string): SeriesSummary | null {
    const slot = this.table.get(key);
    return slot === undefined ? null : this.summary(slot);
  }

  listSeries(filter: SeriesFilter): { total: number; items: SeriesSummary[] } {
    const items: SeriesSummary[] = [];
    let total = 0;
    const labelFilter = Object.entries(filter.labels ?? {});
    for (const slot of this.table.slots()) {
      const key = this.table.keys[slot]!;
      if (filter.match !== undefined && !key.includes(filter.match)) continue;
      if (filter.host !== undefined && this.table.hosts[slot] !== filter.host) continue;
      const labels = this.table.labels[slot]!;
      if (labelFilter.some(([k, v]) => labels[k] !== v)) continue;
      if (filter.state !== undefined && this.stateOf(slot) !== filter.state) continue;
      if (total >= filter.offset && items.length < filter.limit) items.push(this.summary(slot));
      total++;
    }
    return { total, items };
  }

  forecast(key: string, horizonMs: number, steps: number): ForecastPoint[] | null {
    const slot = this.table.get(key);
    if (slot === undefined) return null;
    const from = this.table.lastTs[slot];
    const points: ForecastPoint[] = [];
    for (let i = 1; i <= steps; i++) {
      const h = (horizonMs * i) / steps;
      this.engine.forecast(slot, h, this.out);
      points.push({ ts: from + h, mean: this.out[0], lower: this.out[1], upper: this.out[2] });
    }
    return points;
  }

  private stateOf(slot: number): SeriesState {
    return this.engine.stateName(slot);
  }

  private summary(slot: number): SeriesSummary {
    const snap = this.engine.inspect(slot);
    return {
      key: this.table.keys[slot]!,
      labels: this.table.labels[slot]!,
      host: this.table.hosts[slot],
      kind: this.table.isCounter(slot) ? 'counter' : 'gauge',
      state: this.stateOf(slot),
      samples: this.table.samples[slot],
      lastTs: this.table.lastTs[slot],
      value: snap.value,
      expected: snap.expected,
      lower: snap.lower,
      upper: snap.upper,
      score: snap.score,
      z: snap.z,
      trendPerS: snap.trendPerS,
    };
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
    this.started = false;
  }
}

/** 64-bit hash of a string (two 32-bit FNV-1a lanes with different seeds), 16 hex digits. */
function hash64(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
