// Test support for suites on the shared local Redis: every run writes under its own key
// namespace and removes exactly that namespace afterwards (never FLUSHDB: others use the server).

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A namespace unique to this run, e.g. `fs-test-3f9a1c-`; suites append their own parts. */
export function testNamespace(): string {
  return `fs-test-${randomBytes(4).toString('hex')}-`;
}

/** A plain client for assertions on raw keys (the caller quits it). */
export function rawClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 2, connectionName: 'foreshock-test-raw' });
}

/** UNLINKs every key starting with `namespace` (SCAN, not KEYS). Returns how many. */
export async function dropNamespace(url: string, namespace: string): Promise<number> {
  const redis = rawClient(url);
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace.replace(/[\\*?[\]]/g, (c) => '\\' + c)}*`, 'COUNT', 1000);
      if (keys.length > 0) removed += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  return removed;
}
