// The BullMQ JobQueue against a real redis-server: the shared port conformance suite, then what
// only a shared, persistent queue does (crashed workers, retention, rate limits, restarts).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobQueueConformance } from '../../shared/adapters/conformance/index.js';
import { BullMqJobQueue, type BullMqJobQueueOptions } from '../../shared/adapters/bullmq/index.js';
import type { Job } from '../../shared/ports/index.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { dropNamespace, rawClient, testNamespace } from './redis-namespace.js';

const url = requireService('redis');
const ns = testNamespace();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!url)('BullMqJobQueue on redis-server', () => {
  const redisUrl = url!;
  // One BullMQ prefix per test: queues made in one test share it (two processes, one queue).
  let testNo = 0;
  let prefix = '';
  let queues: BullMqJobQueue[] = [];
  beforeEach(() => {
    prefix = `${ns}t${testNo++}`;
  });
  afterEach(async () => {
    await Promise.all(queues.map((q) => q.close()));
    queues = [];
  });
  afterAll(async () => {
    await dropNamespace(redisUrl, ns);
  });
  function newQueue(options: BullMqJobQueueOptions = {}): BullMqJobQueue {
    const q = new BullMqJobQueue({ url: redisUrl, prefix, backoffBaseMs: 5, backoffMaxMs: 20, closeTimeoutMs: 2_000, ...options });
    queues.push(q);
    return q;
  }

  jobQueueConformance('bullmq', async (settings) => newQueue(settings));

  async function counts(q: BullMqJobQueue) {
    return q.counts();
  }

  it('returns the job of a worker that stopped mid-job to the queue; another worker completes it once', async () => {
    const short = { lockDurationMs: 600, stalledIntervalMs: 200 };
    const first = newQueue({ ...short, closeTimeoutMs: 50 });
    const started: string[] = [];
    first.process('work', async (job: Job) => {
      started.push(`first:${job.id}`);
      await new Promise<void>(() => {}); // hangs: the process "dies" with it
    });
    await first.add('work', 'ev:1', { n: 1 });
    await waitFor(async () => (started.length === 1 ? true : null), 5_000, 10);
    // close gives up after 50 ms and drops the worker without finishing the job: its lock lapses.
    await first.close();

    const second = newQueue(short);
    const runs: Job[] = [];
    second.process('work', async (job: Job) => {
      runs.push(job);
    });
    await waitFor(async () => ((await counts(second)).completed === 1 ? true : null), 10_000, 20);
    await sleep(800); // two more stalled-check rounds: nothing runs it again
    expect(runs.map((j) => [j.id, j.data])).toEqual([['ev:1', { n: 1 }]]);
    // A run cut short is not an attempt.
    expect(runs[0].attempt).toBe(1);
    expect(started).toEqual(['first:ev:1']);
    expect(await counts(second)).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 1 });
  });

  it('retries the job of a worker process killed with SIGKILL mid-job', async () => {
    const lockMs = 800;
    const script = fileURLToPath(new URL('./bullmq-crash-worker.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, FS_TEST_REDIS_URL: redisUrl, FS_TEST_PREFIX: prefix, FS_TEST_LOCK_MS: String(lockMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    try {
      await waitFor(async () => (out.includes('ready') ? true : null), 30_000, 20);
      const producer = newQueue();
      await producer.add('work', 'ev:crash', { host: 'db-1' });
      await waitFor(async () => (out.includes('started ev:crash 1') ? true : null), 10_000, 10);
      expect((await counts(producer)).active).toBe(1);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');

    const survivor = newQueue({ lockDurationMs: lockMs, stalledIntervalMs: 200 });
    const runs: Job[] = [];
    survivor.process('work', async (job: Job) => void runs.push(job));
    await waitFor(async () => ((await counts(survivor)).completed === 1 ? true : null), 10_000, 20);
    await sleep(600);
    expect(runs.map((j) => [j.id, j.data, j.attempt])).toEqual([['ev:crash', { host: 'db-1' }, 1]]);
  });

  it('dead-letters a job that stalled more than maxStalledCount times', async () => {
    const short = { lockDurationMs: 400, stalledIntervalMs: 150 };
    const first = newQueue({ ...short, closeTimeoutMs: 20 });
    let started = 0;
    first.process('work', () => {
      started++;
      return new Promise<void>(() => {});
    });
    await first.add('work', 'poison', null);
    await waitFor(async () => (started === 1 ? true : null), 5_000, 10);
    await first.close();
    const second = newQueue({ ...short, maxStalledCount: 0 });
    let runs = 0;
    second.process('work', async () => void runs++);
    await waitFor(async () => ((await second.counts()).failed === 1 ? true : null), 10_000, 20);
    expect(runs).toBe(0);
    const [dead] = await second.deadLetters(1);
    expect(dead.job.id).toBe('poison');
    expect(dead.error).toMatch(/stalled/);
  });

  it('forgets a completed id after completedRetentionMs, once a later job completes', async () => {
    const q = newQueue({ completedRetentionMs: 1_000 });
    const runs: string[] = [];
    q.process('x', async (job: Job) => void runs.push(job.id));
    expect(await q.add('x', 'r1', null)).toBe(true);
    await waitFor(async () => (runs.length === 1 ? true : null), 5_000, 10);
    expect(await q.add('x', 'r1', null)).toBe(false);
    await sleep(1_100);
    // BullMQ prunes by age when another job of the name completes.
    expect(await q.add('x', 'r2', null)).toBe(true);
    await waitFor(async () => (runs.length === 2 ? true : null), 5_000, 10);
    await waitFor(async () => ((await q.add('x', 'r1', null)) ? true : null), 3_000, 50);
    await waitFor(async () => (runs.length === 3 ? true : null), 5_000, 10);
    expect(runs).toEqual(['r1', 'r2', 'r1']);
  });

  it('keeps deadLetterMax dead letters per job name; a dropped one is no longer known', async () => {
    const q = newQueue({ attempts: 1, deadLetterMax: 2 });
    q.process('x', async () => {
      throw new Error('no');
    });
    for (let i = 1; i <= 3; i++) {
      await q.add('x', `j${i}`, i);
      await waitFor(async () => (q.stats.deadLettered === i ? true : null), 5_000, 10);
    }
    expect((await q.deadLetters(10)).map((d) => d.job.id)).toEqual(['j3', 'j2']);
    expect((await q.counts()).failed).toBe(2);
    expect(await q.add('x', 'j3', 3)).toBe(false);
    expect(await q.add('x', 'j1', 1)).toBe(true);
  });

  it('starts at most `max` jobs per `durationMs` with a rate limit', async () => {
    const q = newQueue();
    const starts: number[] = [];
    q.process('webhook', async () => void starts.push(performance.now()), { concurrency: 10, limiter: { max: 2, durationMs: 300 } });
    for (let i = 0; i < 6; i++) await q.add('webhook', `w${i}`, i);
    await waitFor(async () => ((await q.counts()).completed === 6 ? true : null), 10_000, 20);
    starts.sort((a, b) => a - b);
    expect(starts[5] - starts[0]).toBeGreaterThanOrEqual(2 * 300 * 0.9);
    for (let i = 2; i < starts.length; i++) expect(starts[i] - starts[i - 2]).toBeGreaterThanOrEqual(300 * 0.9);
  });

  it('keeps jobs across a restart: a job added before close runs in the next process', async () => {
    const before = newQueue();
    await before.add('x', 'kept', { v: 1 }, { delayMs: 200 });
    await before.add('x', 'kept2', { v: 2 });
    await before.close();
    const after = newQueue();
    expect(await after.counts()).toMatchObject({ waiting: 1, delayed: 1 });
    const runs: string[] = [];
    after.process('x', async (job: Job) => void runs.push(job.id));
    await waitFor(async () => (runs.length === 2 ? true : null), 5_000, 10);
    expect(runs).toEqual(['kept2', 'kept']);
  });

  it('counts and dead letters cover job names only other processes used', async () => {
    const worker = newQueue({ attempts: 1 });
    worker.process('a', async () => undefined);
    worker.process('b', async () => {
      throw new Error('b fails');
    });
    await worker.add('a', '1', null);
    await worker.add('b', '2', null);
    const observer = newQueue();
    await waitFor(async () => {
      const c = await observer.counts();
      return c.completed === 1 && c.failed === 1 ? true : null;
    }, 5_000, 20);
    expect((await observer.deadLetters(5)).map((d) => [d.job.name, d.job.id, d.error])).toEqual([['b', '2', 'b fails']]);
  });

  it('stores our jobs under its prefix, with the BullMQ job id escaped', async () => {
    const q = newQueue();
    await q.add('alert', 'anomaly:cpu:1', null);
    const raw = rawClient(redisUrl);
    try {
      expect(await raw.exists(`${prefix}:alert:anomaly%3Acpu%3A1`)).toBe(1);
      expect(await raw.sismember(`${prefix}:_names`, 'alert')).toBe(1);
    } finally {
      await raw.quit();
    }
  });

  it('refuses job names BullMQ cannot take', async () => {
    const q = newQueue();
    await expect(q.add('a:b', 'x', null)).rejects.toMatchObject({ code: 'FS_QUEUE_NAME' });
    expect(() => q.process('_names', async () => undefined)).toThrow(expect.objectContaining({ code: 'FS_QUEUE_NAME' }));
  });
});
