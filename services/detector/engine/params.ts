// Detector parameters: one documented set of defaults, validation for the config loader, and
// the packed Float64Array form the hot loop reads (one row per profile, so per-series
// profiles cost one byte per slot and an L1-resident table).

/**
 * Tuning of one detector profile. Times are event time in milliseconds; "samples" count the
 * samples of one series. Standardised deviations ("σ") are deviations divided by the
 * detector's own spread estimate, floored (see `sdFloorRel`, `sdFloorAbs`).
 */
export interface DetectorParams {
  /** Samples in the rolling z-score window (ring buffer), 4–1024. */
  window: number;
  /** Samples a series needs before it may open an anomaly (and before baseline protection starts). */
  warmupSamples: number;
  /** EWMA smoothing per sample for the control band mean and variance, (0, 1]. */
  ewmaAlpha: number;
  /** Control band half-width in EWMA σ; a sample outside mean ± bandK·σ fires `ewma`. */
  bandK: number;
  /** Holt level smoothing per sample, (0, 1]. */
  holtAlpha: number;
  /** Holt trend smoothing per sample, [0, 1]. */
  holtBeta: number;
  /** Holt trend damping per sample, (0, 1]; 1 = undamped (linear extrapolation, as capacity planning expects). */
  holtPhi: number;
  /** EWMA smoothing of the squared one-step Holt errors (residual variance), (0, 1]. */
  residualAlpha: number;
  /** |z| at or above which `zscore` fires. */
  zThreshold: number;
  /** |Holt one-step error| / residual σ at or above which `holt` fires. */
  holtThreshold: number;
  /** Standardised deviation that scores 0.5; score = d⁴ / (d⁴ + scoreScale⁴). */
  scoreScale: number;
  /** σ floor relative to |level| (so a flat series scores high but finite on a change). */
  sdFloorRel: number;
  /** Absolute σ floor (> 0), for series flat at zero. */
  sdFloorAbs: number;
  /**
   * Baseline protection: a warm sample whose strongest deviation exceeds clipK σ updates the
   * baselines only with a value clipped to ±clipK σ (and leaves the variances alone).
   * Infinity disables protection.
   */
  clipK: number;
  /**
   * After this many consecutive protected samples the shift is accepted as the new normal:
   * baselines take raw values again (so a lasting level shift resolves), 0–254.
   */
  adaptSamples: number;
  /** Score at or above which an anomaly becomes pending and then opens, (0, 1]. */
  openScore: number;
  /** Score below which an open anomaly starts resolving (hysteresis), [0, openScore]. */
  closeScore: number;
  /** How long the score must stay ≥ openScore before the anomaly opens (ms, event time). */
  minDurationMs: number;
  /** How long the score must stay < closeScore before the anomaly resolves (ms). */
  resolveHoldMs: number;
  /** Minimum interval between update events of an open anomaly (ms). */
  updateEveryMs: number;
  /** An open anomaly also emits an update when its score rises this much above the last emitted one. */
  updateMargin: number;
  /** Normal quantile of forecast prediction intervals (1.96 ≈ 95 %). */
  forecastZ: number;
  /** Longest horizon `timeToThreshold` looks ahead (ms). */
  forecastCapMs: number;
}

/** Defaults, tuned for 10–60 s scrape intervals. The config loader maps its keys onto these. */
export const DEFAULT_DETECTOR_PARAMS: Readonly<DetectorParams> = Object.freeze({
  window: 64,
  warmupSamples: 30,
  ewmaAlpha: 0.05,
  bandK: 3,
  holtAlpha: 0.2,
  holtBeta: 0.05,
  holtPhi: 1,
  residualAlpha: 0.05,
  zThreshold: 3,
  holtThreshold: 3,
  scoreScale: 2.6,
  sdFloorRel: 1e-3,
  sdFloorAbs: 1e-6,
  clipK: 4,
  adaptSamples: 40,
  openScore: 0.9,
  closeScore: 0.6,
  minDurationMs: 30_000,
  resolveHoldMs: 120_000,
  updateEveryMs: 300_000,
  updateMargin: 0.05,
  forecastZ: 1.96,
  forecastCapMs: 7 * 86_400_000,
});

