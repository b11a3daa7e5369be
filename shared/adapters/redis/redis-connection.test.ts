import { describe, expect, it } from 'vitest';
import { redactUrl, reconnectDelayMs, redisClientOptions } from './redis-connection.js';
import { globEscape, toLogId, toStreamId } from './redis-state-store.js';

describe('redisClientOptions', () => {
  it('takes host, port, database and credentials from the URL, percent-decoded', () => {
    const o = redisClientOptions({ url: 'redis://fs%20user:p%40ss%3Aw0rd@redis.internal:6380/3' });
    expect(o).toMatchObject({ host: 'redis.internal', port: 6380, db: 3, username: 'fs user', password: 'p@ss:w0rd', lazyConnect: false });
    expect(o.tls).toBeUndefined();
  });

  it('defaults to 127.0.0.1:6379, database 0, no credentials', () => {
    const o = redisClientOptions();
    expect(o).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0, connectionName: 'foreshock', maxRetriesPerRequest: 20 });
    expect(o.username).toBeUndefined();
    expect(o.password).toBeUndefined();
  });

  it('lets explicit username/password override the URL', () => {
    const o = redisClientOptions({ url: 'redis://u:p@h:1', username: 'other', password: 'secret' });
    expect(o).toMatchObject({ username: 'other', password: 'secret' });
  });

  it('enables TLS for rediss:// and passes a tls object through as it is', () => {
    expect(redisClientOptions({ url: 'rediss://h:6379' }).tls).toEqual({});
    const tls = { ca: '-----BEGIN CERTIFICATE-----\n…', servername: 'redis.internal', rejectUnauthorized: true };
    expect(redisClientOptions({ url: 'redis://h:6379', tls }).tls).toBe(tls);
    expect(redisClientOptions({ url: 'rediss://h:6379', tls }).tls).toBe(tls);
  });

  it('accepts an IPv6 loopback host', () => {
    expect(redisClientOptions({ url: 'redis://[::1]:7000' })).toMatchObject({ host: '::1', port: 7000 });
  });

  it('refuses a bad URL with FS_REDIS_URL and never echoes the password', () => {
    expect(() => redisClientOptions({ url: 'http://h:1' })).toThrow(expect.objectContaining({ code: 'FS_REDIS_URL' }));
    expect(() => redisClientOptions({ url: 'redis://h:1/db' })).toThrow(expect.objectContaining({ code: 'FS_REDIS_URL' }));
    let message = '';
    try {
      redisClientOptions({ url: 'redis://u:hunter2@ho st:1' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/FS_REDIS_URL|not a URL/);
    expect(message).not.toContain('hunter2');
    expect(redactUrl('redis://u:hunter2@h:1/0')).toBe('redis://u:***@h:1/0');
  });

  it('reconnects with a doubling delay, capped, forever', () => {
    const o = redisClientOptions({ reconnectBaseMs: 100, reconnectMaxMs: 1_000 });
    const strategy = o.retryStrategy as (times: number) => number;
    expect([1, 2, 3, 4, 5, 50, 10_000].map(strategy)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(reconnectDelayMs(1, 50, 5_000)).toBe(50);
    expect(() => redisClientOptions({ reconnectBaseMs: 10, reconnectMaxMs: 5 })).toThrow(expect.objectContaining({ code: 'FS_REDIS_OPTIONS' }));
  });
});

describe('Redis log ids', () => {
  it('pads stream ids so that string order is stream order', () => {
    const raw = ['1700000000000-9', '1700000000000-10', '1700000000001-0', '1700000000001-18446744073709551615', '1700000000002-0'];
    const ids = raw.map(toLogId);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toBe('1700000000000-00000000000000000009');
  });

  it('reads both padded and raw ids back to the stream id', () => {
    expect(toStreamId('1700000000000-00000000000000000009')).toEqual({ ms: 1700000000000n, seq: 9n });
    expect(toStreamId('1700000000000-9')).toEqual({ ms: 1700000000000n, seq: 9n });
    expect(toStreamId('17-x')).toBeNull();
    expect(toStreamId('')).toBeNull();
  });

  it('escapes SCAN glob characters', () => {
    expect(globEscape('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
  });
});
