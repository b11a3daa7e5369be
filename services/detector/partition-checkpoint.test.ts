// Partition checkpoints: binary round trips, refusal of damaged bytes, chunked storage with an
// atomic switch to the new generation.

import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { KIND_COUNTER, KIND_GAUGE, sortedLabels } from '../../shared/model/index.js';
import { CheckpointStore } from './checkpoint-store.js';
import { decodeJournal, decodeSnapshot, encodeJournal, encodeSnapshot, type PartitionSnapshot } from './partition-checkpoint.js';

function sample(n: number): PartitionSnapshot {
  const labels = Array.from({ length: n }, (_, i) => sortedLabels([['__name__', `m${i}`], ['host', `hôst-${i}`], ['note', i % 2 ? 'a "quoted"\nvalue' : '日本']]));
  return {
    offset: 12_345,
    maxMessageTs: 1_750_000_000_123,
    engine: Uint8Array.from({ length: 37 }, (_, i) => i * 7),
    keys: labels.map((l, i) => `m${i}{host="${l.host}"}`),
    hosts: labels.map((l) => l.host),
    labels,
    kinds: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? KIND_COUNTER : KIND_GAUGE)),
    lastTs: Float64Array.from({ length: n }, (_, i) => (i === 0 ? -Infinity : 1_700_000_000_000 + i)),
    lastRaw: Float64Array.from({ length: n }, (_, i) => (i === 1 ? NaN : i * 1.5)),
    samples: Float64Array.from({ length: n }, (_, i) => i * 10),
  };
}

describe('partition snapshot format', () => {
  it('round-trips every column, strings included', () => {
    const s = sample(5);
    const bytes = encodeSnapshot(s);
    const back = decodeSnapshot(bytes);
    expect(back).toEqual(s);
    // the decoded copy does not alias the buffer
    bytes.fill(0);
    expect(back).toEqual(s);
    expect(decodeSnapshot(encodeSnapshot(sample(0))).keys).toEqual([]);
  });

  it('refuses damaged snapshots with FS_DETECTOR_CHECKPOINT naming the problem', () => {
    const good = encodeSnapshot(sample(4));
    expect(() => decodeSnapshot(good.slice(0, 20))).toThrow(/shorter than its header/);
    expect(() => decodeSnapshot(Uint8Array.from(good, (v, i) => (i === 0 ? 0 : v)))).toThrow(/bad magic/);
    expect(() => decodeSnapshot(Uint8Array.from(good, (v, i) => (i === 4 ? 9 : v)))).toThrow(/version 9/);
    expect(() => decodeSnapshot(good.slice(0, 40))).toThrow(/truncated/);
    // a cut or an extra byte in the strings: their lengths no longer add up
    expect(() => decodeSnapshot(good.slice(0, good.length - 2))).toThrow(/lengths add up/);
    expect(() => decodeSnapshot(Uint8Array.from([...good, 0x41]))).toThrow(/lengths add up/);
  });

  it('journal entries round-trip message offsets, times and bytes', () => {
    const msgs = [
      { offset: 7, timestamp: 1000, value: Uint8Array.from([1, 2, 3]) },
      { offset: 8, timestamp: 1001, value: new Uint8Array(0) },
    ];
    const back = decodeJournal(encodeJournal(msgs));
    expect(back.map((m) => ({ ...m, value: [...m.value] }))).toEqual(msgs.map((m) => ({ ...m, value: [...m.value] })));
    expect(() => decodeJournal(encodeJournal(msgs).slice(0, 30))).toThrow(/truncated/);
  });
});

describe('CheckpointStore', () => {
  it('splits a snapshot into chunks, switches generations atomically and sweeps the old one', async () => {
    const store = new MemoryStateStore();
    const cs = new CheckpointStore(store, 1024);
    const base = CheckpointStore.base('g', 't', 3);
    const one = encodeSnapshot(sample(40));
    expect(one.length).toBeGreaterThan(3 * 1024);
    const j1 = await cs.writeJournal(base, 0, 9, encodeJournal([{ offset: 9, timestamp: 1, value: new Uint8Array(1) }]));
    const m1 = await cs.writeSnapshot(base, one, 9, 40, null, []);
    expect(m1.chunks).toBe(Math.ceil(one.length / 1024));
    const j2 = await cs.writeJournal(base, 10, 12, encodeJournal([{ offset: 12, timestamp: 2, value: new Uint8Array(2) }]));
    let loaded = await cs.load(base);
    expect(loaded.snapshot).toEqual(one);
    // j1 is covered by the snapshot (swept), j2 comes after it
    expect(loaded.journal.map((j) => j.key)).toEqual([j2]);
    expect(await store.get(j1)).toBeNull();

    // A writer that died after some chunks of a new generation leaves the current one intact.
    await store.set(`${base}:s:deadbeef:0`, new Uint8Array(10));
    const two = encodeSnapshot(sample(3));
    const m2 = await cs.writeSnapshot(base, two, 12, 3, m1, [j2]);
    loaded = await cs.load(base);
    expect(loaded.manifest).toEqual(m2);
    expect(loaded.snapshot).toEqual(two);
    expect(loaded.journal).toEqual([]);
    expect(await store.keys(`${base}:s:`)).toEqual([`${base}:s:${m2.gen}:0`]);
    await cs.clear(base);
    expect(await store.keys(base)).toEqual([]);
  });

  it('refuses a snapshot whose chunk is missing or damaged', async () => {
    const store = new MemoryStateStore();
    const cs = new CheckpointStore(store, 1024);
    const m = await cs.writeSnapshot('b', encodeSnapshot(sample(20)), 5, 20, null, []);
    const k = `b:s:${m.gen}:1`;
    const v = (await store.get(k))!;
    v[3] ^= 1;
    await store.set(k, v);
    await expect(cs.load('b')).rejects.toThrow(/CRC-32/);
    await store.del(k);
    await expect(cs.load('b')).rejects.toThrow(/chunk 1 .* missing/);
  });
});
