// Embedded MetricSink: the detector's scores, bands and forecasts kept in a bounded ring so the
// API can read them back with no InfluxDB; and a sink that discards everything.

import { ForeshockError } from '../../errors/index.js';
import type { MetricPoint, MetricSink } from '../../ports/index.js';
import { withDefaults } from './with-defaults.js';

export interface MemoryMetricSinkOptions {
  /** Points kept; writing more overwrites the oldest (counted in `stats.dropped`). Default 200_000. */
  capacity?: number;
}

export const MEMORY_METRIC_SINK_DEFAULTS: Readonly<Required<MemoryMetricSinkOptions>> = Object.freeze({
  capacity: 200_000,
});

export interface MetricSinkStats {
  written: number;
  /** Points overwritten by newer ones (ring full) or discarded (null sink). */
  dropped: number;
}

/**
 * Ring of the last `capacity` points. Points are kept by reference: a caller must not
 * mutate a point after writing it.
 */
export class MemoryMetricSink implements MetricSink {
  readonly stats: MetricSinkStats = { written: 0, dropped: 0 };
  readonly capacity: number;
  private readonly ring: (MetricPoint | undefined)[];
  /** Index the next point goes to. */
  private next = 0;
  private size = 0;

  constructor(options: MemoryMetricSinkOptions = {}) {
    const { capacity } = withDefaults(MEMORY_METRIC_SINK_DEFAULTS, options);
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ForeshockError('FS_SINK_OPTIONS', 'memory metric sink: capacity must be a positive integer');
    }
    this.capacity = capacity;
    this.ring = new Array<MetricPoint | undefined>(capacity);
  }

  write(points: MetricPoint[]): void {
    for (let i = 0; i < points.length; i++) {
      this.ring[this.next] = points[i];
      this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
      if (this.size < this.capacity) this.size++;
      else this.stats.dropped++;
    }
    this.stats.written += points.length;
  }

  /** Points held now. */
  get length(): number {
    return this.size;
  }

  /**
   * Points of `measurement` whose tags include every pair of `tags`, with `fromMs <= ts <= toMs`,
   * sorted by time (ties in write order).
   */
  query(measurement: string, tags: Record<string, string>, fromMs: number, toMs: number): MetricPoint[] {
    const tagNames = Object.keys(tags);
    const out: MetricPoint[] = [];
    let idx = this.size < this.capacity ? 0 : this.next;
    for (let n = 0; n < this.size; n++) {
      const p = this.ring[idx]!;
      idx = idx + 1 === this.capacity ? 0 : idx + 1;
      if (p.measurement !== measurement || p.ts < fromMs || p.ts > toMs) continue;
      let match = true;
      for (let t = 0; t < tagNames.length; t++) {
        if (p.tags[tagNames[t]] !== tags[tagNames[t]]) {
          match = false;
          break;
        }
      }
      if (match) out.push(p);
    }
    // Array.prototype.sort is stable, so equal timestamps keep write order.
    return out.sort((a, b) => a.ts - b.ts);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Discards every point (sink kind `none`); counts them so /metrics shows what was not kept. */
export class NullMetricSink implements MetricSink {
  readonly stats: MetricSinkStats = { written: 0, dropped: 0 };

  write(points: MetricPoint[]): void {
    this.stats.written += points.length;
    this.stats.dropped += points.length;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
