// The fill run of a series with a breach threshold: the current run of consecutive steps
// towards the threshold (a disk filling, memory leaking), with the mean and spread of its
// step rates. Holt's trend learns a new slope over tens of samples and its interval widens
// like h^1.5, so a filesystem filled in three minutes at 15 s scrapes is full before Holt is
// confident; the run knows the rate after three steps. It predicts a breach when even the
// slow edge of its rate (mean − z·standard error) gets there, and only as far ahead as eight
// times the run has lasted (a burst of thirty seconds says nothing about tomorrow).
//
// Free functions over the record (layout.ts line 5), called per sample for breach profiles
// only: a handful of additions, no allocation.

import * as layout from './layout.js';

const { F_RUN_T0, S_RUN_MEAN, S_RUN_M2, H_RUN_N } = layout;

/** Steps a run needs before it predicts. */
const MIN_STEPS = 3;
/** How far ahead, in multiples of the run's own duration, its rate is believed. */
const REACH = 8;

/**
 * Adds the step from `prevX` (at `prevT`) to `x` (at `t`) in direction `dir` (+1 towards a
 * threshold above, −1 below): a step towards the threshold extends the run, any other ends it.
 */
export function fillRunAdd(f64: Float64Array, f32: Float32Array, u16: Uint16Array, b: number, dir: number, prevT: number, prevX: number, t: number, x: number): void {
  const b4 = b * 2;
  const b2 = b * 4;
  const dtS = (t - prevT) * 0.001;
  const rate = dtS > 0 ? (dir * (x - prevX)) / dtS : 0;
  if (!(rate > 0)) {
    u16[b2 + H_RUN_N] = 0;
    return;
  }
  let n = u16[b2 + H_RUN_N];
  if (n === 0) {
    f64[b + F_RUN_T0] = prevT;
    f32[b4 + S_RUN_MEAN] = 0;
    f32[b4 + S_RUN_M2] = 0;
  }
  if (n < 65_535) n++;
  const mean = f32[b4 + S_RUN_MEAN];
  const d = rate - mean;
  const m = mean + d / n;
  f32[b4 + S_RUN_MEAN] = m;
  f32[b4 + S_RUN_M2] = f32[b4 + S_RUN_M2] + d * (rate - m);
  u16[b2 + H_RUN_N] = n;
}

/**
 * Time (ms ahead of `t`) the run reaches `threshold` from `x` at its slow edge (mean rate −
 * z·standard error), or NaN when the run is too short, its slow edge does not head there, or
 * the crossing lies beyond what the run's duration vouches for. `out[0..2]`, when given, gets
 * [expected, earliest, latest] crossing times (ms since the epoch).
 */
export function fillRunCrossing(f64: Float64Array, f32: Float32Array, u16: Uint16Array, b: number, dir: number, t: number, x: number, threshold: number, z: number, out?: Float64Array): number {
  const n = u16[b * 4 + H_RUN_N];
  if (n < MIN_STEPS) return NaN;
  const mean = f32[b * 2 + S_RUN_MEAN];
  const se = Math.sqrt(f32[b * 2 + S_RUN_M2] / (n - 1) / n);
  const slow = mean - z * se;
  const gap = dir * (threshold - x);
  if (!(slow > 0) || !(gap > 0)) return NaN;
  const aheadMs = (gap / slow) * 1000;
  if (aheadMs > REACH * (t - f64[b + F_RUN_T0])) return NaN;
  if (out !== undefined) {
    out[0] = t + (gap / mean) * 1000;
    out[1] = t + (gap / (mean + z * se)) * 1000;
    out[2] = t + aheadMs;
  }
  return aheadMs;
}
