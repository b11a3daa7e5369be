// Pins the engine's statistics to direct recomputations: the rolling window against
// simple-statistics, the EWMA against its explicit weighted sums, Holt against a worked example.

import fc from 'fast-check';
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { DetectorEngine, resolveDetectorParams, type DetectorParams } from './index.js';

const T0 = Date.UTC(2025, 0, 1);
const STEP = 15_000;

/** Deterministic PRNG (mulberry32) → uniform [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/**
 * simple-statistics on values shifted by their first one (exact for nearby doubles), so the
 * reference itself does not lose the noise of a series sitting at 1e12.
 */
function reference(xs: number[]): { mean: number; sd: number } {
  const c = xs[0];
  const d = xs.map((v) => v - c);
  return { mean: c + mean(d), sd: d.length > 1 ? sampleStandardDeviation(d) : 0 };
}

/** No baseline protection and no alerts: the statistics see the raw values. */
function rawParams(over: Partial<DetectorParams> = {}): DetectorParams {
  return resolveDetectorParams({ clipK: Infinity, warmupSamples: 65_000, ...over });
}

describe('rolling window', () => {
  it('matches simple-statistics on random data, including large offsets', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          offset: fc.constantFrom(0, 1e3, -5e8, 1e9, 1.7e12),
          scale: fc.constantFrom(1e-3, 1, 1e4),
          n: fc.integer({ min: 1, max: 400 }),
          window: fc.constantFrom(4, 16, 64, 100),
        }),
        ({ seed, offset, scale, n, window }) => {
          const r = rng(seed);
          const engine = new DetectorEngine([rawParams({ window })], { chunkShift: 4 });
          const slot = engine.allocSlot();
          const xs: number[] = [];
          const out = new Float64Array(3);
          for (let i = 0; i < n; i++) {
            const x = offset + scale * gaussian(r);
            const prev = xs.slice(-window);
            engine.update(slot, T0 + i * STEP, x);
            xs.push(x);
            // z of each sample is against the window before it
            if (prev.length >= 3) {
              const ref = reference(prev);
              const floor = 1e-3 * Math.abs(engine.outExpected) + 1e-6;
              const z = (x - ref.mean) / Math.max(ref.sd, floor);
              expect(Math.abs(engine.outZ - z)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(z)));
            }
          }
          const last = xs.slice(-window);
          engine.windowStats(slot, out);
          expect(out[2]).toBe(last.length);
          const { mean: m, sd } = reference(last);
          // Float32 ring values relative to an anchor: error ~1e-7 of the window's spread (plus
          // the last bits of a double at the offset)
          expect(Math.abs(out[0] - m)).toBeLessThanOrEqual(1e-5 * sd + 4 * Number.EPSILON * Math.abs(offset) + 1e-12);
          if (last.length > 1) expect(Math.abs(out[1] - sd)).toBeLessThanOrEqual(1e-5 * sd + 1e-12);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('does not drift over a long run that climbs from 0 to 1e9', () => {
    const W = 64;
    const engine = new DetectorEngine([rawParams({ window: W })]);
    const slot = engine.allocSlot();
    const r = rng(3);
    const xs: number[] = [];
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const x = (1e9 * i) / n + gaussian(r);
      engine.update(slot, T0 + i * STEP, x);
      xs.push(x);
    }
    const last = xs.slice(-W);
    const out = new Float64Array(3);
    engine.windowStats(slot, out);
    const { mean: m, sd } = reference(last);
    expect(Math.abs(out[0] - m) / sd).toBeLessThan(1e-5);
    expect(Math.abs(out[1] - sd) / sd).toBeLessThan(1e-5);
  });
});

