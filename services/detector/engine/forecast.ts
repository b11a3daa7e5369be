// Forecasts from a series' Holt state (cold path: API queries, risk board, breach checks):
// the mean path with its prediction interval, and when a threshold will be crossed.
//
// Holt runs per sample with the trend in units per second; a horizon of H ms is h = H / Δ
// steps, Δ = the series' mean sample interval.
//   mean(h)     = level + trend · Δs · Σ_{j=1..h} φ^j          (= level + trend · H for φ = 1)
//   variance(h) = σ² · [1 + (h−1)(α² + αβ'h + β'²h(2h−1)/6)],  β' = α·β
// The variance is the closed form for Holt's linear method as the state-space model
// ETS(A,A,N) (Hyndman, Koehler, Ord & Snyder 2008, table 6.1), i.e. σ²·(1 + Σ_{j<h}(α + β'j)²)
// without the loop; σ² is the EWMA of squared one-step errors. Damping is ignored in the
// variance: the damped form is smaller, so the interval errs wide, and one closed form keeps
// `timeToThreshold` a monotone search. The interval grows like h^1.5 for long horizons —
// honest for a trend that itself wanders, and what keeps "disk full in 3 days" from sounding
// more certain than a 15 s sample history allows.

/** Σ_{j=1..h} φ^j for real h ≥ 0 (h when φ = 1). */
export function dampedSteps(phi: number, h: number): number {
  if (phi >= 1) return h;
  return (phi * (1 - Math.pow(phi, h))) / (1 - phi);
}

/** Multiplier of σ² for the h-step forecast error (h < 1 counts as one step). */
export function holtVarianceFactor(alpha: number, beta: number, h: number): number {
  const hh = h < 1 ? 1 : h;
  const b = alpha * beta;
  return 1 + (hh - 1) * (alpha * alpha + alpha * b * hh + (b * b * hh * (2 * hh - 1)) / 6);
}

/** The Holt state of one series, as `forecastHolt` and `holtTimeToThreshold` read it. */
export interface HoltSnapshot {
  level: number;
  /** units per second */
  trendPerS: number;
  /** one-step residual σ */
  residualSd: number;
  /** mean sample interval (ms); ≤ 0 when unknown (fewer than two samples) */
  stepMs: number;
  alpha: number;
  beta: number;
  phi: number;
  /** normal quantile of the interval */
  z: number;
}

/** Writes [mean, lower, upper] at `horizonMs` after the last sample into out[0..2]. */
export function forecastHolt(s: HoltSnapshot, horizonMs: number, out: Float64Array): void {
  const step = s.stepMs > 0 ? s.stepMs : 1000;
  const h = horizonMs > 0 ? horizonMs / step : 0;
  const mean = s.level + s.trendPerS * (step / 1000) * dampedSteps(s.phi, h);
  const half = s.z * s.residualSd * Math.sqrt(holtVarianceFactor(s.alpha, s.beta, h));
  out[0] = mean;
  out[1] = mean - half;
  out[2] = mean + half;
}

const SCAN_POINTS = 256;
const BISECT_STEPS = 60;

/**
 * Time (ms after the last sample) until the forecast crosses `threshold`, written as
 * [expected, earliest, latest] into out[0..2]: expected when the mean path reaches it,
 * earliest when the near edge of the interval does, latest when the far edge does. All NaN
 * when the series is not heading towards the threshold or the mean path does not reach it
 * within `capMs`; latest alone NaN when the far edge does not reach it within `capMs`.
 * A threshold equal to the level gives [0, 0, 0].
 */
export function holtTimeToThreshold(s: HoltSnapshot, threshold: number, capMs: number, out: Float64Array): void {
  out[0] = NaN;
  out[1] = NaN;
  out[2] = NaN;
  const gap = threshold - s.level;
  if (gap === 0) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    return;
  }
  const dir = gap > 0 ? 1 : -1;
  if (!(s.trendPerS * dir > 0) || !(capMs > 0)) return;
  const step = s.stepMs > 0 ? s.stepMs : 1000;
  const stepS = step / 1000;
  // Expected: solve trend·Δs·Σφ^j = gap for h.
  const r = gap / (s.trendPerS * stepS);
  let h: number;
  if (s.phi >= 1) {
    h = r;
  } else {
    const q = 1 - (r * (1 - s.phi)) / s.phi;
    if (!(q > 0)) return; // the damped path levels off short of the threshold
    h = Math.log(q) / Math.log(s.phi);
  }
  const expected = h * step;
  if (!(expected <= capMs)) return;
  out[0] = expected;
  // u(t) ≥ 0 once the mean path is at or beyond the threshold; the near edge leads by z·σ(t).
  const u = (t: number): number => dir * (s.level + s.trendPerS * stepS * dampedSteps(s.phi, t / step) - threshold);
  const sd = (t: number): number => s.z * s.residualSd * Math.sqrt(holtVarianceFactor(s.alpha, s.beta, t / step));
  const near = (t: number): number => u(t) + sd(t);
  const far = (t: number): number => u(t) - sd(t);
  // near(t) is increasing on [0, expected] (mean and σ both grow), and near(expected) ≥ 0.
  out[1] = near(0) >= 0 ? 0 : bisect(near, 0, expected);
  if (far(expected) >= 0) {
    out[2] = expected;
    return;
  }
  // far(t) rises with the mean and falls as σ(t) widens: scan geometrically, then bisect.
  let lo = expected;
  const ratio = Math.pow(capMs / expected, 1 / SCAN_POINTS);
  for (let k = 1; k <= SCAN_POINTS; k++) {
    const hi = k === SCAN_POINTS ? capMs : expected * Math.pow(ratio, k);
    if (far(hi) >= 0) {
      out[2] = bisect(far, lo, hi);
      return;
    }
    lo = hi;
  }
}

/** First root of an increasing-through-zero g on [lo, hi] with g(lo) < 0 ≤ g(hi), to 1 ms. */
function bisect(g: (t: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < BISECT_STEPS && hi - lo > 1; i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) >= 0) hi = mid;
    else lo = mid;
  }
  return hi;
}
