// The durable embedded StateStore: what a restart keeps, and a failed commit that /readyz shows.

import { describe, expect, it } from 'vitest';
import { tempDataDir } from '../../../test/support/data-dir.js';
import { textDecoder, textEncoder } from '../../ports/index.js';
import { SqliteDatabase } from './sqlite-database.js';
import { SqliteStateStore } from './sqlite-state-store.js';

describe('SqliteStateStore', () => {
  it('keeps values, TTLs, hashes and logs across a restart; log ids stay monotonic when the clock steps back', async () => {
    const dir = tempDataDir('state');
    let now = 10_000;
    const db1 = new SqliteDatabase({ dir });
    const a = new SqliteStateStore(db1, { clock: () => now });
    const bin = new Uint8Array([0, 1, 2, 250, 255]);
    await a.set('bin', bin);
    await a.set('short', textEncoder.encode('x'), 100);
    await a.set('long', textEncoder.encode('y'), 10_000);
    await a.hset('fs:alerts', { 'cpu{host="a"}': JSON.stringify({ status: 'firing' }) });
    const lastId = await a.append('audit', 'one', 10);
    await a.append('audit', 'two', 10);
    await a.close();
    await db1.close();

    now += 500;
    const db2 = new SqliteDatabase({ dir });
    const b = new SqliteStateStore(db2, { clock: () => now });
    expect(await b.get('bin')).toEqual(bin);
    expect(await b.get('short')).toBeNull();
    expect(textDecoder.decode((await b.get('long'))!)).toBe('y');
    expect(await b.hgetall('fs:alerts')).toEqual({ 'cpu{host="a"}': '{"status":"firing"}' });
    expect((await b.range('audit', 10)).map((e) => e.entry)).toEqual(['two', 'one']);
    now = 0;
    expect((await b.append('audit', 'three', 10)) > lastId).toBe(true);
    now = 19_999;
    expect(textDecoder.decode((await b.get('long'))!)).toBe('y');
    now = 20_000;
    expect(await b.get('long')).toBeNull();
    await b.close();
    await db2.close();
  });

  it('keeps a value far beyond the size one JSON string can hold, without building one', async () => {
    // 600 MiB of values: more than V8's longest string (2^29 - 24 characters), the limit the old
    // single JSON.stringify snapshot ran into at ~650 k series.
    const db = new SqliteDatabase({ dir: tempDataDir('state'), fsync: 'off' });
    const s = new SqliteStateStore(db);
    const chunk = new Uint8Array(1024 * 1024).fill(7);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 600; i++) writes.push(s.set(`cp:${i}`, chunk));
    await Promise.all(writes);
    expect((await s.keys('cp:')).length).toBe(600);
    expect(db.sizeBytes()).toBeGreaterThan(600 * 1024 * 1024);
    expect((await s.get('cp:599'))!.byteLength).toBe(chunk.byteLength);
    await s.close();
    await db.close();
  });

  it('refuses writes of a commit that fails (disk full), keeps the error for /readyz, and recovers', async () => {
    const errors: string[] = [];
    const db = new SqliteDatabase({ dir: tempDataDir('state'), maxBytes: 256 * 1024, onError: (e) => errors.push(e.code) });
    const s = new SqliteStateStore(db);
    await s.set('small', textEncoder.encode('ok'));
    await expect(s.set('big', new Uint8Array(1024 * 1024))).rejects.toMatchObject({ code: 'FS_DATA_WRITE' });
    expect(db.lastError?.message).toMatch(/full/);
    expect(db.stats.commitErrors).toBeGreaterThan(0);
    expect(errors[0]).toBe('FS_DATA_WRITE');
    expect(await s.get('big')).toBeNull();
    expect(textDecoder.decode((await s.get('small'))!)).toBe('ok');
    await s.set('after', textEncoder.encode('fits'));
    expect(db.lastError).toBeNull();
    await s.close();
    await db.close();
  });
});
