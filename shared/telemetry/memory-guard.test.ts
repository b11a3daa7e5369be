import { describe, expect, it } from 'vitest';
import { MemoryGuard, derivedRssMark, memoryAvailable, type MemoryReadings } from './memory-guard.js';

const MB = 1024 * 1024;

/** Readings the test sets, and a clock it advances. */
function rig(marks: ConstructorParameters<typeof MemoryGuard>[0]) {
  const r = { rss: 0, heapUsed: 0, heapLimit: 1000 * MB, t: 0 };
  const changes: (string | null)[] = [];
  const read: MemoryReadings = { rss: () => r.rss, heap: () => ({ used: r.heapUsed, limit: r.heapLimit }) };
  const guard = new MemoryGuard(marks, 100, () => r.t, read, (over) => changes.push(over));
  /** Advance past the sampling interval and check. */
  const check = () => {
    r.t += 100;
    return guard.pressure();
  };
  return { r, guard, changes, check };
}

describe('MemoryGuard', () => {
  it('engages above the heap mark and lets go only below mark × (1 − hysteresis)', () => {
    const { r, check, changes } = rig({ heapHighWater: 0.8, rssHighWaterBytes: 0, hysteresis: 0.1 });
    r.heapUsed = 790 * MB;
    expect(check()).toBeNull();
    r.heapUsed = 801 * MB;
    expect(check()).toMatch(/heap 801 MiB is above limits\.heapHighWater \(0\.8 of 1000 MiB\)/);
    // Back under the mark but not under 720 MiB: still engaged, and the message says until when.
    r.heapUsed = 760 * MB;
    expect(check()).toMatch(/held until below 720 MiB/);
    r.heapUsed = 721 * MB;
    expect(check()).not.toBeNull();
    r.heapUsed = 719 * MB;
    expect(check()).toBeNull();
    // Re-engages at the full mark again, not at the lower one.
    r.heapUsed = 790 * MB;
    expect(check()).toBeNull();
    expect(changes.map((c) => c !== null)).toEqual([true, false]);
  });

  it('checks resident memory first and reports it by its key', () => {
    const { r, check } = rig({ heapHighWater: 0.8, rssHighWaterBytes: 500 * MB });
    r.rss = 600 * MB;
    r.heapUsed = 900 * MB;
    expect(check()).toMatch(/resident memory 600 MiB is above limits\.rssHighWaterBytes \(500\.0 MiB\)/);
    r.rss = 460 * MB; // below the mark, above 450 MiB (default hysteresis 0.1)
    r.heapUsed = 0;
    expect(check()).toMatch(/limits\.rssHighWaterBytes/);
    r.rss = 440 * MB;
    expect(check()).toBeNull();
  });

  it('samples at most once per interval and answers from the last reading in between', () => {
    const { r, guard } = rig({ heapHighWater: 0.5, rssHighWaterBytes: 0 });
    r.heapUsed = 600 * MB;
    r.t = 1000;
    expect(guard.pressure()).not.toBeNull();
    r.heapUsed = 0;
    r.t = 1050;
    expect(guard.pressure()).not.toBeNull();
    r.t = 1100;
    expect(guard.pressure()).toBeNull();
  });

  it('is off with no marks and refuses a hysteresis outside [0, 1)', () => {
    const { r, guard, check } = rig({ heapHighWater: 0, rssHighWaterBytes: 0 });
    r.heapUsed = r.heapLimit;
    r.rss = 1e12;
    expect(guard.off).toBe(true);
    expect(check()).toBeNull();
    expect(() => new MemoryGuard({ heapHighWater: 0.5, rssHighWaterBytes: 0, hysteresis: 1 })).toThrow(/hysteresis/);
  });
});

describe('MemoryGuard budgets and marks', () => {
  it('holds request buffers up to bufferBytes: busy while others hold it, too large beyond it', () => {
    const guard = new MemoryGuard({ heapHighWater: 0, rssHighWaterBytes: 0, bufferBytes: 100 * MB });
    expect(guard.reserve(60 * MB)).toBe('ok');
    expect(guard.reserve(50 * MB)).toBe('busy');
    expect(guard.reserve(101 * MB)).toBe('too_large');
    expect(guard.buffered).toBe(60 * MB);
    guard.release(60 * MB);
    expect(guard.reserve(50 * MB)).toBe('ok');
  });

  it('engages on a watched quantity (the bus backlog) and names its key', () => {
    const { guard, check } = rig({ heapHighWater: 0, rssHighWaterBytes: 0 });
    let backlog = 0;
    guard.watch('limits.backlogBytes', 'accepted data waiting in the embedded bus', 100 * MB, () => backlog);
    expect(guard.off).toBe(false);
    expect(check()).toBeNull();
    backlog = 150 * MB;
    expect(check()).toMatch(/accepted data waiting in the embedded bus 150\.0 MiB is above limits\.backlogBytes \(100\.0 MiB\)/);
    backlog = 95 * MB;
    expect(check()).not.toBeNull();
    backlog = 80 * MB;
    expect(check()).toBeNull();
  });

  it('derives the RSS mark from the cgroup limit, else physical memory', () => {
    const files = (limit: string | null) => (path: string) => (path.endsWith('memory.max') ? limit : null);
    expect(memoryAvailable(files('4294967296\n'), 16 * 1024 * MB)).toEqual({ bytes: 4 * 1024 * MB, source: 'cgroup limit (/sys/fs/cgroup/memory.max)' });
    expect(memoryAvailable(files('max\n'), 16 * 1024 * MB).source).toBe('physical memory');
    // cgroup v1 reports "no limit" as a huge number.
    const v1 = (path: string) => (path.endsWith('limit_in_bytes') ? '9223372036854771712\n' : null);
    expect(memoryAvailable(v1, 16 * 1024 * MB).bytes).toBe(16 * 1024 * MB);
    expect(derivedRssMark(0.6, { bytes: 1000 * MB, source: 'physical memory' })).toEqual({ bytes: 600 * MB, source: '0.6 of physical memory' });
    expect(derivedRssMark(0, { bytes: 1000 * MB, source: 'physical memory' }).bytes).toBe(0);
  });
});