describe('EWMA', () => {
  it('equals the explicit exponentially weighted mean and variance', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          alpha: fc.constantFrom(0.01, 0.05, 0.3, 1),
          offset: fc.constantFrom(0, 1e6, 1e9),
          n: fc.integer({ min: 1, max: 300 }),
        }),
        ({ seed, alpha, offset, n }) => {
          const r = rng(seed);
          const engine = new DetectorEngine([rawParams({ ewmaAlpha: alpha })]);
          const slot = engine.allocSlot();
          const xs: number[] = [];
          for (let i = 0; i < n; i++) {
            const x = offset + 10 * gaussian(r);
            engine.update(slot, T0 + i * STEP, x);
            xs.push(x);
          }
          // weights: sample k (1-based) enters with a_k = max(α, 1/k) and decays by (1 − a_j) after
          const a = xs.map((_, k) => Math.max(alpha, 1 / (k + 1)));
          const w = xs.map((_, k) => {
            let wk = a[k];
            for (let j = k + 1; j < xs.length; j++) wk *= 1 - a[j];
            return wk;
          });
          const m = xs.reduce((s, x, k) => s + w[k] * x, 0);
          const v = xs.reduce((s, x, k) => s + w[k] * (x - m) ** 2, 0);
          const out = new Float64Array(2);
          engine.ewmaStats(slot, out);
          expect(Math.abs(out[0] - m)).toBeLessThanOrEqual(1e-9 * (Math.abs(m) + 10));
          expect(Math.abs(out[1] - v)).toBeLessThanOrEqual(1e-7 * (v + 1e-6) + 1e-16 * offset * offset);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports the control band the sample was judged against', () => {
    const engine = new DetectorEngine([rawParams({ ewmaAlpha: 0.5, bandK: 2 })]);
    const slot = engine.allocSlot();
    engine.update(slot, T0, 10);
    engine.update(slot, T0 + STEP, 14); // m = 12, v = (1 − ½)(0 + ½·16) = 4
    engine.update(slot, T0 + 2 * STEP, 20);
    expect(engine.outExpected).toBe(12);
    expect(engine.outLower).toBeCloseTo(12 - 2 * 2, 12);
    expect(engine.outUpper).toBeCloseTo(12 + 2 * 2, 12);
    expect(engine.outValue).toBe(20);
  });
});

