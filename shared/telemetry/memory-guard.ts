// Back-pressure on memory: while the process is above a high-water mark, write endpoints answer
// 503 with Retry-After (senders retry 5xx; Prometheus drops a batch on 429) and Kafka consumers
// pause their partitions, so load sheds before the heap runs out instead of after.
//
// With hysteresis: once over a mark, the guard stays engaged until usage falls below
// mark × (1 − hysteresis). Without it, a process sitting at its mark flips between shedding
// and accepting every check, and each accepting moment lets a burst in that overshoots.

import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

export interface MemoryMarks {
  /** Fraction of the V8 heap limit (0: off). */
  heapHighWater: number;
  /** Resident set size in bytes (0: off). */
  rssHighWaterBytes: number;
  /** Share of a mark usage must fall below it before the guard lets go (0: none). Default 0.1. */
  hysteresis?: number;
  /** Bytes `reserve` may hold at once (request bodies being read and decoded; 0: no limit). Default 0. */
  bufferBytes?: number;
}

/** Outcome of `reserve`: held, refused for now (503), or never possible (413). */
export type Reservation = 'ok' | 'busy' | 'too_large';

/** A quantity the guard weighs besides memory (e.g. the embedded bus's backlog), with its config key. */
interface Watched {
  key: string;
  what: string;
  limit: number;
  read: () => number;
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
  /** The mark exceeded is resident memory or heap (not a watched quantity such as the bus backlog). */
  private overMemory = false;
  private readonly hysteresis: number;
  private readonly watched: Watched[] = [];
  private reserved = 0;
  private readonly bufferBytes: number;

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
    this.bufferBytes = marks.bufferBytes ?? 0;
  }

  /** True when no mark is set (the guard never engages). */
  get off(): boolean {
    return this.marks.heapHighWater <= 0 && this.marks.rssHighWaterBytes <= 0 && this.watched.length === 0;
  }

  /** The resident-memory mark in force, bytes (0: none). */
  get rssMark(): number {
    return this.marks.rssHighWaterBytes;
  }

  /** Bytes held by `reserve` now. */
  get buffered(): number {
    return this.reserved;
  }

  /**
   * Also engage while `read()` is above `limit` (same hysteresis), e.g. accepted data waiting in
   * the embedded bus. `key` names the config key in the message, `what` the quantity.
   */
  watch(key: string, what: string, limit: number, read: () => number): void {
    if (limit > 0) this.watched.push({ key, what, limit, read });
  }

  /**
   * Holds `bytes` of the buffer budget (limits.bufferBytes) for a request body being read or
   * decoded; `release` them when the request is done. 'busy': others hold too much now (retry
   * later); 'too_large': more than the whole budget (never fits).
   */
  reserve(bytes: number): Reservation {
    if (this.bufferBytes <= 0) {
      this.reserved += bytes;
      return 'ok';
    }
    if (bytes > this.bufferBytes) return 'too_large';
    if (this.reserved + bytes > this.bufferBytes) return 'busy';
    this.reserved += bytes;
    return 'ok';
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }

  /** The budget `reserve` works against (0: none). */
  get bufferLimit(): number {
    return this.bufferBytes;
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

  /**
   * The reason when the guard is engaged for memory itself (resident or heap), null otherwise
   * (below the marks, or engaged only for a watched quantity). Same sampling as `pressure`.
   */
  memoryPressure(): string | null {
    const over = this.pressure();
    return this.overMemory ? over : null;
  }

  /** Which mark (scaled by `scale`) usage is above, or null. */
  private measure(scale: number): string | null {
    this.overMemory = true;
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
    this.overMemory = false;
    for (const w of this.watched) {
      const v = w.read();
      if (v > w.limit * scale) {
        return `${w.what} ${(v / MB).toFixed(1)} MiB is above ${w.key} (${(w.limit / MB).toFixed(1)} MiB${scale < 1 ? `, held until below ${((w.limit * scale) / MB).toFixed(1)} MiB` : ''})`;
      }
    }
    return null;
  }
}

/** Where the memory limit of a process's cgroup is read (v2, then v1). */
const CGROUP_LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

/**
 * The memory the process may use: its cgroup's limit where one is set (a container), else the
 * machine's physical memory. `read` is injectable for tests.
 */
export function memoryAvailable(read: (path: string) => string | null = readText, physical: number = totalmem()): { bytes: number; source: string } {
  for (const f of CGROUP_LIMIT_FILES) {
    const text = read(f);
    if (text === null) continue;
    const n = Number(text.trim());
    // "max" (v2) or a page-rounded 2^63 (v1) mean no limit.
    if (Number.isFinite(n) && n > 0 && n < physical) return { bytes: n, source: `cgroup limit (${f})` };
  }
  return { bytes: physical, source: 'physical memory' };
}

/** The RSS mark `limits.rssHighWaterBytes` 0 stands for: `share` of memoryAvailable(). */
export function derivedRssMark(share: number, available = memoryAvailable()): { bytes: number; source: string } {
  return { bytes: share > 0 ? Math.floor(available.bytes * share) : 0, source: `${share} of ${available.source}` };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
