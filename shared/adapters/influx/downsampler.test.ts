import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../ports/index.js';
import { Downsampler } from './downsampler.js';

const MIN = 60_000;

function score(series: string, ts: number, s: number, z: number): MetricPoint {
  return { measurement: 'foreshock_score', tags: { series, host: 'h1' }, fields: { score: s, z }, ts };
}

function collect(): { out: MetricPoint[]; emit: (p: MetricPoint) => void } {
  const out: MetricPoint[] = [];
  return { out, emit: (p) => out.push(p) };
}

describe('Downsampler', () => {
  it('writes one point per series and interval: max of max-fields, newest of the others, stamped with the interval start', () => {
    const d = new Downsampler(MIN, ['score']);
    const { out, emit } = collect();
    const t0 = 10 * MIN;
    d.add(score('a', t0 + 5_000, 0.2, 1), emit);
    d.add(score('a', t0 + 20_000, 0.9, 4), emit);
    d.add(score('a', t0 + 40_000, 0.3, 2), emit);
    d.add(score('b', t0 + 1_000, 0.5, 3), emit);
    expect(out).toEqual([]);
    // The next interval of `a` closes the first one.
    d.add(score('a', t0 + MIN + 1, 0.1, 0.5), emit);
    expect(out).toEqual([{ measurement: 'foreshock_score', tags: { series: 'a', host: 'h1' }, fields: { score: 0.9, z: 2 }, ts: t0 }]);
    // `b` ended by event time (watermark t0 + 1 min): the tick emits it, `a`'s open interval stays.
    d.tick(emit);
    expect(out.slice(1)).toEqual([{ measurement: 'foreshock_score', tags: { series: 'b', host: 'h1' }, fields: { score: 0.5, z: 3 }, ts: t0 }]);
    d.drain(emit);
    expect(out.slice(2)).toEqual([{ measurement: 'foreshock_score', tags: { series: 'a', host: 'h1' }, fields: { score: 0.1, z: 0.5 }, ts: t0 + MIN }]);
  });

  it('re-emits an interval that changed after it was emitted, so the rewrite overwrites it with the whole interval', () => {
    const d = new Downsampler(MIN, ['score']);
    const { out, emit } = collect();
    d.add(score('a', 5_000, 0.4, 1), emit);
    d.drain(emit);
    d.add(score('a', 50_000, 0.2, 7), emit);
    d.drain(emit);
    expect(out.map((p) => [p.ts, p.fields])).toEqual([
      [0, { score: 0.4, z: 1 }],
      [0, { score: 0.4, z: 7 }],
    ]);
  });

  it('drops points older than the interval their series reached, and forgets idle series', () => {
    const d = new Downsampler(MIN, ['score']);
    const { out, emit } = collect();
    d.add(score('a', 2 * MIN, 0.4, 1), emit);
    d.add(score('a', MIN - 1, 0.9, 1), emit);
    expect(d.stats.late).toBe(1);
    d.add(score('b', 5 * MIN, 0.1, 1), emit);
    d.tick(emit); // emits a (ended), b still open
    d.tick(emit); // a: clean and untouched since the last tick: forgotten
    expect(d.size).toBe(1);
    expect(out.map((p) => p.tags.series)).toEqual(['a']);
  });

  it('interval 0 passes points through; NaN fields are left out', () => {
    const d = new Downsampler(0, ['score']);
    const { out, emit } = collect();
    const p = score('a', 1, 0.5, 1);
    d.add(p, emit);
    expect(out).toEqual([p]);
    const d2 = new Downsampler(MIN, ['score']);
    d2.add(score('a', 1, NaN, 2), emit);
    d2.add(score('a', 2, 0.3, NaN), emit);
    d2.drain(emit);
    expect(out[1].fields).toEqual({ score: 0.3, z: 2 });
  });

  it('matches a direct per-interval recomputation on random points (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ s: fc.constantFrom('a', 'b', 'c'), dt: fc.integer({ min: 0, max: 50_000 }), score: fc.double({ min: 0, max: 1, noNaN: true }), z: fc.double({ min: -10, max: 10, noNaN: true }), tick: fc.integer({ min: 0, max: 19 }) }), { maxLength: 200 }),
        (steps) => {
          const d = new Downsampler(MIN, ['score']);
          const { out, emit } = collect();
          const now: Record<string, number> = { a: 0, b: 0, c: 0 };
          const idle: Record<string, boolean> = { a: false, b: false, c: false };
          const expected = new Map<string, { score: number; z: number }>();
          for (const st of steps) {
            now[st.s] += st.dt; // per-series time only moves forward: nothing is late
            // A series idle across a tick may be forgotten (by design: idle series cost
            // nothing), and a point for a forgotten interval starts it over; the contract is
            // for series that come back in a new interval (see the forgetting test above).
            if (idle[st.s]) now[st.s] += MIN - (now[st.s] % MIN);
            idle[st.s] = false;
            d.add(score(st.s, now[st.s], st.score, st.z), emit);
            const k = `${st.s}@${now[st.s] - (now[st.s] % MIN)}`;
            const e = expected.get(k);
            expected.set(k, { score: Math.max(e?.score ?? -Infinity, st.score), z: st.z });
            if (st.tick === 0) {
              d.tick(emit);
              for (const k of Object.keys(idle)) if (k !== st.s) idle[k] = true;
            }
          }
          d.drain(emit);
          // The last emission of each interval is the whole interval.
          const got = new Map<string, { score: number; z: number }>();
          for (const p of out) got.set(`${p.tags.series}@${p.ts}`, p.fields as { score: number; z: number });
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