describe('Holt', () => {
  // α = β = ½, φ = 1, residual α = ½; samples at 0, 10, 20, 40 (a missed sample) and 50 s.
  //  1. x=10    ℓ = 10, b = 0
  //  2. x=12    Δt=10: ℓ = 12, b = (12 − 10)/10 = 0.2 /s                         (trend from the first pair)
  //  3. x=15    Δt=10: forecast 12 + 0.2·10 = 14, e = 1;   σr² = 1 (first residual)
  //             ℓ = 14 + ½·1 = 14.5;     b = 0.2 + ¼·1/10 = 0.225
  //  4. x=19.5  Δt=20: forecast 14.5 + 0.225·20 = 19, e = 0.5; σr² = 1 + ½(0.25 − 1) = 0.625
  //             ℓ = 19 + ½·0.5 = 19.25;  b = 0.225 + ¼·0.5/20 = 0.23125
  //  5. x=18    Δt=10: forecast 19.25 + 0.23125·10 = 21.5625, e = −3.5625
  //             σr² = 0.625 + ½(12.69140625 − 0.625) = 6.658203125
  //             ℓ = 21.5625 − ½·3.5625 = 19.78125; b = 0.23125 − ¼·3.5625/10 = 0.1421875
  //  mean interval: 10 s, then 10 + 0.1·(20 − 10) = 11 s, then 11 + 0.1·(10 − 11) = 10.9 s
  const steps: [number, number][] = [[0, 10], [10, 12], [20, 15], [40, 19.5], [50, 18]];
  const params = rawParams({ holtAlpha: 0.5, holtBeta: 0.5, holtPhi: 1, residualAlpha: 0.5, sdFloorRel: 0, sdFloorAbs: 1e-9 });

  function run(): { engine: DetectorEngine; slot: number } {
    const engine = new DetectorEngine([params]);
    const slot = engine.allocSlot();
    for (const [s, x] of steps) engine.update(slot, T0 + s * 1000, x);
    return { engine, slot };
  }

  it('follows the worked example step by step', () => {
    const engine = new DetectorEngine([params]);
    const slot = engine.allocSlot();
    const out = new Float64Array(4);
    const expected: [number, number, number][] = [[10, 0, 0], [12, 0.2, 0], [14.5, 0.225, 1], [19.25, 0.23125, 0.625], [19.78125, 0.1421875, 6.658203125]];
    steps.forEach(([s, x], i) => {
      engine.update(slot, T0 + s * 1000, x);
      engine.holtStats(slot, out);
      expect(out[0]).toBeCloseTo(expected[i][0], 12);
      expect(out[1]).toBeCloseTo(expected[i][1], 12);
      expect(out[2]).toBeCloseTo(expected[i][2], 12);
      expect(engine.outTrendPerS).toBeCloseTo(expected[i][1], 12);
    });
    expect(out[3]).toBeCloseTo(10_900, 3);
  });

  it('forecasts level + trend·horizon with the ETS(A,A,N) interval', () => {
    const { engine, slot } = run();
    const out = new Float64Array(3);
    // three mean intervals ahead: h = 3, variance factor 1 + (α + αβ)² + (α + 2αβ)² = 1 + 0.75² + 1² = 2.5625
    const horizon = 3 * 10_900;
    engine.forecast(slot, horizon, out);
    const mean3 = 19.78125 + 0.1421875 * (horizon / 1000);
    const half = 1.96 * Math.sqrt(6.658203125 * 2.5625);
    expect(out[0]).toBeCloseTo(mean3, 9);
    expect(out[1]).toBeCloseTo(mean3 - half, 6);
    expect(out[2]).toBeCloseTo(mean3 + half, 6);
  });

  it('predicts when a straight line crosses a threshold, and NaN when it heads away', () => {
    const engine = new DetectorEngine([rawParams()]);
    const slot = engine.allocSlot();
    let t = T0;
    for (let i = 0; i < 50; i++) {
      t = T0 + i * STEP;
      engine.update(slot, t, 100 + 0.5 * (i * 15)); // +0.5 per second, exactly
    }
    const last = 100 + 0.5 * (49 * 15);
    const out = new Float64Array(3);
    engine.timeToThreshold(slot, 1000, out);
    const expected = t + ((1000 - last) / 0.5) * 1000;
    expect(out[0]).toBeCloseTo(expected, 0);
    expect(out[1]).toBeLessThanOrEqual(out[0]);
    expect(out[2]).toBeGreaterThanOrEqual(out[0]);
    expect(out[2] - out[1]).toBeLessThan(60_000); // a noiseless line: a narrow interval
    engine.timeToThreshold(slot, 0, out); // below and the line rises
    expect(out[0]).toBeNaN();
    expect(out[1]).toBeNaN();
    engine.timeToThreshold(slot, 1e12, out); // beyond the 7-day cap
    expect(out[0]).toBeNaN();
  });
});

describe('score', () => {
  it('is 0.5 at d = scoreScale and high but finite when a flat series changes once', () => {
    const flat = (delta: number) => {
      const engine = new DetectorEngine([rawParams()]);
      const slot = engine.allocSlot();
      for (let i = 0; i < 40; i++) engine.update(slot, T0 + i * STEP, 100);
      engine.update(slot, T0 + 40 * STEP, 100 + delta);
      return engine;
    };
    const floor = 1e-3 * 100 + 1e-6; // every σ is 0 and floored
    const half = flat(2.6 * floor);
    expect(half.outScore).toBeCloseTo(0.5, 9);
    const jump = flat(1);
    expect(jump.outScore).toBeGreaterThan(0.99);
    expect(jump.outScore).toBeLessThan(1);
    expect(Number.isFinite(jump.outZ)).toBe(true);
    expect(jump.outZ).toBeCloseTo(1 / floor, 6);
  });

  it('stays in [0, 1] and rises with the deviation', () => {
    let prev = -1;
    for (const delta of [0.2, 0.3, 0.5, 1, 10, 1e6, 1e20]) {
      const engine = new DetectorEngine([rawParams()]);
      const slot = engine.allocSlot();
      for (let i = 0; i < 40; i++) engine.update(slot, T0 + i * STEP, 100 + (i % 2 === 0 ? 0.05 : -0.05));
      engine.update(slot, T0 + 40 * STEP, 100 + delta);
      expect(engine.outScore).toBeGreaterThanOrEqual(0);
      expect(engine.outScore).toBeLessThanOrEqual(1);
      expect(engine.outScore).toBeGreaterThanOrEqual(prev);
      prev = engine.outScore;
    }
  });
});
