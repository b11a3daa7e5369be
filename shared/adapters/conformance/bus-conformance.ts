// Conformance suite of the Bus port: what every adapter (embedded, Kafka) must do the same way.
// Called from a test file with a factory; every test uses topic and group names of its own, so
// the suite can run against a shared broker.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusBatch, BusMessage, Subscription } from '../../ports/index.js';
import { partitionForKey } from '../memory/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface BusConformanceOptions {
  /** How long the suite waits for deliveries and rebalances, ms. */
  timeoutMs: number;
  /** Start of every topic and group name the suite uses (so the caller can delete them). Default: random per run. */
  namePrefix?: string;
}

/** Polls `probe` until true; fails after `timeoutMs`. */
async function eventually(probe: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await sleep(10);
  }
}

interface Received {
  topic: string;
  partition: number;
  key: string | null;
  value: string;
  offset: number;
  timestamp: number;
}

function record(into: Received[], batch: BusBatch): void {
  for (const m of batch.messages) {
    into.push({ topic: batch.topic, partition: batch.partition, key: m.key, value: dec.decode(m.value), offset: m.offset, timestamp: m.timestamp });
  }
}

/**
 * Defines `describe(\`Bus conformance: ${name}\`)`. `make` returns a bus connected to the backend:
 * Kafka, a new client of the same cluster (two processes); the embedded adapter, a new bus per
 * call that shares nothing, so it says `shared: false` and the suite puts both members of a
 * group on one bus. The suite closes every bus it made after each test.
 */
