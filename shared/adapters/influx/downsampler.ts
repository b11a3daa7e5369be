// Downsampling in front of the Influx sink: at most one point per series (measurement + tags)
// and interval reaches InfluxDB, so a detector that scores every 15 s sample does not write
// every one of them to a dashboard store.

import type { MetricPoint } from '../../ports/index.js';

interface Bucket {
  measurement: string;
  tags: Record<string, string>;
  /** Start of the interval, ms; the timestamp the point is written with. */
  start: number;
  /** Event time of the newest point folded in (for last-value fields). */
  lastTs: number;
  fields: Record<string, number>;
  /** Changed since it was last emitted. */
  dirty: boolean;
  /** Written to since the last tick (idle clean buckets are forgotten). */
  touched: boolean;
}

export interface DownsamplerStats {
  /** Points older than the interval their series is in now: dropped. */
  late: number;
}

/**
 * Folds points into fixed, epoch-aligned intervals per series. A field named in `maxFields`
 * keeps the maximum over the interval (a spike of the score survives); every other field
 * keeps its newest value. The point of an interval is stamped with the interval's start, so
 * re-emitting an interval (late points, a flush before it ended) overwrites the same point in
 * InfluxDB instead of adding one.
 *
 * An interval is emitted when its series moves on to a later one, when `tick` finds it ended
 * (by the newest event time seen on any series), or on `drain`. The caller must not mutate a
 * point after `add`: its tags object is kept by reference.
 */
export class Downsampler {
  readonly stats: DownsamplerStats = { late: 0 };
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxFields: ReadonlySet<string>;
  /** Newest event time seen, ms. */
  private watermark = -Infinity;

  constructor(
    /** Interval length in ms; 0 passes every point through unchanged. */
    readonly intervalMs: number,
    maxFields: readonly string[],
  ) {
    this.maxFields = new Set(maxFields);
  }

  /** Series with an interval held. */
  get size(): number {
    return this.buckets.size;
  }

  add(p: MetricPoint, emit: (p: MetricPoint) => void): void {
    if (this.intervalMs === 0) {
      emit(p);
      return;
    }
    if (p.ts > this.watermark) this.watermark = p.ts;
    const start = p.ts - mod(p.ts, this.intervalMs);
    let key = p.measurement;
    for (const k in p.tags) key += '\u0000' + k + '=' + p.tags[k];
    const b = this.buckets.get(key);
    if (b === undefined) {
      this.buckets.set(key, newBucket(p, start));
      return;
    }
    if (start < b.start) {
      this.stats.late++;
      return;
    }
    if (start > b.start) {
      if (b.dirty) emit(toPoint(b));
      this.buckets.set(key, newBucket(p, start));
      return;
    }
    const newest = p.ts >= b.lastTs;
    if (newest) b.lastTs = p.ts;
    for (const f in p.fields) {
      const v = p.fields[f];
      if (v !== v) continue;
      if (this.maxFields.has(f)) {
        const cur = b.fields[f];
        if (cur === undefined || v > cur) b.fields[f] = v;
      } else if (newest || b.fields[f] === undefined) {
        b.fields[f] = v;
      }
    }
    b.dirty = true;
    b.touched = true;
  }

  /**
   * Emits the intervals that ended (by event time) and changed since last emitted; forgets
   * emitted intervals that saw no point since the previous tick, so idle series cost nothing.
   */
  tick(emit: (p: MetricPoint) => void): void {
    for (const [key, b] of this.buckets) {
      const ended = b.start + this.intervalMs <= this.watermark;
      if (b.dirty && ended) {
        emit(toPoint(b));
        b.dirty = false;
      } else if (!b.dirty && !b.touched) {
        this.buckets.delete(key);
      }
      b.touched = false;
    }
  }

  /** Emits every interval that changed since last emitted, ended or not. */
  drain(emit: (p: MetricPoint) => void): void {
    for (const b of this.buckets.values()) {
      if (!b.dirty) continue;
      emit(toPoint(b));
      b.dirty = false;
    }
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

function newBucket(p: MetricPoint, start: number): Bucket {
  const fields: Record<string, number> = {};
  for (const f in p.fields) {
    const v = p.fields[f];
    if (v === v) fields[f] = v;
  }
  return { measurement: p.measurement, tags: p.tags, start, lastTs: p.ts, fields, dirty: true, touched: true };
}

function toPoint(b: Bucket): MetricPoint {
  return { measurement: b.measurement, tags: b.tags, fields: { ...b.fields }, ts: b.start };
}
