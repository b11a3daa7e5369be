// Conformance suite of the StateStore port: what every adapter (embedded, Redis) must do the same
// way. Called from a test file with a factory; each test gets a fresh, empty store.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { StateStore } from '../../ports/index.js';
import { textDecoder, textEncoder } from '../../ports/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytes = (s: string) => textEncoder.encode(s);

/** Polls `probe` until true; fails after `timeoutMs`. */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

/**
 * Defines `describe(\`StateStore conformance: ${name}\`)`. `make` must return an empty store
 * (nothing under any prefix) that nothing else writes to; the suite closes it after each test.
 */
export function stateStoreConformance(name: string, make: () => Promise<StateStore>): void {
  describe(`StateStore conformance: ${name}`, () => {
    let stores: StateStore[] = [];
    async function store(): Promise<StateStore> {
      const s = await make();
      stores.push(s);
      return s;
    }
    afterEach(async () => {
      await Promise.all(stores.map((s) => s.close()));
      stores = [];
    });

    describe('values', () => {
      it('gets what was set, byte for byte, and null for a missing key', async () => {
        const s = await store();
        const bin = new Uint8Array([0, 1, 2, 127, 128, 250, 255, 0]);
        await s.set('bin', bin);
        await s.set('empty', new Uint8Array(0));
        await s.set('text', bytes('checkpoint ✓'));
        expect(Array.from((await s.get('bin'))!)).toEqual(Array.from(bin));
        const empty = await s.get('empty');
        expect(empty).not.toBeNull();
        expect(empty!.byteLength).toBe(0);
        expect(textDecoder.decode((await s.get('text'))!)).toBe('checkpoint ✓');
        expect(await s.get('missing')).toBeNull();
      });

      it('keeps its own copy: changing the caller buffer after set or the result of get changes nothing', async () => {
        const s = await store();
        const v = bytes('abc');
        await s.set('k', v);
        v[0] = 0x7a;
        const got = (await s.get('k'))!;
        expect(textDecoder.decode(got)).toBe('abc');
        got[1] = 0x7a;
        expect(textDecoder.decode((await s.get('k'))!)).toBe('abc');
      });

      it('overwrites a value, and del removes it (del of a missing key is fine)', async () => {
        const s = await store();
        await s.set('k', bytes('one'));
        await s.set('k', bytes('two'));
        expect(textDecoder.decode((await s.get('k'))!)).toBe('two');
        await s.del('k');
        expect(await s.get('k')).toBeNull();
        await s.del('k');
        await s.del('never-set');
        expect(await s.keys('')).toEqual([]);
      });

      it('handles a large value (a detector checkpoint)', async () => {
        const s = await store();
        const big = new Uint8Array(2 * 1024 * 1024);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
        await s.set('cp:big', big);
        const got = (await s.get('cp:big'))!;
        expect(got.byteLength).toBe(big.byteLength);
        expect(Buffer.compare(Buffer.from(got), Buffer.from(big))).toBe(0);
      });
    });

    describe('ttl', () => {
      it('expires a value after its TTL, and keys() stops listing it', async () => {
        const s = await store();
        await s.set('cp:short', bytes('x'), 60);
        await s.set('cp:long', bytes('y'), 60_000);
        await s.set('cp:forever', bytes('z'));
        expect(textDecoder.decode((await s.get('cp:short'))!)).toBe('x');
        expect((await s.keys('cp:')).sort()).toEqual(['cp:forever', 'cp:long', 'cp:short']);
        await sleep(60);
        await eventually(async () => (await s.get('cp:short')) === null);
        expect((await s.keys('cp:')).sort()).toEqual(['cp:forever', 'cp:long']);
        expect(textDecoder.decode((await s.get('cp:long'))!)).toBe('y');
      });

      it('a set without TTL clears an earlier TTL', async () => {
        const s = await store();
        await s.set('k', bytes('1'), 40);
        await s.set('k', bytes('2'));
        await sleep(100);
        expect(textDecoder.decode((await s.get('k'))!)).toBe('2');
      });

      it('a set with a TTL replaces the earlier TTL', async () => {
        const s = await store();
        await s.set('k', bytes('1'), 40);
        await s.set('k', bytes('2'), 60_000);
        await sleep(100);
        expect(textDecoder.decode((await s.get('k'))!)).toBe('2');
      });

      it('refuses a TTL that is not a positive number with FS_STATE_TTL', async () => {
        const s = await store();
        for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(s.set('k', bytes('v'), bad)).rejects.toMatchObject({ code: 'FS_STATE_TTL' });
        }
        expect(await s.get('k')).toBeNull();
      });
    });

    describe('keys', () => {
      it('lists every key under a prefix, of every kind, and nothing else', async () => {
        const s = await store();
        await s.set('cp:p1', bytes('1'));
        await s.set('cp:p2', bytes('2'));
        await s.hset('cp:meta', { n: '2' });
        await s.append('cp:log', 'e', 10);
        await s.set('cq:other', bytes('3'));
        await s.set('c', bytes('4'));
        expect((await s.keys('cp:')).sort()).toEqual(['cp:log', 'cp:meta', 'cp:p1', 'cp:p2']);
        expect((await s.keys('c')).sort()).toEqual(['c', 'cp:log', 'cp:meta', 'cp:p1', 'cp:p2', 'cq:other']);
        expect((await s.keys('')).length).toBe(6);
        expect(await s.keys('nothing:')).toEqual([]);
      });

      it('takes the prefix literally (no glob) and returns each key once over many keys', async () => {
        const s = await store();
        const n = 2_500;
        await Promise.all(Array.from({ length: n }, (_, i) => s.set(`series:${i}`, bytes(String(i)))));
        await s.set('a*b', bytes('1'));
        await s.set('a*bc', bytes('1'));
        await s.set('axb', bytes('1'));
        await s.set('a?[x]\\', bytes('1'));
        await s.set('a?[x]\\y', bytes('1'));
        await s.set('aq[x]\\', bytes('1'));
        const got = await s.keys('series:');
        expect(got.length).toBe(n);
        expect(new Set(got).size).toBe(n);
        expect((await s.keys('a*b')).sort()).toEqual(['a*b', 'a*bc']);
        expect((await s.keys('a?[x]\\')).sort()).toEqual(['a?[x]\\', 'a?[x]\\y']);
      });
    });

    describe('hashes', () => {
      it('sets fields one by one, merges, reads one or all, and deletes fields', async () => {
        const s = await store();
        await s.hset('alerts', { 'cpu{host="a"}': '{"status":"firing"}', b: '2' });
        await s.hset('alerts', { b: '3', c: 'ü✓' });
        expect(await s.hget('alerts', 'b')).toBe('3');
        expect(await s.hget('alerts', 'cpu{host="a"}')).toBe('{"status":"firing"}');
        expect(await s.hget('alerts', 'zz')).toBeNull();
        expect(await s.hgetall('alerts')).toEqual({ 'cpu{host="a"}': '{"status":"firing"}', b: '3', c: 'ü✓' });
        await s.hdel('alerts', ['b', 'nope']);
        expect(await s.hgetall('alerts')).toEqual({ 'cpu{host="a"}': '{"status":"firing"}', c: 'ü✓' });
        await s.hdel('alerts', []);
        expect(Object.keys(await s.hgetall('alerts')).length).toBe(2);
      });

      it('answers empty for a missing hash, and removes a hash whose last field is deleted', async () => {
        const s = await store();
        expect(await s.hgetall('none')).toEqual({});
        expect(await s.hget('none', 'f')).toBeNull();
        await s.hdel('none', ['f']);
        await s.hset('h', { a: '1', b: '2' });
        expect(await s.keys('h')).toEqual(['h']);
        await s.hdel('h', ['a', 'b']);
        expect(await s.hgetall('h')).toEqual({});
        expect(await s.keys('')).toEqual([]);
        await s.hset('h', { a: '' });
        expect(await s.hget('h', 'a')).toBe('');
      });

      it('refuses to mix kinds under one key with FS_STATE_WRONGTYPE', async () => {
        const s = await store();
        await s.set('v', bytes('x'));
        await s.hset('h', { a: '1' });
        await s.append('l', 'e', 5);
        await expect(s.hset('v', { a: '1' })).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        await expect(s.hget('v', 'a')).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        await expect(s.get('h')).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        await expect(s.append('h', 'e', 5)).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        await expect(s.range('v', 5)).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        await expect(s.hgetall('l')).rejects.toMatchObject({ code: 'FS_STATE_WRONGTYPE' });
        // set replaces whatever the key held, as a plain value.
        await s.set('h', bytes('now a value'));
        expect(textDecoder.decode((await s.get('h'))!)).toBe('now a value');
      });
    });

    describe('logs', () => {
      it('hands out unique ids that sort as strings in append order', async () => {
        const s = await store();
        const ids: string[] = [];
        for (let i = 0; i < 200; i++) ids.push(await s.append('audit', `e${i}`, 1_000));
        // Many appends share a millisecond: the sequence part must sort too.
        expect([...ids].sort()).toEqual(ids);
        expect(new Set(ids).size).toBe(ids.length);
        const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => s.append('burst', `b${i}`, 1_000)));
        expect([...burst].sort()).toEqual(burst);
      });

      it('returns entries newest first, at most `limit`, strictly older than `beforeId`', async () => {
        const s = await store();
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) ids.push(await s.append('audit', `e${i}`, 100));
        const page = await s.range('audit', 3);
        expect(page).toEqual([
          { id: ids[9], entry: 'e9' },
          { id: ids[8], entry: 'e8' },
          { id: ids[7], entry: 'e7' },
        ]);
        expect((await s.range('audit', 100, ids[7])).map((e) => e.entry)).toEqual(['e6', 'e5', 'e4', 'e3', 'e2', 'e1', 'e0']);
        expect(await s.range('audit', 100, ids[0])).toEqual([]);
        expect(await s.range('audit', 0)).toEqual([]);
        expect(await s.range('missing', 10)).toEqual([]);
      });

      it('drops the entries appended before a time, and only those', async () => {
        const s = await store();
        for (let i = 0; i < 5; i++) await s.append('events', `old${i}`, 100);
        await new Promise((r) => setTimeout(r, 20));
        const cut = Date.now();
        await new Promise((r) => setTimeout(r, 20));
        for (let i = 0; i < 3; i++) await s.append('events', `new${i}`, 100);
        expect(await s.trimLog('events', cut)).toBe(5);
        expect((await s.range('events', 100)).map((e) => e.entry)).toEqual(['new2', 'new1', 'new0']);
        expect(await s.trimLog('events', cut)).toBe(0);
        expect(await s.trimLog('missing', Date.now())).toBe(0);
        // appending goes on after a trim, and the count cap still holds
        for (let i = 0; i < 200; i++) await s.append('events', `x${i}`, 100);
        expect((await s.range('events', 1000)).length).toBe(100);
      });

      it('keeps only the newest `maxLen` entries', async () => {
        const s = await store();
        for (let i = 0; i < 30; i++) await s.append('audit', `e${i}`, 25);
        const all = await s.range('audit', 1_000);
        expect(all.map((e) => e.entry)).toEqual(Array.from({ length: 25 }, (_, i) => `e${29 - i}`));
        // A smaller cap on a later append trims the log down to it.
        await s.append('audit', 'e30', 5);
        expect((await s.range('audit', 1_000)).map((e) => e.entry)).toEqual(['e30', 'e29', 'e28', 'e27', 'e26']);
      });

      it('stores entries as they are (JSON, unicode, empty)', async () => {
        const s = await store();
        const entries = ['', '{"action":"runbook","target":"db-1"}', 'ü ✓ \n\t "quoted"', 'x'.repeat(10_000)];
        for (const e of entries) await s.append('l', e, 10);
        expect((await s.range('l', 10)).map((e) => e.entry)).toEqual([...entries].reverse());
      });

      it('pages a capped log exactly like a direct recomputation (property)', async () => {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 30 }),
            fc.integer({ min: 0, max: 60 }),
            fc.integer({ min: 1, max: 12 }),
            async (cap, n, pageSize) => {
              const s = await store();
              const log = `prop:${run++}`;
              const all: string[] = [];
              for (let i = 0; i < n; i++) {
                await s.append(log, `e${i}`, cap);
                all.push(`e${i}`);
              }
              const expected = all.slice(Math.max(0, n - cap)).reverse();
              const got: string[] = [];
              let before: string | undefined;
              for (;;) {
                const page = await s.range(log, pageSize, before);
                expect(page.length).toBeLessThanOrEqual(pageSize);
                if (page.length === 0) break;
                got.push(...page.map((p) => p.entry));
                before = page[page.length - 1].id;
              }
              expect(got).toEqual(expected);
            },
          ),
          { numRuns: 40 },
        );
      });
    });

    it('closes cleanly, and close twice is fine', async () => {
      const s = await make();
      await s.set('k', bytes('v'));
      await s.close();
      await s.close();
    });
  });
}
