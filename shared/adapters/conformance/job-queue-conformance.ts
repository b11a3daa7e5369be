// Conformance suite of the JobQueue port: what every adapter (embedded, BullMQ) must do the same
// way. Called from a test file with a factory that builds a queue from the settings below.

import { afterEach, describe, expect, it } from 'vitest';
import { ForeshockError } from '../../errors/index.js';
import type { Job, JobQueue } from '../../ports/index.js';

/** Settings every JobQueue adapter has under some name; the suite picks them per test. */
export interface JobQueueConformanceSettings {
  /** Default attempts per job. */
  attempts: number;
  /** Retry delay cap after the first failure, ms; doubles per attempt. */
  backoffBaseMs: number;
  /** Largest retry delay cap, ms. */
  backoffMaxMs: number;
  /** Jitter source in [0, 1): the retry delay is `random() × cap`. */
  random: () => number;
  /** Concurrency of `process` when it names none. */
  concurrency: number;
  /** How long `close` waits for jobs in flight, ms. */
  closeTimeoutMs: number;
}

export const JOB_QUEUE_CONFORMANCE_SETTINGS: Readonly<JobQueueConformanceSettings> = Object.freeze({
  attempts: 3,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  random: Math.random,
  concurrency: 4,
  closeTimeoutMs: 2_000,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until true; fails after `timeoutMs`. */
async function eventually(probe: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

/**
 * Defines `describe(\`JobQueue conformance: ${name}\`)`. `make` must return a queue over an empty
 * backend that nothing else uses; the suite closes every queue it made after each test. Two
 * queues made in one test must share the backend (two processes on one queue); the embedded
 * adapter cannot, and says so with `shared: false`.
 */
export function jobQueueConformance(
  name: string,
  make: (settings: JobQueueConformanceSettings) => Promise<JobQueue>,
  capabilities: { shared: boolean } = { shared: true },
): void {
  describe(`JobQueue conformance: ${name}`, () => {
    let queues: JobQueue[] = [];
    async function queue(overrides: Partial<JobQueueConformanceSettings> = {}): Promise<JobQueue> {
      const q = await make({ ...JOB_QUEUE_CONFORMANCE_SETTINGS, ...overrides });
      queues.push(q);
      return q;
    }
    afterEach(async () => {
      await Promise.all(queues.map((q) => q.close()));
      queues = [];
    });

    it('runs a job once per id: a second add while it waits, runs or is completed is a no-op', async () => {
      const q = await queue();
      const runs: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      expect(await q.add('alert', 'e1', { n: 1 })).toBe(true);
      expect(await q.add('alert', 'e1', { n: 2 })).toBe(false);
      q.process<{ n: number }>('alert', async (job) => {
        runs.push(`${job.id}:${job.data.n}`);
        await gate;
      });
      await eventually(async () => (await q.counts()).active === 1);
      expect(await q.add('alert', 'e1', { n: 3 })).toBe(false);
      release();
      await eventually(async () => (await q.counts()).completed === 1);
      expect(await q.add('alert', 'e1', { n: 4 })).toBe(false);
      await sleep(50);
      expect(runs).toEqual(['e1:1']);
    });

    it('decides concurrent adds of one id: exactly one wins', async () => {
      const q = await queue();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => q.add('alert', 'same', i)));
      expect(results.filter((r) => r).length).toBe(1);
      expect((await q.counts()).waiting).toBe(1);
    });

    it('takes any string as an id and hands it back unchanged', async () => {
      const q = await queue();
      const ids = ['12345', 'anomaly:cpu{host="a:1"}:1700000000', '%3A', '%', 'ü ✓', 'x'.repeat(300)];
      const seen: string[] = [];
      for (const id of ids) expect(await q.add('x', id, id)).toBe(true);
      for (const id of ids) expect(await q.add('x', id, id)).toBe(false);
      q.process<string>('x', async (job) => {
        expect(job.data).toBe(job.id);
        seen.push(job.id);
      });
      await eventually(() => seen.length === ids.length);
      expect([...seen].sort()).toEqual([...ids].sort());
    });

    it('hands the handler its name, data (JSON round trip) and attempt 1', async () => {
      const q = await queue();
      const data = { event: { id: 'ev-1', labels: { host: 'db-1' }, score: 0.97, tags: ['a', 'b'], none: null } };
      const got: Job[] = [];
      q.process('intervention.event', async (job) => void got.push(job));
      await q.add('intervention.event', 'ev-1', data);
      await eventually(() => got.length === 1);
      expect(got[0]).toEqual({ id: 'ev-1', name: 'intervention.event', data, attempt: 1 });
    });

    it('runs each job name with its own handler; jobs of a name without a handler wait', async () => {
      const q = await queue();
      const a: string[] = [];
      const b: string[] = [];
      q.process('a', async (job) => void a.push(job.id));
      await q.add('a', 'a1', null);
      await q.add('b', 'b1', null);
      await q.add('a', 'a2', null);
      await eventually(() => a.length === 2);
      expect((await q.counts()).waiting).toBe(1);
      q.process('b', async (job) => void b.push(job.id));
      await eventually(() => b.length === 1);
      expect(a.sort()).toEqual(['a1', 'a2']);
      expect(b).toEqual(['b1']);
      expect(() => q.process('a', async () => undefined)).toThrow(ForeshockError);
    });

    it('retries a failing job with exponential backoff until it succeeds', async () => {
      const base = 30;
      const q = await queue({ attempts: 5, backoffBaseMs: base, backoffMaxMs: 10_000, random: () => 0.999 });
      const seen: { attempt: number; at: number }[] = [];
      q.process('deliver', async (job) => {
        seen.push({ attempt: job.attempt, at: performance.now() });
        if (job.attempt < 4) throw new Error('alertmanager down');
      });
      await q.add('deliver', 'j', null);
      await eventually(async () => (await q.counts()).completed === 1);
      expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3, 4]);
      // Caps base, 2·base, 4·base with jitter drawn near the cap.
      const gaps = [seen[1].at - seen[0].at, seen[2].at - seen[1].at, seen[3].at - seen[2].at];
      expect(gaps[0]).toBeGreaterThanOrEqual(base * 0.9);
      expect(gaps[1]).toBeGreaterThanOrEqual(2 * base * 0.9);
      expect(gaps[2]).toBeGreaterThanOrEqual(4 * base * 0.9);
      expect(await q.deadLetters(10)).toEqual([]);
      const c = await q.counts();
      expect(c.failed).toBe(0);
      expect(c.delayed).toBe(0);
    });

    it('draws the retry delay below the cap (full jitter) and never above backoffMaxMs', async () => {
      const q = await queue({ attempts: 4, backoffBaseMs: 10_000, backoffMaxMs: 60, random: () => 0.5 });
      const at: number[] = [];
      q.process('x', async () => {
        at.push(performance.now());
        throw new Error('no');
      });
      await q.add('x', 'j', null);
      await eventually(async () => (await q.counts()).failed === 1);
      // Every cap is clipped to 60 ms, and half of it is drawn: about 30 ms each.
      for (let i = 1; i < at.length; i++) {
        expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(25);
        expect(at[i] - at[i - 1]).toBeLessThan(1_000);
      }
    });

    it('counts a job waiting out its backoff as delayed', async () => {
      const q = await queue({ attempts: 2, backoffBaseMs: 400, backoffMaxMs: 400, random: () => 0.999 });
      let runs = 0;
      q.process('x', async () => {
        runs++;
        throw new Error('later');
      });
      await q.add('x', 'j', null);
      await eventually(async () => (await q.counts()).delayed === 1);
      expect(runs).toBe(1);
      await eventually(async () => (await q.counts()).failed === 1);
      expect(runs).toBe(2);
    });

    it('dead-letters a job after its attempts: newest first, with the error, and its id stays known', async () => {
      const q = await queue({ attempts: 2 });
      q.process('x', async (job: Job<number>) => {
        throw new Error(`boom ${job.data}`);
      });
      const t0 = Date.now();
      for (let i = 1; i <= 3; i++) {
        await q.add('x', `j${i}`, i);
        await eventually(async () => (await q.counts()).failed === i);
      }
      const dead = await q.deadLetters(10);
      expect(dead.map((d) => [d.job.id, d.job.name, d.job.data, d.job.attempt, d.error])).toEqual([
        ['j3', 'x', 3, 2, 'boom 3'],
        ['j2', 'x', 2, 2, 'boom 2'],
        ['j1', 'x', 1, 2, 'boom 1'],
      ]);
      for (const d of dead) {
        expect(d.failedAt).toBeGreaterThanOrEqual(t0 - 1_000);
        expect(d.failedAt).toBeLessThanOrEqual(Date.now() + 1_000);
      }
      expect((await q.deadLetters(2)).map((d) => d.job.id)).toEqual(['j3', 'j2']);
      expect(await q.deadLetters(0)).toEqual([]);
      expect(await q.add('x', 'j3', 3)).toBe(false);
      const c = await q.counts();
      expect([c.failed, c.completed, c.waiting, c.active, c.delayed]).toEqual([3, 0, 0, 0, 0]);
    });

    it('keeps the code of a coded error in the dead letter', async () => {
      const q = await queue({ attempts: 1 });
      q.process('x', async () => {
        throw new ForeshockError('FS_WEBHOOK_4XX', 'runbook webhook answered 403');
      });
      await q.add('x', 'j', null);
      await eventually(async () => (await q.counts()).failed === 1);
      expect((await q.deadLetters(1))[0].error).toBe('FS_WEBHOOK_4XX: runbook webhook answered 403');
    });

    it('honours a job-level attempts override and delayMs', async () => {
      const q = await queue({ attempts: 10 });
      const runs: number[] = [];
      const added = performance.now();
      q.process('x', async () => {
        runs.push(performance.now() - added);
        throw new Error('no');
      });
      await q.add('x', 'j', null, { attempts: 1, delayMs: 150 });
      expect((await q.counts()).delayed).toBe(1);
      await eventually(async () => (await q.counts()).failed === 1);
      expect(runs.length).toBe(1);
      expect(runs[0]).toBeGreaterThanOrEqual(140);
      expect((await q.deadLetters(1))[0].job.attempt).toBe(1);
    });

    it('refuses attempts that are not a positive integer', async () => {
      const q = await queue();
      await expect(q.add('x', 'j', null, { attempts: 0 })).rejects.toBeInstanceOf(ForeshockError);
      await expect(q.add('x', 'k', null, { attempts: 1.5 })).rejects.toBeInstanceOf(ForeshockError);
      expect(await q.add('x', 'j', null)).toBe(true);
    });

    it('runs at most `concurrency` jobs of a name at once, and counts them', async () => {
      const q = await queue();
      let running = 0;
      let peak = 0;
      for (let i = 0; i < 12; i++) await q.add('x', `j${i}`, i);
      expect((await q.counts()).waiting).toBe(12);
      q.process(
        'x',
        async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(60);
          running--;
        },
        { concurrency: 3 },
      );
      await eventually(async () => (await q.counts()).active === 3);
      const c = await q.counts();
      expect(c.active + c.waiting + c.completed).toBe(12);
      expect(c.waiting).toBeGreaterThanOrEqual(6);
      await eventually(async () => (await q.counts()).completed === 12);
      expect(peak).toBe(3);
      expect(await q.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 12 });
    });

    it('uses the default concurrency when process names none', async () => {
      const q = await queue({ concurrency: 2 });
      let running = 0;
      let peak = 0;
      q.process('x', async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(40);
        running--;
      });
      for (let i = 0; i < 6; i++) await q.add('x', `j${i}`, i);
      await eventually(async () => (await q.counts()).completed === 6);
      expect(peak).toBe(2);
    });

    it('close stops taking jobs and waits for the ones in flight', async () => {
      const q = await queue();
      const done: string[] = [];
      q.process(
        'x',
        async (job) => {
          await sleep(100);
          done.push(job.id);
        },
        { concurrency: 1 },
      );
      await q.add('x', 'a', null);
      await q.add('x', 'b', null);
      await eventually(async () => (await q.counts()).active === 1);
      await q.close();
      expect(done).toEqual(['a']);
      await sleep(150);
      expect(done).toEqual(['a']);
      await expect(q.add('x', 'c', null)).rejects.toMatchObject({ code: 'FS_QUEUE_CLOSED' });
      expect(() => q.process('y', async () => undefined)).toThrow(ForeshockError);
      await q.close();
    });

    it('close returns after closeTimeoutMs when a job hangs', async () => {
      const q = await queue({ closeTimeoutMs: 100 });
      q.process('stuck', () => new Promise<void>(() => {}));
      await q.add('stuck', 's', null);
      await eventually(async () => (await q.counts()).active === 1);
      const t0 = performance.now();
      await q.close();
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(90);
      expect(took).toBeLessThan(900);
    });

    it.skipIf(!capabilities.shared)('a second queue on the same backend sees the jobs: idempotency, counts, dead letters', async () => {
      const producer = await queue();
      const consumer = await queue({ attempts: 1 });
      expect(await producer.add('x', 'ok', 1)).toBe(true);
      expect(await producer.add('x', 'bad', 2)).toBe(true);
      expect(await consumer.add('x', 'ok', 1)).toBe(false);
      consumer.process<number>('x', async (job) => {
        if (job.data === 2) throw new Error('bad data');
      });
      await eventually(async () => {
        const c = await producer.counts();
        return c.completed === 1 && c.failed === 1;
      });
      expect((await producer.deadLetters(5)).map((d) => [d.job.id, d.error])).toEqual([['bad', 'bad data']]);
    });
  });
}
