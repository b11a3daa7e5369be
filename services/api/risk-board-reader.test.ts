import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { VIEW_RISKS_KEY, VIEW_RISKS_UPDATED_KEY, type RiskBoard, type RiskEntry } from '../../shared/model/index.js';
import { RiskBoardReader } from './risk-board-reader.js';

function entry(key: string, at: number): RiskEntry {
  return {
    key, labels: { __name__: 'm' }, host: 'h', metric: 'm', state: 'normal', value: 1, score: 0, trendPerS: 1,
    crossing: { name: 'threshold', threshold: 2, direction: 'above', at, earliest: at - 1, latest: at + 1 },
  };
}

async function publish(store: MemoryStateStore, worker: string, version: number, at: number, items: RiskEntry[]): Promise<void> {
  const board: RiskBoard = { worker, version, updatedAt: at, series: 10, breaching: items.length, items };
  await store.hset(VIEW_RISKS_KEY, { [worker]: JSON.stringify(board) });
  await store.hset(VIEW_RISKS_UPDATED_KEY, { [worker]: `${version} ${at}` });
}

describe('RiskBoardReader', () => {
  it('merges the boards of all live workers soonest first and ignores stale ones', async () => {
    const store = new MemoryStateStore();
    let now = 1_000_000;
    const reader = new RiskBoardReader(store, 60_000, () => now);
    await publish(store, 'a', 1, now, [entry('a1', 100), entry('a2', 300)]);
    await publish(store, 'b', 1, now, [entry('b1', 200)]);
    let m = await reader.read();
    expect(m.items.map((r) => r.key)).toEqual(['a1', 'b1', 'a2']);
    expect(m).toMatchObject({ workers: 2, series: 20, breaching: 3 });
    // b keeps publishing, a stops: after the stale time only b counts.
    now += 61_000;
    await store.hset(VIEW_RISKS_UPDATED_KEY, { b: `1 ${now}` });
    m = await reader.read();
    expect(m.items.map((r) => r.key)).toEqual(['b1']);
    expect(m.workers).toBe(1);
    await store.close();
  });

  it('fetches a board again only when its version changes', async () => {
    const store = new MemoryStateStore();
    const now = 5_000;
    const reader = new RiskBoardReader(store, 60_000, () => now);
    await publish(store, 'a', 1, now, [entry('x', 1)]);
    expect((await reader.read()).items.map((r) => r.key)).toEqual(['x']);
    // Same version, different content: the cached board stands (the version says nothing changed).
    await store.hset(VIEW_RISKS_KEY, { a: JSON.stringify({ worker: 'a', version: 1, updatedAt: now, series: 1, breaching: 1, items: [entry('y', 1)] }) });
    expect((await reader.read()).items.map((r) => r.key)).toEqual(['x']);
    await publish(store, 'a', 2, now, [entry('y', 1)]);
    expect((await reader.read()).items.map((r) => r.key)).toEqual(['y']);
    await store.close();
  });
});
