// What the embedded bus does the same way on every storage (memory, the data directory's
// database): retention by bytes and age that never deletes what a group has not consumed,
// backlog accounting for back-pressure, and batches bounded in bytes.

import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, type MemoryBusOptions } from '../memory/index.js';

const enc = new TextEncoder();

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Ten-byte values, no key: each message accounts for 10 bytes. */
const ten = (i: number) => ({ key: null, value: enc.encode(String(i).padStart(10, '0')) });

export function embeddedBusConformance(name: string, make: (options: MemoryBusOptions) => Promise<MemoryBus>): void {
  describe(`embedded bus on ${name} storage`, () => {
    let buses: MemoryBus[] = [];
    async function bus(options: MemoryBusOptions): Promise<MemoryBus> {
      const b = await make({ retryBackoffMs: 10, trimIntervalMs: 0, ...options });
      buses.push(b);
      return b;
    }
    afterEach(async () => {
      await Promise.all(buses.map((b) => b.close()));
      buses = [];
    });

    it('keeps every message a group has not consumed, whatever retainBytes, and counts it as backlog', async () => {
      const b = await bus({ retainBytes: 100 });
      await b.ensureTopics([{ name: 't', partitions: 1 }]);
      await b.send('t', Array.from({ length: 25 }, (_, i) => ten(i)));
      // Nobody reads the topic yet: all of it waits.
      expect(b.backlogBytes()).toBe(250);
      expect(await b.lag('t', 'g')).toBe(25);

      let gate!: () => void;
      const blocked = new Promise<void>((r) => (gate = r));
      const slow: number[] = [];
      await b.subscribe({ groupId: 'slow', topics: ['t'], eachBatch: async (x) => {
        await blocked;
        slow.push(...x.messages.map((m) => m.offset));
      } });
      const fast: number[] = [];
      await b.subscribe({ groupId: 'fast', topics: ['t'], eachBatch: async (x) => void fast.push(...x.messages.map((m) => m.offset)) });
      await until(() => fast.length === 25);
      await b.send('t', Array.from({ length: 30 }, (_, i) => ten(100 + i)));
      await until(() => fast.length === 55);
      // 'fast' consumed all 55, 'slow' none: retention (100 bytes) may not drop what 'slow' still needs.
      expect(b.backlogBytes()).toBe(550);
      expect(b.stats.dropped).toBe(0);
      gate();
      await until(() => slow.length === 55);
      expect(slow).toEqual(Array.from({ length: 55 }, (_, i) => i));
      expect(b.stats.lost).toBe(0);
      await until(() => b.backlogBytes() === 0);
      // Everything consumed by both: trimmed to the newest retainBytes on the next commit.
      await b.send('t', [ten(999)]);
      await until(() => slow.length === 56 && b.stats.dropped > 0);
      expect(b.retainedBytes()).toBeLessThanOrEqual(100);
      expect(b.stats.dropped).toBe(56 - b.retainedBytes() / 10);
    });

    it('deletes consumed messages older than retainAgeMs even within retainBytes', async () => {
      let now = 1_000_000;
      const b = await bus({ retainBytes: 1_000_000, retainAgeMs: 60_000, clock: () => now });
      await b.ensureTopics([{ name: 't', partitions: 1 }]);
      await b.send('t', Array.from({ length: 10 }, (_, i) => ten(i)));
      now += 120_000;
      await b.send('t', [ten(10), ten(11)]);
      let n = 0;
      await b.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (x) => void (n += x.messages.length) });
      await until(() => n === 12 && b.stats.dropped === 10);
      expect(b.retainedBytes()).toBe(20);
    });

    it('bounds a batch by maxBatchBytes (a single larger message still goes alone)', async () => {
      const b = await bus({ maxBatchBytes: 35 });
      await b.ensureTopics([{ name: 't', partitions: 1 }]);
      await b.send('t', [...Array.from({ length: 7 }, (_, i) => ten(i)), { key: null, value: new Uint8Array(100) }, ten(8)]);
      const sizes: number[] = [];
      await b.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (x) => void sizes.push(x.messages.length) });
      await until(() => sizes.reduce((a, c) => a + c, 0) === 9);
      expect(sizes).toEqual([3, 3, 1, 1, 1]);
    });
  });
}
