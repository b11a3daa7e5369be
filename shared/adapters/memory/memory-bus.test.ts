import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusBatch, BusMessage } from '../../ports/index.js';
import { MemoryBus } from './memory-bus.js';
import { murmur2, partitionForKey } from './murmur2.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function msg(key: string | null, text: string) {
  return { key, value: enc.encode(text) };
}

let buses: MemoryBus[] = [];
function newBus(options: ConstructorParameters<typeof MemoryBus>[0] = {}): MemoryBus {
  const bus = new MemoryBus(options);
  buses.push(bus);
  return bus;
}
afterEach(async () => {
  await Promise.all(buses.map((b) => b.close()));
  buses = [];
});

describe('murmur2 partitioning', () => {
  it('matches the hashes of Kafka Utils.murmur2', () => {
    // Vectors from Kafka's UtilsTest.testMurmur2.
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, h] of cases) expect(murmur2(enc.encode(s))).toBe(h);
  });

  it('puts every key on the partition kafkajs DefaultPartitioner picks', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
        const expected = partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, n)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('MemoryBus', () => {
  it('delivers the messages of one key in order, on the partition murmur2 picks', async () => {
    const bus = newBus({ maxBatchSize: 7 });
    await bus.ensureTopics([{ name: 'samples', partitions: 4 }]);
    const seen = new Map<string, number[]>();
    const partitionsOfKey = new Map<string, Set<number>>();
    await bus.subscribe({
      groupId: 'g',
      topics: ['samples'],
      async eachBatch(b) {
        for (const m of b.messages) {
          const [k, i] = dec.decode(m.value).split(':');
          if (!seen.has(k)) seen.set(k, []);
          seen.get(k)!.push(Number(i));
          if (!partitionsOfKey.has(k)) partitionsOfKey.set(k, new Set());
          partitionsOfKey.get(k)!.add(b.partition);
        }
      },
    });
    const keys = Array.from({ length: 10 }, (_, i) => `host-${i}`);
    for (let i = 0; i < 50; i++) await bus.send('samples', keys.map((k) => msg(k, `${k}:${i}`)));
    await waitFor(() => [...seen.values()].reduce((n, s) => n + s.length, 0) === 500);
    for (const k of keys) {
      expect(seen.get(k)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect([...partitionsOfKey.get(k)!]).toEqual([partitionForKey(k, 4)]);
    }
  });

  it('spreads null keys round robin and batches at most maxBatchSize', async () => {
    const bus = newBus({ maxBatchSize: 3 });
    await bus.ensureTopics([{ name: 't', partitions: 3 }]);
    const batches: BusBatch[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (b) => void batches.push(b) });
    await bus.send('t', Array.from({ length: 30 }, (_, i) => msg(null, String(i))));
    await waitFor(() => batches.reduce((n, b) => n + b.messages.length, 0) === 30);
    const perPartition = [0, 0, 0];
    for (const b of batches) {
      expect(b.messages.length).toBeLessThanOrEqual(3);
      perPartition[b.partition] += b.messages.length;
    }
    expect(perPartition).toEqual([10, 10, 10]);
  });

  it('splits partitions among group members and rebalances on join and close', async () => {
    const bus = newBus();
    await bus.ensureTopics([{ name: 't', partitions: 6 }]);
    const log: string[] = [];
    const owned = new Map<string, Set<number>>();
    const received = new Map<string, number>();
    const member = (name: string) => ({
      groupId: 'g',
      topics: ['t'],
      async onAssign(parts: { topic: string; partition: number }[]) {
        await new Promise((r) => setTimeout(r, 5));
        log.push(`${name}+${parts.map((p) => p.partition).join(',')}`);
        for (const p of parts) owned.get(name)!.add(p.partition);
      },
      async onRevoke(parts: { topic: string; partition: number }[]) {
        await new Promise((r) => setTimeout(r, 5));
        log.push(`${name}-${parts.map((p) => p.partition).join(',')}`);
        for (const p of parts) owned.get(name)!.delete(p.partition);
      },
      async eachBatch(b: BusBatch) {
        // Only an owner (after onAssign, before onRevoke) may see a partition's messages.
        expect(owned.get(name)!.has(b.partition)).toBe(true);
        received.set(name, (received.get(name) ?? 0) + b.messages.length);
      },
    });
    for (const n of ['a', 'b', 'c']) owned.set(n, new Set());

    const a = await bus.subscribe(member('a'));
    expect(log).toEqual(['a+0,1,2,3,4,5']);
    const b = await bus.subscribe(member('b'));
    expect(log.slice(1)).toEqual(['a-3,4,5', 'b+3,4,5']);
    expect(a.assignment().map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(b.assignment().map((p) => p.partition)).toEqual([3, 4, 5]);

    const c = await bus.subscribe(member('c'));
    // Range assignment over a, b, c: [0,1] [2,3] [4,5]; each revoke precedes the assigns.
    expect(log.slice(3, 5).sort()).toEqual(['a-2', 'b-4,5']);
    expect(log.slice(5).sort()).toEqual(['b+2', 'c+4,5']);

    await bus.send('t', Array.from({ length: 60 }, (_, i) => msg(null, String(i))));
    await waitFor(() => [...received.values()].reduce((x, y) => x + y, 0) === 60);
    expect(received.get('a')).toBe(20);
    expect(received.get('c')).toBe(20);

    log.length = 0;
    await b.close();
    // The closing member flushes (onRevoke) before a and c take over 2 and 3.
    expect(log[0]).toBe('b-2,3');
    expect(log.slice(1).sort()).toEqual(['a+2', 'c+3']);
    expect(a.assignment().map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(c.assignment().map((p) => p.partition)).toEqual([3, 4, 5]);

    await bus.send('t', Array.from({ length: 6 }, (_, i) => msg(null, String(i))));
    await waitFor(() => received.get('a')! + received.get('c')! === 46);
    expect(received.get('b')).toBe(20);
  });

  it('redelivers a batch from the committed offset after a throw, after a backoff', async () => {
    const reported: string[] = [];
    const bus = newBus({ retryBackoffMs: 30, onError: (err, where, group) => void reported.push(`${where}/${group}: ${(err as Error).message}`) });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    const attempts: { at: number; offsets: number[] }[] = [];
    let fail = 2;
    await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      async eachBatch(b) {
        attempts.push({ at: performance.now(), offsets: b.messages.map((m) => m.offset) });
        if (fail-- > 0) throw new Error('downstream unavailable');
      },
    });
    await bus.send('t', [msg('k', 'a'), msg('k', 'b')]);
    await waitFor(() => attempts.length === 3);
    expect(attempts.map((a) => a.offsets)).toEqual([[0, 1], [0, 1], [0, 1]]);
    // 30 ms then 60 ms (doubling); allow timer slack below.
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(25);
    expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(55);
    expect(bus.stats.redeliveries).toBe(2);
    expect(reported).toEqual(['eachBatch/g: downstream unavailable', 'eachBatch/g: downstream unavailable']);
    await waitFor(async () => (await bus.lag('t', 'g')) === 0);
  });

  it('keeps a failing partition from blocking the others', async () => {
    const bus = newBus({ retryBackoffMs: 10_000 });
    await bus.ensureTopics([{ name: 't', partitions: 2 }]);
    const got: number[] = [];
    await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      async eachBatch(b) {
        if (b.partition === 0) throw new Error('poison');
        got.push(...b.messages.map((m) => m.offset));
      },
    });
    await bus.send('t', [msg(null, 'p0'), msg(null, 'p1')]);
    await waitFor(() => got.length === 1);
    await bus.send('t', [msg(null, 'p0'), msg(null, 'p1')]);
    await waitFor(() => got.length === 2);
    expect(await bus.lag('t', 'g')).toBe(2);
  });

  it('commits only after eachBatch resolves; a new member resumes from the commit', async () => {
    const bus = newBus({ maxBatchSize: 5 });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.send('t', Array.from({ length: 20 }, (_, i) => msg('k', String(i))));
    expect(await bus.lag('t', 'g')).toBe(20);

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first: number[] = [];
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      async eachBatch(b) {
        first.push(...b.messages.map((m) => m.offset));
        if (first.length === 10) await gate;
      },
    });
    await waitFor(() => first.length === 10);
    // Second batch is in flight: only the first is committed.
    expect(await bus.lag('t', 'g')).toBe(15);
    let closed = false;
    const closing = sub.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(await bus.lag('t', 'g')).toBe(10);

    const second: BusMessage[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (b) => void second.push(...b.messages) });
    await waitFor(() => second.length === 10);
    expect(second[0].offset).toBe(10);
    expect(dec.decode(second[0].value)).toBe('10');
    await waitFor(async () => (await bus.lag('t', 'g')) === 0);

    // Another group has its own offsets; fromBeginning=false skips what was there.
    expect(await bus.lag('t', 'other')).toBe(20);
    const late: number[] = [];
    await bus.subscribe({ groupId: 'late', topics: ['t'], fromBeginning: false, eachBatch: async (b) => void late.push(...b.messages.map((m) => m.offset)) });
    expect(await bus.lag('t', 'late')).toBe(0);
    await bus.send('t', [msg('k', 'new')]);
    await waitFor(() => late.length === 1);
    expect(late).toEqual([20]);
  });

  it('grows a topic on ensureTopics and hands the new partitions out', async () => {
    const bus = newBus();
    const assigned: number[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], onAssign: async (p) => void assigned.push(...p.map((x) => x.partition)), eachBatch: async () => {} });
    expect(assigned).toEqual([0]);
    await bus.ensureTopics([{ name: 't', partitions: 3 }]);
    expect(assigned).toEqual([0, 1, 2]);
  });

  it('arms no timer while idle and rejects sends after close', async () => {
    const bus = newBus();
    await bus.ensureTopics([{ name: 't', partitions: 4 }]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    let n = 0;
    await bus.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (b) => void (n += b.messages.length) });
    await bus.subscribe({ groupId: 'h', topics: ['t'], eachBatch: async () => {} });
    await bus.send('t', [msg('a', '1')]);
    await waitFor(() => n === 1);
    await new Promise((r) => setImmediate(r));
    expect(timers()).toBe(before);
    await bus.close();
    await expect(bus.send('t', [msg('a', '2')])).rejects.toMatchObject({ code: 'FS_BUS_CLOSED' });
  });
});