export interface ParamProblem {
  /** Parameter name, as in `DetectorParams`. */
  name: keyof DetectorParams;
  reason: string;
}

export const MIN_WINDOW = 4;
export const MAX_WINDOW = 1024;
/** Largest adaptSamples: the consecutive-outlier counter is one byte per series. */
export const MAX_ADAPT_SAMPLES = 254;
/** Largest warmupSamples: the sample counter is 16 bits and saturates. */
export const MAX_WARMUP_SAMPLES = 65_000;

/** Every problem of a parameter set (empty when valid), for the config loader to show. */
export function validateDetectorParams(p: DetectorParams): ParamProblem[] {
  const out: ParamProblem[] = [];
  const bad = (name: keyof DetectorParams, reason: string) => out.push({ name, reason });
  const num = (name: keyof DetectorParams): number | undefined => {
    const v = p[name];
    if (typeof v !== 'number' || Number.isNaN(v)) {
      bad(name, `must be a number (got ${String(v)})`);
      return undefined;
    }
    return v;
  };
  const int = (name: keyof DetectorParams, lo: number, hi: number) => {
    const v = num(name);
    if (v !== undefined && (!Number.isInteger(v) || v < lo || v > hi)) bad(name, `must be an integer in [${lo}, ${hi}] (got ${v})`);
  };
  const range = (name: keyof DetectorParams, lo: number, hi: number, loOpen: boolean) => {
    const v = num(name);
    if (v === undefined) return;
    const aboveLo = loOpen ? v > lo : v >= lo;
    if (!aboveLo || !(v <= hi)) bad(name, `must be in ${loOpen ? '(' : '['}${lo}, ${hi}] (got ${v})`);
  };
  const positive = (name: keyof DetectorParams, allowInfinity = false) => {
    const v = num(name);
    if (v !== undefined && (!(v > 0) || (!allowInfinity && !Number.isFinite(v)))) bad(name, `must be a positive${allowInfinity ? '' : ' finite'} number (got ${v})`);
  };
  const nonNegative = (name: keyof DetectorParams) => {
    const v = num(name);
    if (v !== undefined && (!(v >= 0) || !Number.isFinite(v))) bad(name, `must be a finite number ≥ 0 (got ${v})`);
  };

  int('window', MIN_WINDOW, MAX_WINDOW);
  int('warmupSamples', 0, MAX_WARMUP_SAMPLES);
  range('ewmaAlpha', 0, 1, true);
  positive('bandK');
  range('holtAlpha', 0, 1, true);
  range('holtBeta', 0, 1, false);
  range('holtPhi', 0, 1, true);
  range('residualAlpha', 0, 1, true);
  positive('zThreshold', true);
  positive('holtThreshold', true);
  positive('scoreScale');
  nonNegative('sdFloorRel');
  const floorAbs = num('sdFloorAbs');
  if (floorAbs !== undefined && !(floorAbs >= 1e-30 && Number.isFinite(floorAbs))) {
    bad('sdFloorAbs', `must be a finite number ≥ 1e-30 (got ${floorAbs}); a zero floor makes a flat series score infinitely`);
  }
  positive('clipK', true);
  int('adaptSamples', 0, MAX_ADAPT_SAMPLES);
  range('openScore', 0, 1, true);
  range('closeScore', 0, 1, false);
  if (typeof p.openScore === 'number' && typeof p.closeScore === 'number' && p.closeScore > p.openScore) {
    bad('closeScore', `must not exceed openScore (${p.openScore})`);
  }
  nonNegative('minDurationMs');
  nonNegative('resolveHoldMs');
  nonNegative('updateEveryMs');
  nonNegative('updateMargin');
  positive('forecastZ');
  positive('forecastCapMs');
  return out;
}

/** Defaults overridden by `overrides` (unknown keys are not accepted by the type). */
export function resolveDetectorParams(overrides: Partial<DetectorParams> = {}): DetectorParams {
  return { ...DEFAULT_DETECTOR_PARAMS, ...overrides };
}

/** The `detector` section of the service config, as far as the engine reads it. */
export interface DetectorConfigSection {
  window: number;
  warmupSamples: number;
  openScore: number;
  closeScore: number;
  /** ms */
  minDuration: number;
  /** ms */
  resolveHold: number;
  /** ms */
  updateEvery: number;
}

