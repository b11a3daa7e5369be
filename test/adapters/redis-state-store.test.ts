// The Redis StateStore against a real redis-server: the shared port conformance suite, then what
// only Redis has (key prefix, approximate trimming, credentials, reconnects).

import { afterAll, describe, expect, it } from 'vitest';
import { textDecoder, textEncoder } from '../../shared/ports/index.js';
import { stateStoreConformance } from '../../shared/adapters/conformance/index.js';
import { RedisStateStore, type RedisStateStoreOptions } from '../../shared/adapters/redis/index.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { dropNamespace, rawClient, testNamespace } from './redis-namespace.js';

const url = requireService('redis');
const ns = testNamespace();

describe.skipIf(!url)('RedisStateStore on redis-server', () => {
  const redisUrl = url!;
  let n = 0;
  const stores: RedisStateStore[] = [];
  function newStore(options: RedisStateStoreOptions = {}): RedisStateStore {
    const s = new RedisStateStore({ url: redisUrl, keyPrefix: `${ns}${n++}:`, ...options });
    stores.push(s);
    return s;
  }
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await dropNamespace(redisUrl, ns);
  });

  stateStoreConformance('redis', async () => newStore());

  it('writes under its key prefix only, and keys() hides the prefix', async () => {
    const a = newStore();
    const b = newStore();
    await a.set('cp:1', textEncoder.encode('a'));
    await b.set('cp:1', textEncoder.encode('b'));
    expect(textDecoder.decode((await a.get('cp:1'))!)).toBe('a');
    expect(await a.keys('')).toEqual(['cp:1']);
    const raw = rawClient(redisUrl);
    try {
      const prefixA = `${ns}${n - 2}:`;
      expect(await raw.get(`${prefixA}cp:1`)).toBe('a');
      await a.set('ttl', textEncoder.encode('x'), 5_000);
      const pttl = await raw.pttl(`${prefixA}ttl`);
      expect(pttl).toBeGreaterThan(4_000);
      expect(pttl).toBeLessThanOrEqual(5_000);
      expect(await raw.type(`${prefixA}cp:1`)).toBe('string');
      await a.append('audit', 'e', 10);
      expect(await raw.type(`${prefixA}audit`)).toBe('stream');
    } finally {
      await raw.quit();
    }
  });

  it('pages by raw stream ids as well as by the padded ids it hands out', async () => {
    const s = newStore();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await s.append('audit', `e${i}`, 10));
    expect(ids[0]).toMatch(/^\d{13}-\d{20}$/);
    const raw = ids[3].replace(/-0+(\d)/, '-$1');
    expect((await s.range('audit', 10, raw)).map((e) => e.entry)).toEqual(['e2', 'e1', 'e0']);
    expect(await s.range('audit', 10, '0-0')).toEqual([]);
    await expect(s.range('audit', 10, 'not-an-id')).rejects.toMatchObject({ code: 'FS_STATE_LOG_ID' });
  });

  it('with approximate trimming keeps at least maxLen entries and bounds the log', async () => {
    const s = newStore({ logTrim: 'approximate' });
    for (let i = 0; i < 1_000; i++) await s.append('audit', `e${i}`, 50);
    const all = await s.range('audit', 10_000);
    expect(all.length).toBeGreaterThanOrEqual(50);
    expect(all.length).toBeLessThan(1_000);
    expect(all.slice(0, 50).map((e) => e.entry)).toEqual(Array.from({ length: 50 }, (_, i) => `e${999 - i}`));
  });

  it('authenticates with the user and password of the URL', async () => {
    const raw = rawClient(redisUrl);
    const user = `${ns}user`;
    try {
      await raw.call('ACL', 'SETUSER', user, 'reset', 'on', '>s3cret:/@pw', `~${ns}*`, '+@all');
      const u = new URL(redisUrl);
      u.username = encodeURIComponent(user);
      u.password = encodeURIComponent('s3cret:/@pw');
      const s = newStore({ url: u.toString() });
      await s.set('authed', textEncoder.encode('yes'));
      expect(textDecoder.decode((await s.get('authed'))!)).toBe('yes');
      expect(s.stats.connectionErrors).toBe(0);

      const bad = new RedisStateStore({ url: u.toString(), password: 'wrong', keyPrefix: `${ns}bad:`, reconnectBaseMs: 20, reconnectMaxMs: 50 });
      await waitFor(async () => (bad.stats.connectionErrors > 0 ? true : null), 5_000, 20);
      expect(bad.lastError?.message).toMatch(/WRONGPASS|invalid username-password/i);
      await bad.close();
    } finally {
      await raw.call('ACL', 'DELUSER', user);
      await raw.quit();
    }
  });

  it('reconnects by itself after the server drops the connection', async () => {
    const name = `${ns}conn`;
    const s = newStore({ connectionName: name, reconnectBaseMs: 20, reconnectMaxMs: 100 });
    await s.set('before', textEncoder.encode('1'));
    const raw = rawClient(redisUrl);
    const connectionId = async (): Promise<string | null> => {
      const list = (await raw.call('CLIENT', 'LIST')) as string;
      const line = list.split('\n').find((l) => l.includes(` name=${name} `));
      return line === undefined ? null : /\bid=(\d+)/.exec(line)![1];
    };
    try {
      const before = await connectionId();
      expect(before).not.toBeNull();
      await raw.call('CLIENT', 'KILL', 'ID', before!);
      // Commands issued while the client reconnects wait for it instead of failing.
      await s.set('after', textEncoder.encode('2'));
      expect(textDecoder.decode((await s.get('after'))!)).toBe('2');
      expect(textDecoder.decode((await s.get('before'))!)).toBe('1');
      const after = await connectionId();
      expect(after).not.toBeNull();
      expect(after).not.toBe(before);
    } finally {
      await raw.quit();
    }
  });
});
