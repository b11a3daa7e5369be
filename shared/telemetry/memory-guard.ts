// Back-pressure on memory: while the process is above a high-water mark, write endpoints answer
// 503 with Retry-After (senders retry 5xx; Prometheus drops a batch on 429) and Kafka consumers
// pause their partitions, so load sheds before the heap runs out instead of after.
//
// With hysteresis: once over a mark, the guard stays engaged until usage falls below
// mark × (1 − hysteresis). Without it, a process sitting at its mark flips between shedding
// and accepting every check, and each accepting moment lets a burst in that overshoots.

import { getHeapStatistics } from 'node:v8';

export interface MemoryMarks {
  /** Fraction of the V8 heap limit (0: off). */
  heapHighWater: number;
  /** Resident set size in bytes (0: off). */
  rssHighWaterBytes: number;
  /** Share of a mark usage must fall below it before the guard lets go (0: none). Default 0.1. */
  hysteresis?: number;
}

/** What the guard reads; injectable so tests can drive it. */
export interface MemoryReadings {
  rss(): number;
  heap(): { used: number; limit: number };
}

const processReadings: MemoryReadings = {
  rss: () => process.memoryUsage.rss(),
  heap: () => {
    const h = getHeapStatistics();
    return { used: h.used_heap_size, limit: h.heap_size_limit };
  },
};

const MB = 1024 * 1024;

/**
 * Samples memory at most every `intervalMs` (reading RSS costs a syscall), so the check per
 * request or batch is a clock read and a comparison.
 */
export class MemoryGuard {
  private checkedAt = -Infinity;
  private over: string | null = null;
  private readonly hysteresis: number;

  constructor(
    private readonly marks: MemoryMarks,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
    private readonly read: MemoryReadings = processReadings,
    /** Told when the guard engages (with the reason) and lets go (null). */
    private readonly onChange?: (over: string | null) => void,
  ) {
    this.hysteresis = marks.hysteresis ?? 0.1;
    if (!(this.hysteresis >= 0 && this.hysteresis < 1)) throw new RangeError('memory guard: hysteresis must be in [0, 1)');
  }

  /** True when no mark is set (the guard never engages). */
  get off(): boolean {
    return this.marks.heapHighWater <= 0 && this.marks.rssHighWaterBytes <= 0;
  }

  /** Null while below every mark; otherwise which mark is exceeded, for a 503's message or a log line. */
  pressure(): string | null {
    const t = this.now();
    if (t - this.checkedAt < this.intervalMs) return this.over;
    this.checkedAt = t;
    const was = this.over;
    this.over = this.measure(was === null ? 1 : 1 - this.hysteresis);
    if ((was === null) !== (this.over === null)) this.onChange?.(this.over);
    return this.over;
  }

  /** Which mark (scaled by `scale`) usage is above, or null. */
  private measure(scale: number): string | null {
    const { rssHighWaterBytes, heapHighWater } = this.marks;
    if (rssHighWaterBytes > 0) {
      const rss = this.read.rss();
      if (rss > rssHighWaterBytes * scale) {
        return `resident memory ${Math.round(rss / MB)} MiB is above limits.rssHighWaterBytes (${(rssHighWaterBytes / MB).toFixed(1)} MiB${scale < 1 ? `, held until below ${((rssHighWaterBytes * scale) / MB).toFixed(1)} MiB` : ''})`;
      }
    }
    if (heapHighWater > 0) {
      const h = this.read.heap();
      if (h.used > heapHighWater * scale * h.limit) {
        return `heap ${Math.round(h.used / MB)} MiB is above limits.heapHighWater (${heapHighWater} of ${Math.round(h.limit / MB)} MiB${scale < 1 ? `, held until below ${Math.round((heapHighWater * scale * h.limit) / MB)} MiB` : ''})`;
      }
    }
    return null;
  }
}