/** Engine parameters from the validated `detector` config section; the rest keep their defaults. */
export function paramsFromConfig(c: DetectorConfigSection, base: Readonly<DetectorParams> = DEFAULT_DETECTOR_PARAMS): DetectorParams {
  return {
    ...base,
    window: c.window,
    warmupSamples: c.warmupSamples,
    openScore: c.openScore,
    closeScore: c.closeScore,
    minDurationMs: c.minDuration,
    resolveHoldMs: c.resolveHold,
    updateEveryMs: c.updateEvery,
  };
}

// ---- the form the hot loop reads ----

/**
 * One profile as the engine reads it per sample: the parameters plus values derived once
 * (squares, reciprocals, thresholds on d⁴). A plain object with fixed fields: reading a field
 * costs a load or two, where a typed-array row costs an index check per read.
 */
export class ProfileRow {
  readonly window: number;
  readonly warmupSamples: number;
  readonly ewmaAlpha: number;
  readonly residualAlpha: number;
  readonly holtAlpha: number;
  /** holtAlpha · holtBeta: the trend's error-correction gain. */
  readonly holtAB: number;
  readonly holtBeta: number;
  readonly phi: number;
  readonly sdFloorRel: number;
  readonly sdFloorAbs: number;
  readonly clipK: number;
  readonly clipKSq: number;
  readonly adaptSamples: number;
  readonly zThresholdSq: number;
  readonly bandK: number;
  readonly bandKSq: number;
  readonly holtThresholdSq: number;
  /** scoreScale⁴ */
  readonly scale4: number;
  /** d⁴ at which the score reaches openScore: openScore·scale⁴ / (1 − openScore) (Infinity for 1). */
  readonly openD4: number;
  readonly openScore: number;
  readonly closeScore: number;
  readonly minDurationMs: number;
  readonly resolveHoldMs: number;
  readonly updateEveryMs: number;
  readonly updateMargin: number;
  /** 1/window and 1/(window − 1): the window's divisions once it is full. */
  readonly invW: number;
  readonly invW1: number;
  /**
   * Sample counts (n = samples before this one) from which the weights stop being
   * 1/(samples so far): EWMA from n ≥ 1/α − 1, residual variance from n ≥ 1/α + 1; `young`
   * is the larger, after which neither needs checking.
   */
  readonly ewmaN: number;
  readonly residualN: number;
  readonly young: number;
  readonly forecastZ: number;
  readonly forecastCapMs: number;

  constructor(p: DetectorParams) {
    this.window = p.window;
    this.warmupSamples = p.warmupSamples;
    this.ewmaAlpha = p.ewmaAlpha;
    this.residualAlpha = p.residualAlpha;
    this.holtAlpha = p.holtAlpha;
    this.holtAB = p.holtAlpha * p.holtBeta;
    this.holtBeta = p.holtBeta;
    this.phi = p.holtPhi;
    this.sdFloorRel = p.sdFloorRel;
    this.sdFloorAbs = p.sdFloorAbs;
    this.clipK = p.clipK;
    this.clipKSq = p.clipK * p.clipK;
    this.adaptSamples = p.adaptSamples;
    this.zThresholdSq = p.zThreshold * p.zThreshold;
    this.bandK = p.bandK;
    this.bandKSq = p.bandK * p.bandK;
    this.holtThresholdSq = p.holtThreshold * p.holtThreshold;
    this.scale4 = p.scoreScale ** 4;
    this.openD4 = p.openScore >= 1 ? Infinity : (p.openScore * this.scale4) / (1 - p.openScore);
    this.openScore = p.openScore;
    this.closeScore = p.closeScore;
    this.minDurationMs = p.minDurationMs;
    this.resolveHoldMs = p.resolveHoldMs;
    this.updateEveryMs = p.updateEveryMs;
    this.updateMargin = p.updateMargin;
    this.invW = 1 / p.window;
    this.invW1 = 1 / (p.window - 1);
    this.ewmaN = 1 / p.ewmaAlpha - 1;
    this.residualN = 1 / p.residualAlpha + 1;
    this.young = Math.max(this.ewmaN, this.residualN);
    this.forecastZ = p.forecastZ;
    this.forecastCapMs = p.forecastCapMs;
  }
}
