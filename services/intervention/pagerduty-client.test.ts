import { describe, expect, it } from 'vitest';
import { PAGERDUTY_DEDUP_KEY_MAX, SlidingWindowLimiter, dedupKeyOf, pagerDutySeverity, truncate } from './pagerduty-client.js';

describe('pagerduty helpers', () => {
  it('keeps dedup keys stable and within 255 characters', () => {
    expect(dedupKeyOf('anomaly:cpu{host="a"}')).toBe('foreshock/anomaly:cpu{host="a"}');
    const long = 'anomaly:' + 'x'.repeat(400);
    expect(dedupKeyOf(long)).toBe(dedupKeyOf(long));
    expect(dedupKeyOf(long).length).toBeLessThanOrEqual(PAGERDUTY_DEDUP_KEY_MAX);
    expect(dedupKeyOf(long)).not.toBe(dedupKeyOf(long + 'y'));
  });

  it('maps severities and truncates by characters', () => {
    expect(pagerDutySeverity('critical')).toBe('critical');
    expect(pagerDutySeverity('warning')).toBe('warning');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
    expect(Array.from(truncate('😀'.repeat(2000), 1024))).toHaveLength(1024);
  });
});

describe('SlidingWindowLimiter', () => {
  it('lets max through per window and per key, then waits for the oldest to age out', async () => {
    let now = 0;
    const lim = new SlidingWindowLimiter(2, 1000, () => now);
    const got: string[] = [];
    for (const k of ['a', 'a', 'b', 'a']) void lim.acquire(k).then(() => got.push(`${k}@${now}`));
    await new Promise((r) => setTimeout(r, 20));
    expect([...got].sort()).toEqual(['a@0', 'a@0', 'b@0']); // the third 'a' waits
    now = 1000;
    await new Promise((r) => setTimeout(r, 1100));
    expect(got[3]).toBe('a@1000');
  });

  it('counts a request from when it finished (settle)', async () => {
    let now = 0;
    const lim = new SlidingWindowLimiter(1, 1000, () => now);
    const settle = await lim.acquire('k');
    now = 400;
    settle(); // the request took 400 ms
    now = 1100;
    let second = false;
    void lim.acquire('k').then(() => (second = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false); // 1100 - 400 < 1000
    now = 1400;
    await new Promise((r) => setTimeout(r, 350));
    expect(second).toBe(true);
  });
});
