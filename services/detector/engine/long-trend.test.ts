import { describe, expect, it } from 'vitest';
import { LT_F32, LT_F64, longTrendAdd, longTrendLine, longTrendReset, longTrendSdFactor } from './long-trend.js';

const MIN = 60_000;
const BLOCK = 10 * MIN;

function state() {
  const f64 = new Float64Array(LT_F64 + 3);
  const f32 = new Float32Array(LT_F32 + 1);
  // offsets ≠ 0, so a test catches an absolute index
  longTrendReset(f64, 3, f32, 1);
  return { f64, f32, o: 3, o32: 1 };
}

/** Deterministic PRNG (mulberry32) and a normal deviate from it. */
function rng(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { u, normal: () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()) };
}

describe('long trend (block means on an exponentially weighted line)', () => {
  it('recovers an exact line, even for values in the billions', () => {
    for (const [base, perMin] of [[100, 0.5], [6e9, 2e6], [0.6, -1e-4]] as const) {
      const s = state();
      const t0 = 1_700_000_000_000;
      let t = t0;
      for (let i = 0; i < 12 * 60 * 4; i++, t += 15_000) longTrendAdd(s.f64, s.o, s.f32, s.o32, t, base + (perMin * (t - t0)) / MIN, BLOCK, Math.exp(-BLOCK / (6 * 3_600_000)));
      const out = new Float64Array(4);
      expect(longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, t, out)).toBe(true);
      // The level at t is the line's value there, up to half a sample interval: a block's
      // samples (at 0, 15, …, 585 s of it) average at 292.5 s, not at the block's centre.
      expect(Math.abs(out[0] - (base + (perMin * (t - t0)) / MIN))).toBeLessThanOrEqual(Math.abs(perMin) * (7.5 / 60) * 1.0001);
      // (the first block is partial, its samples off its centre: a slope bias of ~1e-4)
      expect(Math.abs(out[1] * MIN - perMin)).toBeLessThan(Math.abs(perMin) * 1e-3);
      // error about the line: under 1 % of one block's rise (what is left of the partial first block)
      expect(out[2]).toBeLessThan(Math.abs(perMin) * 10 * 0.01);
    }
  });

  it('matches a weighted least-squares fit computed directly, across gaps', () => {
    const r = rng(7);
    const lambda = Math.exp(-BLOCK / (3 * 3_600_000));
    const s = state();
    const means: { block: number; mean: number }[] = [];
    let cur = -1;
    let sum = 0;
    let n = 0;
    let t = 1_700_000_400_000;
    for (let i = 0; i < 3000; i++) {
      // 15 s steps, with an hour-long gap now and then (a scrape outage)
      t += i % 700 === 699 ? 3_600_000 : 15_000;
      const y = 50 + (t / MIN) * 0.01 + 3 * r.normal();
      longTrendAdd(s.f64, s.o, s.f32, s.o32, t, y, BLOCK, lambda);
      const block = Math.floor(t / BLOCK);
      if (block !== cur) {
        if (n > 0) means.push({ block: cur, mean: sum / n });
        cur = block;
        sum = 0;
        n = 0;
      }
      sum += y;
      n++;
    }
    // direct fit: weight λ^(age in blocks) relative to the open block `cur`
    let s0 = 0, s1 = 0, s2 = 0, sy = 0, sty = 0;
    for (const m of means) {
      const x = m.block - cur;
      const w = Math.pow(lambda, -x);
      s0 += w;
      s1 += w * x;
      s2 += w * x * x;
      sy += w * m.mean;
      sty += w * x * m.mean;
    }
    const tbar = s1 / s0;
    const slope = (sty - tbar * sy) / (s2 - s1 * tbar);
    const a = sy / s0 - slope * tbar;
    const out = new Float64Array(4);
    expect(longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, cur * BLOCK + BLOCK / 2, out)).toBe(true);
    expect(out[0]).toBeCloseTo(a, 9);
    expect(out[1] * BLOCK).toBeCloseTo(slope, 9);
    expect(out[3]).toBeCloseTo(s0, 9);
    // the interval widens with distance from the data's centre of weight
    const near = longTrendSdFactor(s.f64, s.o, BLOCK, t, 0);
    const far = longTrendSdFactor(s.f64, s.o, BLOCK, t, 12 * 3_600_000);
    expect(near).toBeGreaterThan(1);
    expect(far).toBeGreaterThan(1.5 * near);
  });

  it('stays silent until it has an hour of blocks and a measured error', () => {
    const s = state();
    const out = new Float64Array(4);
    let t = 0;
    for (let i = 0; i < 4 * 40; i++, t += 15_000) longTrendAdd(s.f64, s.o, s.f32, s.o32, t, i, BLOCK, 0.97);
    expect(longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, t, out)).toBe(false);
    for (let i = 0; i < 6 * 40; i++, t += 15_000) longTrendAdd(s.f64, s.o, s.f32, s.o32, t, i, BLOCK, 0.97);
    expect(longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, t, out)).toBe(true);
    longTrendReset(s.f64, s.o, s.f32, s.o32);
    expect(longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, t, out)).toBe(false);
  });

  it('measures noise about the line as its one-block-ahead error', () => {
    const r = rng(3);
    const s = state();
    let t = 0;
    for (let i = 0; i < 40 * 200; i++, t += 15_000) longTrendAdd(s.f64, s.o, s.f32, s.o32, t, 10 + 4 * r.normal(), BLOCK, Math.exp(-1 / 36));
    const out = new Float64Array(4);
    longTrendLine(s.f64, s.o, s.f32, s.o32, BLOCK, t, out);
    // σ of a 40-sample block mean is 4/√40 ≈ 0.63; the line's own error adds a little
    expect(out[2]).toBeGreaterThan(0.45);
    expect(out[2]).toBeLessThan(0.95);
    expect(Math.abs(out[1] * 3_600_000)).toBeLessThan(0.5);
  });
});
