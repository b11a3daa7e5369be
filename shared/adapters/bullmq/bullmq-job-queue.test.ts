// Pure parts of the BullMQ adapter; the adapter itself runs against Redis in test/adapters/.

import { describe, expect, it } from 'vitest';
import { BullMqJobQueue, backoffDelayMs } from './bullmq-job-queue.js';

describe('backoffDelayMs', () => {
  it('doubles the cap per failure from the base, clips it at the max, and draws below it', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7].map((f) => backoffDelayMs(f, 1_000, 60_000, top))).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999]);
    expect(backoffDelayMs(200, 1_000, 60_000, top)).toBe(59_999);
    expect(backoffDelayMs(3, 1_000, 60_000, () => 0)).toBe(0);
    expect(backoffDelayMs(3, 1_000, 60_000, () => 0.5)).toBe(2_000);
  });
});

describe('BullMqJobQueue options', () => {
  it('refuses bad options before connecting, with FS_QUEUE_OPTIONS', () => {
    for (const bad of [{ attempts: 0 }, { concurrency: 1.5 }, { deadLetterMax: 0 }, { completedRetentionMs: 0 }, { limiter: { max: 0, durationMs: 1 } }, { prefix: '' }]) {
      expect(() => new BullMqJobQueue(bad)).toThrow(expect.objectContaining({ code: 'FS_QUEUE_OPTIONS' }));
    }
  });
});
