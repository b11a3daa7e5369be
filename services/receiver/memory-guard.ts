// Back-pressure for the write endpoints: while the process is above a memory high-water mark
// they answer 503 with Retry-After (senders retry 5xx; Prometheus drops a batch on 429), so
// load sheds before the heap runs out instead of after.

import { getHeapStatistics } from 'node:v8';

export interface MemoryMarks {
  /** Fraction of the V8 heap limit (0: off). */
  heapHighWater: number;
  /** Resident set size in bytes (0: off). */
  rssHighWaterBytes: number;
}

const MB = 1024 * 1024;

/**
 * Samples memory at most every `intervalMs` (reading RSS costs a syscall), so the check per
 * request is a clock read and a comparison.
 */
export class MemoryGuard {
  private checkedAt = -Infinity;
  private over: string | null = null;

  constructor(
    private readonly marks: MemoryMarks,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Null while below every mark; otherwise which mark is exceeded, for the 503's message. */
  pressure(): string | null {
    const t = this.now();
    if (t - this.checkedAt < this.intervalMs) return this.over;
    this.checkedAt = t;
    this.over = null;
    const { rssHighWaterBytes, heapHighWater } = this.marks;
    if (rssHighWaterBytes > 0) {
      const rss = process.memoryUsage.rss();
      if (rss > rssHighWaterBytes) {
        this.over = `resident memory ${Math.round(rss / MB)} MiB is above limits.rssHighWaterBytes (${(rssHighWaterBytes / MB).toFixed(1)} MiB)`;
        return this.over;
      }
    }
    if (heapHighWater > 0) {
      const h = getHeapStatistics();
      if (h.used_heap_size > heapHighWater * h.heap_size_limit) {
        this.over = `heap ${Math.round(h.used_heap_size / MB)} MiB is above limits.heapHighWater (${heapHighWater} of ${Math.round(h.heap_size_limit / MB)} MiB)`;
      }
    }
    return this.over;
  }
}