export function busConformance(
  name: string,
  make: () => Promise<Bus>,
  options: BusConformanceOptions,
  capabilities: { shared: boolean } = { shared: true },
): void {
  const T = options.timeoutMs;
  describe(`Bus conformance: ${name}`, () => {
    const prefix = options.namePrefix ?? `fs-conf-${randomBytes(4).toString('hex')}-`;
    let n = 0;
    const unique = (what: string) => `${prefix}${what}-${n++}`;
    let buses: Bus[] = [];
    let subs: Subscription[] = [];
    async function bus(): Promise<Bus> {
      const b = await make();
      buses.push(b);
      return b;
    }
    async function subscribe(b: Bus, o: Parameters<Bus['subscribe']>[0]): Promise<Subscription> {
      const s = await b.subscribe(o);
      subs.push(s);
      return s;
    }
    afterEach(async () => {
      await Promise.all(subs.map((s) => s.close()));
      await Promise.all(buses.map((b) => b.close()));
      subs = [];
      buses = [];
    });

    it('delivers what was sent: key, value, increasing offsets, a timestamp, in order per key', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 3 }]);
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) await b.send(topic, [{ key: `host-${i % 5}`, value: enc.encode(`v${i}`) }]);
      await b.send(topic, [{ key: null, value: enc.encode('no-key') }, { key: 'ü/host', value: new Uint8Array(0) }]);
      const got: Received[] = [];
      await subscribe(b, { groupId: unique('g'), topics: [topic], eachBatch: async (batch) => record(got, batch) });
      await eventually(() => got.length === 32, T, '32 messages');
      for (let h = 0; h < 5; h++) {
        const mine = got.filter((r) => r.key === `host-${h}`);
        expect(mine.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5].map((j) => `v${h + 5 * j}`));
        // One key, one partition: Kafka's default partitioner (murmur2), on every adapter.
        expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionForKey(`host-${h}`, 3)]));
      }
      expect(got.find((r) => r.key === null)?.value).toBe('no-key');
      expect(got.find((r) => r.key === 'ü/host')?.value).toBe('');
      for (const r of got) {
        expect(r.timestamp).toBeGreaterThanOrEqual(t0 - 1_000);
        expect(r.timestamp).toBeLessThanOrEqual(Date.now() + 1_000);
      }
      for (let p = 0; p < 3; p++) {
        const offs = got.filter((r) => r.partition === p).map((r) => r.offset);
        expect(offs).toEqual([...offs].sort((a, c) => a - c));
        expect(new Set(offs).size).toBe(offs.length);
      }
    });

    it('carries binary values byte for byte, large and many per send', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      const big = new Uint8Array(300_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >>> 8)) & 0xff;
      const sub = big.subarray(1000, 2000);
      const many = Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: enc.encode(`m${i}`) }));
      await b.send(topic, [{ key: 'big', value: big }, { key: 'view', value: sub }]);
      await b.send(topic, many);
      const got: BusMessage[] = [];
      await subscribe(b, { groupId: unique('g'), topics: [topic], eachBatch: async (batch) => void got.push(...batch.messages.map((m) => ({ ...m, value: m.value.slice() }))) });
      await eventually(() => got.length === 502, T, '502 messages');
      expect(Buffer.from(got[0].value).equals(Buffer.from(big))).toBe(true);
      expect(Buffer.from(got[1].value).equals(Buffer.from(sub))).toBe(true);
      expect(got.slice(2).map((m) => dec.decode(m.value))).toEqual(many.map((_, i) => `m${i}`));
    });

    it('redelivers a batch whose handler threw, then moves on; nothing later overtakes it', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.send(topic, [1, 2, 3].map((i) => ({ key: 'k', value: enc.encode(`m${i}`) })));
      const attempts: string[][] = [];
      let fail = 2;
      await subscribe(b, {
        groupId: unique('g'),
        topics: [topic],
        eachBatch: async (batch) => {
          attempts.push(batch.messages.map((m) => dec.decode(m.value)));
          if (fail-- > 0) throw new Error('sink down');
        },
      });
      await eventually(() => attempts.flat().filter((v) => v === 'm3').length === 3, T, 'two redeliveries');
      // Each failed attempt started at m1 again.
      expect(attempts.slice(0, 3).map((a) => a[0])).toEqual(['m1', 'm1', 'm1']);
      await b.send(topic, [{ key: 'k', value: enc.encode('m4') }]);
      await eventually(() => attempts.flat().includes('m4'), T, 'm4');
      await sleep(200);
      expect(attempts.flat().filter((v) => v === 'm4').length).toBe(1);
      expect(attempts.flat().filter((v) => v === 'm1').length).toBe(3);
    });

    it('commits after each batch: a new member of the group resumes after the last commit', async () => {
      const b1 = await bus();
      const topic = unique('t');
      const groupId = unique('g');
      await b1.ensureTopics([{ name: topic, partitions: 2 }]);
      await b1.send(topic, Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: enc.encode(`a${i}`) })));
      const first: Received[] = [];
      const s1 = await subscribe(b1, { groupId, topics: [topic], eachBatch: async (batch) => record(first, batch) });
      await eventually(() => first.length === 20, T, 'first 20');
      await s1.close();
      expect(await b1.lag(topic, groupId)).toBe(0);
      await b1.send(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: enc.encode(`b${i}`) })));
      expect(await b1.lag(topic, groupId)).toBe(10);
      const b2 = capabilities.shared ? await bus() : b1;
      const second: Received[] = [];
      await subscribe(b2, { groupId, topics: [topic], eachBatch: async (batch) => record(second, batch) });
      await eventually(() => second.length === 10, T, 'the 10 new');
      await sleep(300);
      expect(second.map((r) => r.value).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`).sort());
      await eventually(async () => (await b2.lag(topic, groupId)) === 0, T, 'lag 0');
    });

    it('reports lag per group: everything for a group without commits, nothing once consumed', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 3 }]);
      await b.send(topic, Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: enc.encode('x') })));
      const groupId = unique('g');
      expect(await b.lag(topic, groupId)).toBe(12);
      let seen = 0;
      await subscribe(b, { groupId, topics: [topic], eachBatch: async (batch) => void (seen += batch.messages.length) });
      await eventually(() => seen === 12, T, '12 seen');
      await eventually(async () => (await b.lag(topic, groupId)) === 0, T, 'lag 0');
      expect(await b.lag(topic, unique('other'))).toBe(12);
    });

    it('starts a new group at the end when fromBeginning is false', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.send(topic, [{ key: 'k', value: enc.encode('old') }]);
      const got: string[] = [];
      await subscribe(b, { groupId: unique('g'), topics: [topic], fromBeginning: false, eachBatch: async (batch) => void got.push(...batch.messages.map((m) => dec.decode(m.value))) });
      await b.send(topic, [{ key: 'k', value: enc.encode('new') }]);
      await eventually(() => got.length >= 1, T, 'new message');
      await sleep(200);
      expect(got).toEqual(['new']);
    });

    it('runs onAssign before any batch of its partitions, and subscribe resolves after it', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 4 }]);
      await b.send(topic, Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: enc.encode(`v${i}`) })));
      const log: string[] = [];
      const assigned = new Set<number>();
      let violations = 0;
      await subscribe(b, {
        groupId: unique('g'),
        topics: [topic],
        onAssign: async (parts) => {
          await sleep(50); // a restore that takes a while
          for (const p of parts) assigned.add(p.partition);
          log.push(`assign ${parts.map((p) => `${p.topic === topic ? '' : '?'}${p.partition}`).join(',')}`);
        },
        eachBatch: async (batch) => {
          if (!assigned.has(batch.partition)) violations++;
          log.push(`batch ${batch.partition}`);
        },
      });
      expect(log[0]).toBe('assign 0,1,2,3');
      await eventually(() => log.filter((l) => l.startsWith('batch')).length >= 4, T, 'batches');
      expect(violations).toBe(0);
    });

    it(
      'shares partitions between members; a member that leaves runs onRevoke and the other takes over, losing nothing',
      async () => {
        const topic = unique('t');
        const groupId = unique('g');
        const b1 = await bus();
        const b2 = capabilities.shared ? await bus() : b1;
        await b1.ensureTopics([{ name: topic, partitions: 4 }]);
        const owned: Map<number, string>[] = [new Map(), new Map()];
        const events: string[] = [];
        const seen: Set<string>[] = [new Set(), new Set()];
        let violations = 0;
        const member = (i: number) => ({
          groupId,
          topics: [topic],
          onAssign: async (parts: { topic: string; partition: number }[]) => {
            for (const p of parts) {
              // A partition is never owned by two members at once once onRevoke ran.
              if (owned[1 - i].has(p.partition)) events.push(`overlap ${p.partition}`);
              owned[i].set(p.partition, 'mine');
            }
            events.push(`m${i} assign ${parts.map((p) => p.partition).join(',')}`);
          },
          onRevoke: async (parts: { topic: string; partition: number }[]) => {
            for (const p of parts) owned[i].delete(p.partition);
            events.push(`m${i} revoke ${parts.map((p) => p.partition).join(',')}`);
          },
          eachBatch: async (batch: BusBatch) => {
            if (!owned[i].has(batch.partition)) violations++;
            for (const m of batch.messages) seen[i].add(dec.decode(m.value));
          },
        });
        const s1 = await subscribe(b1, member(0));
        expect([...owned[0].keys()].sort()).toEqual([0, 1, 2, 3]);
        await subscribe(b2, member(1));
        // The first member learns of the join at its next heartbeat and gives up half.
        await eventually(() => owned[0].size === 2 && owned[1].size === 2, T, 'an even split');
        const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
        for (let i = 0; i < 100; i++) await b1.send(topic, [{ key: `host-${i % 17}`, value: enc.encode(values[i]) }]);
        await eventually(() => seen[0].size + seen[1].size >= 100, T, 'first 100');
        expect(seen[0].size).toBeGreaterThan(0);
        expect(seen[1].size).toBeGreaterThan(0);
        await s1.close();
        expect(owned[0].size).toBe(0);
        expect(events.filter((e) => e.startsWith('m0 revoke')).length).toBeGreaterThan(0);
        await eventually(() => owned[1].size === 4, T, 'the other member owning all');
        for (let i = 100; i < 200; i++) await b2.send(topic, [{ key: `host-${i % 17}`, value: enc.encode(values[i]) }]);
        await eventually(() => values.every((v) => seen[0].has(v) || seen[1].has(v)), T, 'all 200 values');
        expect(violations).toBe(0);
        expect(events.filter((e) => e.startsWith('overlap'))).toEqual([]);
      },
    );

    it('close waits for the batch in flight, commits it, and runs onRevoke', async () => {
      const b = await bus();
      const topic = unique('t');
      const groupId = unique('g');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.send(topic, [{ key: 'k', value: enc.encode('slow') }]);
      const log: string[] = [];
      const s = await subscribe(b, {
        groupId,
        topics: [topic],
        eachBatch: async () => {
          log.push('start');
          await sleep(300);
          log.push('end');
        },
        onRevoke: async (parts) => void log.push(`revoke ${parts.map((p) => p.partition).join(',')}`),
      });
      await eventually(() => log.includes('start'), T, 'batch started');
      await s.close();
      expect(log).toEqual(['start', 'end', 'revoke 0']);
      expect(await b.lag(topic, groupId)).toBe(0);
    });

    it('grows a topic to more partitions and refuses a bad partition count', async () => {
      const b = await bus();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.ensureTopics([{ name: topic, partitions: 3 }]);
      await b.ensureTopics([{ name: topic, partitions: 2 }]); // never shrinks, never fails
      const parts = new Set<number>();
      await subscribe(b, { groupId: unique('g'), topics: [topic], eachBatch: async (batch) => void parts.add(batch.partition) });
      for (let i = 0; i < 30; i++) await b.send(topic, [{ key: `key-${i}`, value: enc.encode('x') }]);
      await eventually(() => parts.size === 3, T, 'three partitions');
      await expect(b.ensureTopics([{ name: unique('bad'), partitions: 0 }])).rejects.toMatchObject({ code: 'FS_BUS_TOPIC' });
    });

    it('refuses to send once closed', async () => {
      const b = await make();
      const topic = unique('t');
      await b.ensureTopics([{ name: topic, partitions: 1 }]);
      await b.close();
      await b.close();
      await expect(b.send(topic, [{ key: null, value: enc.encode('x') }])).rejects.toMatchObject({ code: 'FS_BUS_CLOSED' });
    });
  });
}
