// The embedded queue with its jobs in the data directory: what a restart keeps.

import { describe, expect, it } from 'vitest';
import { tempDataDir } from '../../../test/support/data-dir.js';
import { MemoryJobQueue } from '../memory/index.js';
import { SqliteDatabase } from './sqlite-database.js';
import { SqliteJobStore } from './sqlite-job-store.js';

async function until(cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('durable embedded job queue', () => {
  it('runs again after a restart what was queued or running, and still knows what completed', async () => {
    const dir = tempDataDir('queue');
    const db1 = new SqliteDatabase({ dir });
    const q1 = new MemoryJobQueue({ store: new SqliteJobStore(db1), backoffBaseMs: 5, closeTimeoutMs: 50 });
    const ran1: string[] = [];
    let release!: () => void;
    const hang = new Promise<void>((r) => (release = r));
    q1.process<{ n: number }>('work', async (job) => {
      ran1.push(job.id);
      if (job.id === 'running') await hang;
    }, { concurrency: 1 });
    expect(await q1.add('work', 'done', { n: 1 })).toBe(true);
    await until(() => q1.stats.completed === 1);
    expect(await q1.add('work', 'running', { n: 2 })).toBe(true);
    expect(await q1.add('work', 'queued', { n: 3 })).toBe(true);
    expect(await q1.add('other', 'no-handler', { n: 4 }, { delayMs: 10 })).toBe(true);
    await until(() => ran1.includes('running'));
    // The process goes away with 'running' in flight and 'queued' waiting.
    await q1.close();
    await db1.flush();
    await db1.close();
    release();

    const db2 = new SqliteDatabase({ dir });
    const q2 = new MemoryJobQueue({ store: new SqliteJobStore(db2), backoffBaseMs: 5 });
    expect(q2.stats.recovered).toBe(3);
    const ran2: { id: string; data: unknown }[] = [];
    q2.process('work', async (job) => void ran2.push({ id: job.id, data: job.data }));
    q2.process('other', async (job) => void ran2.push({ id: job.id, data: job.data }));
    await until(() => ran2.length === 3);
    expect(ran2.map((r) => r.id).sort()).toEqual(['no-handler', 'queued', 'running']);
    expect(ran2.find((r) => r.id === 'queued')!.data).toEqual({ n: 3 });
    // Replayed adds of jobs that completed in either run are no-ops.
    expect(await q2.add('work', 'done', { n: 1 })).toBe(false);
    await until(() => q2.stats.completed === 3);
    expect(await q2.add('work', 'queued', { n: 3 })).toBe(false);
    await q2.close();
    await db2.close();
  });
});
