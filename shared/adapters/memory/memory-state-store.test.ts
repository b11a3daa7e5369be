import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textDecoder, textEncoder } from '../../ports/index.js';
import { MemoryStateStore } from './memory-state-store.js';

describe('MemoryStateStore', () => {
  it('stores copies of values and expires them lazily after their TTL', async () => {
    let now = 1_000;
    const s = new MemoryStateStore({ clock: () => now });
    const v = textEncoder.encode('checkpoint');
    await s.set('cp:1', v, 500);
    await s.set('cp:2', textEncoder.encode('forever'));
    v[0] = 0;
    expect(textDecoder.decode((await s.get('cp:1'))!)).toBe('checkpoint');
    expect((await s.keys('cp:')).sort()).toEqual(['cp:1', 'cp:2']);
    now += 500;
    expect(await s.get('cp:1')).toBeNull();
    expect(await s.keys('cp:')).toEqual(['cp:2']);
    expect(s.stats.expired).toBe(1);
    await s.del('cp:2');
    expect(await s.get('cp:2')).toBeNull();
    await expect(s.set('x', v, 0)).rejects.toMatchObject({ code: 'FS_STATE_TTL' });
    await s.close();
  });

  it('sweeps expired keys nobody reads', async () => {
    let now = 0;
    const s = new MemoryStateStore({ clock: () => now, sweepIntervalMs: 10 });
    await s.set('a', textEncoder.encode('1'), 5);
    now = 100;
    await new Promise((r) => setTimeout(r, 30));
    expect(s.stats.expired).toBe(1);
    await s.close();
  });

  it('keeps hashes field by field and refuses a type mix-up', async () => {
    const s = new MemoryStateStore();
    await s.hset('alerts', { a: '1', b: '2' });
    await s.hset('alerts', { b: '3' });
    expect(await s.hget('alerts', 'b')).toBe('3');
    expect(await s.hget('alerts', 'zz')).toBeNull();
    expect(await s.hgetall('alerts')).toEqual({ a: '1', b: '3' });
    await s.hdel('alerts', ['a', 'b']);
    expect(await s.hgetall('alerts')).toEqual({});
    expect(await s.keys('')).toEqual([]);
    await s.set('v', textEncoder.encode('x'));
    await expect(s.hset('v', { a: '1' })).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
    await s.close();
  });

  it('caps logs and pages them newest first with sortable ids', async () => {
    let now = 5_000;
    const s = new MemoryStateStore({ clock: () => now });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) now++;
      if (i === 20) now -= 10; // a clock step back must not break monotonic ids
      ids.push(await s.append('audit', `e${i}`, 25));
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(30);
    expect(ids[0]).toMatch(/^\d{13}-\d{6}$/);
    const page1 = await s.range('audit', 10);
    expect(page1.map((e) => e.entry)).toEqual(Array.from({ length: 10 }, (_, i) => `e${29 - i}`));
    const page2 = await s.range('audit', 100, page1[page1.length - 1].id);
    expect(page2.map((e) => e.entry)).toEqual(Array.from({ length: 15 }, (_, i) => `e${19 - i}`));
    expect(await s.range('missing', 10)).toEqual([]);
    await s.close();
  });

  it('pages a capped log like a direct recomputation (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 15 }),
        async (cap, n, pageSize) => {
          const s = new MemoryStateStore();
          const all: string[] = [];
          for (let i = 0; i < n; i++) {
            await s.append('l', `e${i}`, cap);
            all.push(`e${i}`);
          }
          const expected = all.slice(Math.max(0, n - cap)).reverse();
          const got: string[] = [];
          let before: string | undefined;
          for (;;) {
            const page = await s.range('l', pageSize, before);
            if (page.length === 0) break;
            got.push(...page.map((p) => p.entry));
            before = page[page.length - 1].id;
          }
          expect(got).toEqual(expected);
          await s.close();
        },
      ),
      { numRuns: 100 },
    );
  });
});
