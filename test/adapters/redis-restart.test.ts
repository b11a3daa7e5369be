// The Redis StateStore across a redis-server killed with SIGKILL and started again (a private
// server, test/support/private-redis.ts): the store reconnects by itself, and with the
// append-only file on what Redis acknowledged is still there, which the fault suite
// (npm run bench:faults) relies on; without it the restart comes back empty.

import { afterAll, describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { textDecoder, textEncoder } from '../../shared/ports/index.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

// The shared server's presence says redis-server is installed; this suite runs its own.
const shared = requireService('redis');

describe.skipIf(!shared || !redisServerAvailable())('RedisStateStore across kill -9 of redis-server', () => {
  const servers: PrivateRedis[] = [];
  const stores: RedisStateStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  async function killAndRestart(appendOnly: boolean): Promise<{ value: string | null; fields: Record<string, string> }> {
    const server = await startPrivateRedis({ appendOnly });
    servers.push(server);
    const store = new RedisStateStore({ url: server.url, keyPrefix: 'restart:' });
    stores.push(store);
    await store.set('cp:0', textEncoder.encode('snapshot'));
    await store.hset('alerts', { a: '{"status":"firing"}' });
    await server.stop('SIGKILL');
    await server.start();
    // The same store object, never reconnected by hand.
    return waitFor(async () => {
      const v = await store.get('cp:0');
      return { value: v === null ? null : textDecoder.decode(v), fields: await store.hgetall('alerts') };
    }, 15_000, 100);
  }

  it('keeps acknowledged writes with the append-only file, and the store reconnects by itself', async () => {
    const after = await killAndRestart(true);
    expect(after.value).toBe('snapshot');
    expect(after.fields).toEqual({ a: '{"status":"firing"}' });
  });

  it('comes back empty without it (why the fault suite runs Redis with persistence)', async () => {
    const after = await killAndRestart(false);
    expect(after.value).toBeNull();
    expect(after.fields).toEqual({});
  });
});
