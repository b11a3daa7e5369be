// Long-horizon trend of a series with a breach threshold: "the disk is full in 9 hours", said
// hours ahead, where the per-sample Holt forecast (15 s steps, an interval that grows like
// h^1.5) can only speak with confidence about the next hour.
//
// Samples are averaged into blocks of `blockMs` (10 min by default); each closed block mean is
// one point of an exponentially weighted least-squares line (weight λ = exp(−blockMs/windowMs)
// per block of age, so the line looks back about `windowMs`, 6 h by default) — the streaming
// form of Prometheus's `predict_linear(x[6h], …)`. Per sample the work is a comparison and two
// additions; the fit runs once per block.
//
// Prediction interval at τ blocks from now (t̄, Sxx of the weighted times, S0 = Σw):
//   ŷ(τ) = a + b·τ,   sd(τ) = σ · √(1 + 1/S0 + (τ − t̄)² / Sxx)
// where σ² is the EWMA of the squared one-block-ahead errors of the line (out of sample, so
// curvature the line cannot follow widens the interval instead of being trusted).
//
// Coordinates: t = 0 is the block being filled; a closed block k blocks ago sits at t = −k.
// Values are stored relative to an anchor (the last closed block's mean) so that sums of
// large values (bytes) keep their precision; both origins move at every block close by
// shifting the sums, never by recomputing them.
//
// The signed errors are averaged too (faster): when a trend stops — a leak fixed, a disk
// cleaned — the line keeps climbing past the data, the recent errors turn one-sided, and
// `longTrendBent` says so within a few blocks, long before the weights forget the old slope.
//
// State: eight f64 at `o` (LT_* below) and four f32 at `o32` (block count, residual variance,
// errors measured, bias). All zero is the fresh state (a newly allocated record).

/** f64 offsets from the series' long-trend base. */
export const LT_BLOCK_START = 0; // start of the block being filled (ms)
export const LT_BLOCK_SUM = 1; // Σ values in that block (relative to LT_ANCHOR)
export const LT_S0 = 2; // Σw
export const LT_S1 = 3; // Σw·t
export const LT_S2 = 4; // Σw·t²
export const LT_SY = 5; // Σw·y
export const LT_STY = 6; // Σw·t·y
export const LT_ANCHOR = 7; // y is stored as value − anchor
export const LT_F64 = 8;
/** f32 offsets from the series' long-trend f32 base. */
export const LT_BLOCK_N = 0; // samples in the block being filled; 0: no sample yet
export const LT_RES_VAR = 1; // EWMA of squared one-block-ahead errors
export const LT_ERRORS = 2; // errors measured (saturating at 2^24); 0: LT_RES_VAR means nothing yet
export const LT_BIAS = 3; // EWMA of the signed one-block-ahead errors (is the line still right?)
export const LT_F32 = 4;

/** Closed blocks needed before the line is used (with the default 10 min blocks: 1 h). */
export const LT_MIN_BLOCKS = 6;
/** Weight of the newest squared error in the residual variance. */
const RES_ALPHA = 0.1;
/** Weight of the newest signed error in the bias. */
const BIAS_ALPHA = 0.3;

/** Forget everything (a new series, or a change in what is being averaged). */
export function longTrendReset(f64: Float64Array, o: number, f32: Float32Array, o32: number): void {
  f64.fill(0, o, o + LT_F64);
  f32.fill(0, o32, o32 + LT_F32);
}

/**
 * Adds one sample (value `y` at event time `t`, ms, in time order). Returns true when the
 * sample closed a block (the line changed). `lambda` = exp(−blockMs/windowMs).
 */
export function longTrendAdd(f64: Float64Array, o: number, f32: Float32Array, o32: number, t: number, y: number, blockMs: number, lambda: number): boolean {
  if (f32[o32 + LT_BLOCK_N] === 0) {
    // first sample: anchor at it
    f64[o + LT_ANCHOR] = y;
    f64[o + LT_BLOCK_START] = t - (t % blockMs);
    f64[o + LT_BLOCK_SUM] = 0;
    f32[o32 + LT_BLOCK_N] = 1;
    return false;
  }
  const anchor = f64[o + LT_ANCHOR];
  const start = f64[o + LT_BLOCK_START];
  if (t < start + blockMs) {
    f64[o + LT_BLOCK_SUM] += y - anchor;
    f32[o32 + LT_BLOCK_N] += 1;
    return false;
  }
  closeBlock(f64, o, f32, o32, Math.floor((t - start) / blockMs), lambda);
  f64[o + LT_BLOCK_START] = t - (t % blockMs);
  f64[o + LT_BLOCK_SUM] = y - f64[o + LT_ANCHOR];
  f32[o32 + LT_BLOCK_N] = 1;
  return true;
}

