import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../ports/index.js';
import { MemoryJobQueue, type MemoryJobQueueOptions } from './memory-job-queue.js';

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let queues: MemoryJobQueue[] = [];
function newQueue(options: MemoryJobQueueOptions = {}): MemoryJobQueue {
  const q = new MemoryJobQueue({ backoffBaseMs: 10, backoffMaxMs: 40, closeTimeoutMs: 500, ...options });
  queues.push(q);
  return q;
}
afterEach(async () => {
  await Promise.all(queues.map((q) => q.close()));
  queues = [];
});

describe('MemoryJobQueue', () => {
  it('runs a job id once: waiting, running and completed ids are known', async () => {
    let now = 1_000_000;
    const q = newQueue({ completedRetentionMs: 60_000, clock: () => now });
    const runs: string[] = [];
    expect(await q.add('alert', 'e1', { n: 1 })).toBe(true);
    expect(await q.add('alert', 'e1', { n: 2 })).toBe(false);
    q.process<{ n: number }>('alert', async (job) => void runs.push(`${job.id}:${job.data.n}`));
    await waitFor(async () => (await q.counts()).completed === 1);
    expect(await q.add('alert', 'e1', { n: 3 })).toBe(false);
    expect(runs).toEqual(['e1:1']);
    // After the retention, the id is forgotten and a replay runs again.
    now += 60_001;
    expect(await q.add('alert', 'e1', { n: 4 })).toBe(true);
    await waitFor(() => runs.length === 2);
    expect(runs[1]).toBe('e1:4');
    expect(q.stats.duplicates).toBe(2);
  });

  it('retries a failing job with backoff until it succeeds', async () => {
    const q = newQueue({ attempts: 5, backoffBaseMs: 20, backoffMaxMs: 1000, random: () => 0.999 });
    const seen: { attempt: number; at: number }[] = [];
    q.process('deliver', async (job: Job) => {
      seen.push({ attempt: job.attempt, at: performance.now() });
      if (job.attempt < 3) throw new Error('alertmanager down');
    });
    await q.add('deliver', 'j', null);
    await waitFor(async () => (await q.counts()).completed === 1);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    // Caps 20 then 40 ms, jitter near the cap.
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(15);
    expect(seen[2].at - seen[1].at).toBeGreaterThanOrEqual(35);
    expect(q.stats.attemptsFailed).toBe(2);
    expect(await q.deadLetters(10)).toEqual([]);
  });

  it('draws retry delays uniformly below an exponential cap (full jitter)', async () => {
    const draws = [0.5, 0.25];
    const q = newQueue({ attempts: 3, backoffBaseMs: 40, backoffMaxMs: 10_000, random: () => draws.shift() ?? 0 });
    const at: number[] = [];
    q.process('x', async () => {
      at.push(performance.now());
      throw new Error('no');
    });
    await q.add('x', 'j', null);
    await waitFor(async () => (await q.counts()).failed === 1);
    // 0.5 × 40 = 20 ms, then 0.25 × 80 = 20 ms.
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(15);
    expect(at[1] - at[0]).toBeLessThan(2000);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(15);
  });

  it('dead-letters a job after its attempts, newest first, bounded, and keeps its id known', async () => {
    const q = newQueue({ attempts: 2, deadLetterMax: 2 });
    q.process('x', async (job: Job<number>) => {
      throw new Error(`boom ${job.data}`);
    });
    for (let i = 1; i <= 3; i++) {
      await q.add('x', `j${i}`, i);
      await waitFor(() => q.stats.deadLettered === i);
    }
    const dead = await q.deadLetters(10);
    expect(dead.map((d) => [d.job.id, d.job.attempt, d.error])).toEqual([
      ['j3', 2, 'boom 3'],
      ['j2', 2, 'boom 2'],
    ]);
    expect((await q.counts()).failed).toBe(2);
    expect(await q.add('x', 'j3', 3)).toBe(false);
    // j1 fell off the bounded list, so it is no longer known.
    expect(await q.add('x', 'j1', 1)).toBe(true);
  });

  it('respects a job-level attempts override and delayed jobs', async () => {
    const q = newQueue({ attempts: 10 });
    const runs: number[] = [];
    const added = performance.now();
    q.process('x', async (job: Job) => {
      runs.push(performance.now() - added);
      throw new Error('no');
    });
    await q.add('x', 'j', null, { attempts: 1, delayMs: 40 });
    expect((await q.counts()).delayed).toBe(1);
    await waitFor(() => q.stats.deadLettered === 1);
    expect(runs.length).toBe(1);
    expect(runs[0]).toBeGreaterThanOrEqual(35);
  });

  it('runs at most `concurrency` jobs of a name at once', async () => {
    const q = newQueue();
    let running = 0;
    let peak = 0;
    q.process(
      'x',
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(10);
        running--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 12; i++) await q.add('x', `j${i}`, i);
    await waitFor(async () => (await q.counts()).active === 3);
    const c = await q.counts();
    expect(c.waiting).toBe(9);
    await waitFor(async () => (await q.counts()).completed === 12);
    expect(peak).toBe(3);
  });

  it('close stops new jobs and waits for the ones in flight', async () => {
    const q = newQueue();
    const done: string[] = [];
    q.process(
      'x',
      async (job: Job) => {
        await sleep(50);
        done.push(job.id);
      },
      { concurrency: 1 },
    );
    await q.add('x', 'a', null);
    await q.add('x', 'b', null);
    await waitFor(async () => (await q.counts()).active === 1);
    await q.close();
    expect(done).toEqual(['a']);
    await sleep(80);
    expect(done).toEqual(['a']);
    await expect(q.add('x', 'c', null)).rejects.toMatchObject({ code: 'FS_QUEUE_CLOSED' });
  });

  it('close gives up on a stuck job after closeTimeoutMs and leaves no timer behind', async () => {
    const q = newQueue({ closeTimeoutMs: 30, backoffBaseMs: 60_000, backoffMaxMs: 60_000, random: () => 1 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    q.process('stuck', () => new Promise<void>(() => {}));
    q.process('retry', async () => {
      throw new Error('later');
    });
    await q.add('stuck', 's', null);
    await q.add('retry', 'r', null);
    await waitFor(async () => (await q.counts()).delayed === 1);
    const t0 = performance.now();
    await q.close();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(timers()).toBe(before);
  });
});
