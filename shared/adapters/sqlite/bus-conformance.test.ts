// The embedded bus on the data directory's database against the Bus conformance suite (as the
// memory storage and Kafka run it), the embedded-bus suite, and what only a durable log does:
// a send answered only once on disk, topics and group offsets that survive a restart.

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDataDir } from '../../../test/support/data-dir.js';
import { busConformance, embeddedBusConformance } from '../conformance/index.js';
import { MemoryBus, type MemoryBusOptions } from '../memory/index.js';
import { SqliteBusStorage } from './sqlite-bus-storage.js';
import { SqliteDatabase } from './sqlite-database.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A bus on its own database; closing the bus closes the database. */
function durableBus(dir: string, options: MemoryBusOptions = {}): MemoryBus {
  const db = new SqliteDatabase({ dir, fsync: 'off' });
  const bus = new MemoryBus({ ...options, storage: new SqliteBusStorage(db) });
  const close = bus.close.bind(bus);
  bus.close = async () => {
    await close();
    await db.close();
  };
  return bus;
}

busConformance('sqlite', async () => durableBus(tempDataDir('bus'), { retryBackoffMs: 20 }), { timeoutMs: 5_000 }, { shared: false });
embeddedBusConformance('sqlite', async (options) => durableBus(tempDataDir('bus'), options));

async function until(cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('durable embedded bus', () => {
  it('answers a send only once its messages are in the database file', async () => {
    const dir = tempDataDir('bus');
    const bus = durableBus(dir);
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    await bus.send('t', [{ key: 'k', value: enc.encode('accepted') }]);
    // Another connection (as after a crash) sees the committed row.
    const other = new Database(`${dir}/foreshock.db`, { readonly: true });
    const tables = other.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'bus_log_%'").all() as { name: string }[];
    const rows = tables.flatMap((t) => other.prepare(`SELECT value FROM ${t.name}`).all() as { value: Buffer }[]);
    other.close();
    expect(rows.map((r) => dec.decode(r.value))).toEqual(['accepted']);
    await bus.close();
  });

  it('keeps topics, messages and committed offsets across a restart: a group resumes, a new one reads all', async () => {
    const dir = tempDataDir('bus');
    const first = durableBus(dir, { maxBatchSize: 4 });
    await first.ensureTopics([{ name: 't', partitions: 3 }]);
    await first.send('t', Array.from({ length: 10 }, (_, i) => ({ key: null, partition: 0, value: enc.encode(`m${i}`) })));
    const seen: string[] = [];
    let batches = 0;
    await first.subscribe({
      groupId: 'g',
      topics: ['t'],
      eachBatch: async (b) => {
        // The first batch is processed and committed; later ones fail, as a process dying mid-way would leave them.
        if (batches++ > 0) throw new Error('not processed');
        seen.push(...b.messages.map((m) => dec.decode(m.value)));
      },
    });
    await until(() => batches >= 2);
    await first.close();
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3']);

    const second = durableBus(dir, { maxBatchSize: 4 });
    const again: { offset: number; value: string }[] = [];
    await second.subscribe({ groupId: 'g', topics: ['t'], eachBatch: async (b) => void again.push(...b.messages.map((m) => ({ offset: m.offset, value: dec.decode(m.value) }))) });
    const fresh: string[] = [];
    await second.subscribe({ groupId: 'new', topics: ['t'], eachBatch: async (b) => void fresh.push(...b.messages.map((m) => dec.decode(m.value))) });
    await until(() => again.length === 6 && fresh.length === 10);
    expect(again.map((m) => m.offset)).toEqual([4, 5, 6, 7, 8, 9]);
    // The topic kept its 3 partitions, and offsets continue where they were.
    expect((await second.keyPartitions('t', ['a', 'b', 'c', 'd', 'e', 'f'])).every((p) => p >= 0 && p < 3)).toBe(true);
    await second.send('t', [{ key: null, partition: 0, value: enc.encode('m10') }]);
    await until(() => again.length === 7);
    expect(again[6]).toEqual({ offset: 10, value: 'm10' });
    expect(await second.lag('t', 'g')).toBe(0);
    await second.close();
  });
});