/** Closes the block being filled; the next one starts `k` ≥ 1 blocks after it. */
function closeBlock(f64: Float64Array, o: number, f32: Float32Array, o32: number, k: number, lambda: number): void {
  const n = f32[o32 + LT_BLOCK_N];
  const mean = n > 0 ? f64[o + LT_BLOCK_SUM] / n : 0; // relative to the anchor
  let s0 = f64[o + LT_S0];
  let s1 = f64[o + LT_S1];
  let s2 = f64[o + LT_S2];
  let sy = f64[o + LT_SY];
  let sty = f64[o + LT_STY];
  // One-block-ahead error of the line so far, at the closed block (t = 0 before the shift).
  if (s0 >= LT_MIN_BLOCKS - 1) {
    const tbar = s1 / s0;
    const sxx = s2 - s1 * tbar;
    if (sxx > 0) {
      const slope = (sty - tbar * sy) / sxx;
      const e = mean - (sy / s0 - slope * tbar);
      const seen = f32[o32 + LT_ERRORS];
      const v = f32[o32 + LT_RES_VAR];
      f32[o32 + LT_RES_VAR] = seen > 0 ? v + RES_ALPHA * (e * e - v) : e * e;
      const bias = f32[o32 + LT_BIAS];
      f32[o32 + LT_BIAS] = seen > 0 ? bias + BIAS_ALPHA * (e - bias) : e;
      if (seen < 16_777_216) f32[o32 + LT_ERRORS] = seen + 1;
    }
  }
  // Add the closed block at t = 0, then move the origin k blocks on (t → t − k) and age the
  // weights by k blocks.
  s0 += 1;
  sy += mean;
  const s1k = s1 - k * s0;
  s2 = s2 - 2 * k * s1 + k * k * s0;
  sty = sty - k * sy;
  s1 = s1k;
  const w = k === 1 ? lambda : Math.pow(lambda, k);
  s0 *= w;
  s1 *= w;
  s2 *= w;
  sy *= w;
  sty *= w;
  // Re-anchor at the closed block's mean: y' = y − mean.
  sy -= mean * s0;
  sty -= mean * s1;
  f64[o + LT_ANCHOR] += mean;
  f64[o + LT_S0] = s0;
  f64[o + LT_S1] = s1;
  f64[o + LT_S2] = s2;
  f64[o + LT_SY] = sy;
  f64[o + LT_STY] = sty;
}

/**
 * The line as of the last closed block, written as [level at `t`, slope per ms, σ of one
 * block, weighted block count] into out[0..3]; false (out untouched) while fewer than
 * LT_MIN_BLOCKS blocks carry weight or no error has been measured yet.
 */
export function longTrendLine(f64: Float64Array, o: number, f32: Float32Array, o32: number, blockMs: number, t: number, out: Float64Array): boolean {
  const s0 = f64[o + LT_S0];
  if (!(s0 >= LT_MIN_BLOCKS - 1) || f32[o32 + LT_ERRORS] === 0) return false;
  const v = f32[o32 + LT_RES_VAR];
  const s1 = f64[o + LT_S1];
  const tbar = s1 / s0;
  const sxx = f64[o + LT_S2] - s1 * tbar;
  if (!(sxx > 0)) return false;
  const slope = (f64[o + LT_STY] - tbar * f64[o + LT_SY]) / sxx;
  const a = f64[o + LT_SY] / s0 - slope * tbar;
  // block means sit at their blocks' centres
  const tau = (t - f64[o + LT_BLOCK_START] - 0.5 * blockMs) / blockMs;
  out[0] = f64[o + LT_ANCHOR] + a + slope * tau;
  out[1] = slope / blockMs;
  out[2] = Math.sqrt(v);
  out[3] = s0;
  return true;
}

/**
 * Whether the line has stopped describing the data in direction `dir` (±1): the recent blocks
 * fall short of it, on average, by more than one σ of a block. Call only after longTrendLine
 * returned true (out[2] is σ).
 */
export function longTrendBent(f32: Float32Array, o32: number, dir: number, sd: number): boolean {
  return dir * f32[o32 + LT_BIAS] < -sd;
}

/**
 * σ multiplier of the line's prediction `aheadMs` after `t`: √(1 + 1/S0 + (τ − t̄)²/Sxx).
 * Call only after longTrendLine returned true for the same state.
 */
export function longTrendSdFactor(f64: Float64Array, o: number, blockMs: number, t: number, aheadMs: number): number {
  const s0 = f64[o + LT_S0];
  const s1 = f64[o + LT_S1];
  const tbar = s1 / s0;
  const sxx = f64[o + LT_S2] - s1 * tbar;
  const tau = (t + aheadMs - f64[o + LT_BLOCK_START] - 0.5 * blockMs) / blockMs;
  const d = tau - tbar;
  return Math.sqrt(1 + 1 / s0 + (d * d) / sxx);
}
