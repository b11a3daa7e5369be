import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textDecoder, textEncoder } from '../../ports/index.js';
import { MemoryStateStore } from './memory-state-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'foreshock-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

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

  it('round-trips everything through the snapshot file', async () => {
    const path = join(dir, 'sub', 'state.json');
    let now = 10_000;
    const a = new MemoryStateStore({ snapshotPath: path, clock: () => now });
    const bin = new Uint8Array([0, 1, 2, 250, 255]);
    await a.set('bin', bin);
    await a.set('short', textEncoder.encode('x'), 100);
    await a.set('long', textEncoder.encode('y'), 10_000);
    await a.hset('fs:alerts', { 'cpu{host="a"}': JSON.stringify({ status: 'firing' }) });
    const lastId = await a.append('audit', 'one', 10);
    await a.append('audit', 'two', 10);
    await a.close();
    expect(await readdir(join(dir, 'sub'))).toEqual(['state.json']);

    now += 500;
    const b = new MemoryStateStore({ snapshotPath: path, clock: () => now });
    expect(await b.get('bin')).toEqual(bin);
    expect(await b.get('short')).toBeNull();
    expect(textDecoder.decode((await b.get('long'))!)).toBe('y');
    expect(await b.hgetall('fs:alerts')).toEqual({ 'cpu{host="a"}': '{"status":"firing"}' });
    expect((await b.range('audit', 10)).map((e) => e.entry)).toEqual(['two', 'one']);
    // New ids sort after the restored ones even though the clock went back.
    now = 0;
    expect((await b.append('audit', 'three', 10)) > lastId).toBe(true);
    now = 19_999;
    expect(textDecoder.decode((await b.get('long'))!)).toBe('y');
    now = 20_000;
    expect(await b.get('long')).toBeNull();
    await b.close();
  });

  it('writes the snapshot periodically when something changed', async () => {
    const path = join(dir, 'state.json');
    const s = new MemoryStateStore({ snapshotPath: path, snapshotIntervalMs: 20 });
    await s.hset('h', { f: 'v' });
    await new Promise((r) => setTimeout(r, 80));
    expect(s.stats.snapshotsWritten).toBe(1);
    expect(JSON.parse(await readFile(path, 'utf8')).hashes).toEqual([['h', { f: 'v' }]]);
    await s.close();
  });

  it('refuses to start from a snapshot it cannot read, naming the file', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, '{"format":"foreshock-state","version":1,');
    expect(() => new MemoryStateStore({ snapshotPath: path })).toThrow(expect.objectContaining({ code: 'FS_STATE_SNAPSHOT', message: expect.stringContaining(path) }));
  });

  it('treats a missing snapshot as an empty store and an undefined option as the default', async () => {
    const s = new MemoryStateStore({ snapshotPath: undefined });
    await s.set('a', textEncoder.encode('1'));
    await s.close();
    const t = new MemoryStateStore({ snapshotPath: join(dir, 'absent.json') });
    expect(await t.keys('')).toEqual([]);
    await t.close();
  });
});