describe('explicit partitions', () => {
  it('keyPartitions matches key routing, and an explicit partition overrides the key', async () => {
    const bus = newBus();
    await bus.ensureTopics([{ name: 'p', partitions: 5 }]);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    expect(await bus.keyPartitions('p', keys)).toEqual(keys.map((k) => partitionForKey(k, 5)));
    const target = (partitionForKey('k0', 5) + 1) % 5;
    await bus.send('p', [{ ...msg('k0', 'pinned'), partition: target }, msg('k0', 'keyed')]);
    const got: BusBatch[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['p'], eachBatch: async (b) => void got.push(b) });
    await waitFor(() => got.reduce((n, b) => n + b.messages.length, 0) === 2);
    const where = new Map(got.flatMap((b) => b.messages.map((m) => [dec.decode(m.value), b.partition] as const)));
    expect(where.get('pinned')).toBe(target);
    expect(where.get('keyed')).toBe(partitionForKey('k0', 5));
  });

  it('rejects a partition the topic does not have, appending nothing', async () => {
    const bus = newBus();
    await bus.ensureTopics([{ name: 'p', partitions: 2 }]);
    await expect(bus.send('p', [msg('a', 'ok'), { ...msg('a', 'bad'), partition: 2 }])).rejects.toMatchObject({ code: 'FS_BUS_SEND' });
    expect(await bus.lag('p', 'g')).toBe(0);
  });
});
