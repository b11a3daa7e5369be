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
  /** Periodic update events of an open anomaly, ms (0: none; an update then only says something new). */
  updateEveryMs: number;
  /** An open anomaly emits an update when its score reaches this much above the highest it emitted. */
  updateMargin: number;
  /** Normal quantile of forecast prediction intervals (1.96 ≈ 95 %). */
  forecastZ: number;
  /** Longest horizon `timeToThreshold` looks ahead (ms). */
  forecastCapMs: number;
  /**
   * Robust variant: the window detector uses the median and MAD of the window (σ ≈ 1.4826·MAD)
   * instead of its mean and standard deviation, so a spiky series' spikes do not inflate the
   * spread. Costs O(window) per sample: for spiky series only.
   */
  robust: boolean;
  /**
   * Seasonal profile: per time-of-day bucket (UTC) the series' usual level and spread, learned
   * across days. Once a bucket has history, a sample counts as anomalous only when it is also
   * unusual for that time of day, so a normal morning does not page.
   */
  seasonal: boolean;
  /** Buckets per day of the seasonal profile, 4–96 (24: hourly). */
  seasonBuckets: number;
  /** Learn weekdays and weekends (Saturday, Sunday UTC) as two profiles (twice the buckets). */
  seasonWeekly: boolean;
  /** Days of a day type a series must have seen before its profile judges samples, 1–254. */
  seasonMinDays: number;
  /** Memory of the bucket averages in days (they weigh about the last this many days), ≥ 1. */
  seasonMemoryDays: number;
  /**
   * A series' bucket is updated every this many samples (1, 2, 4 or 8), with the weight scaled
   * to match: the bucket is a cache line of its own, so 4 saves most of its memory traffic.
   */
  seasonUpdateEvery: number;
  /**
   * Anomaly likelihood (after Numenta): how unusual the recent raw score (short EWMA) is
   * against this series' own score history (long EWMA mean and variance, Gaussian tail).
   * `off`: the score is the raw score; `gate`: min(raw, likelihood), so a series that is
   * always noisy cannot keep paging; `replace`: the likelihood alone (NAB style).
   */
  likelihood: 'off' | 'gate' | 'replace';
  /** Samples of the short score average, ≥ 1. */
  likelihoodShort: number;
  /** Samples of the long score history, > likelihoodShort. */
  likelihoodLong: number;
  /**
   * Threshold of the forecast breach (e.g. 0.9 for a CPU ratio); null: no breach detection.
   * A breach is predicted when the confident edge of the Holt forecast crosses it within
   * breachHorizonMs.
   */
  breachThreshold: number | null;
  /** `above`: breach when the series rises to the threshold; `below`: when it falls to it. */
  breachDirection: 'above' | 'below';
  /** How far ahead a breach is predicted (ms). */
  breachHorizonMs: number;
  /** One-sided normal quantile of the confidence a breach needs (1.28 ≈ 90 %). */
  breachZ: number;
  /** How long a breach must stay predicted before the breach event (ms). */
  breachHoldMs: number;
  /** How long the prediction must stay gone before the cleared event (ms). */
  breachClearMs: number;
  /**
   * Long-horizon breach test (long-trend.ts): a weighted line through block means (ms; 0:
   * off) predicts a breach this far ahead with the same confidence (breachZ), beside the
   * Holt test's breachHorizonMs. Only for profiles with a breachThreshold.
   */
  trendHorizonMs: number;
  /**
   * Share of a seasonal bucket at each of its edges where the neighbouring bucket's mean counts
   * as usual too (a value between the two means scores 0 against the profile): a rhythm's
   * steps fall at bucket edges (the market opens at 08:00). 0: only the own bucket.
   */
  seasonEdge: number;
  /**
   * Flatline: a warm series that repeats exactly the same value this many samples in a row —
   * and more than twice as long as it ever did before (a series that idles at 0 by nature
   * learns its own runs) — scores as an anomaly until the value moves (a frozen exporter, a
   * stuck gauge). 0: off.
   */
  flatSamples: number;
  /** Block the long trend averages samples over (ms). */
  trendBlockMs: number;
  /**
   * Saturation (a signal's catalogue threshold): the series is saturated while its value is at
   * or beyond this in breachDirection; it pages once saturated for saturationForMs. null: none.
   */
  saturationThreshold: number | null;
  /** How long the value must stay saturated before the saturation event (ms). */
  saturationForMs: number;
  /** How long the value must stay back on the safe side before the saturation resolves (ms). */
  saturationClearMs: number;
  /**
   * The quantity accumulates (a disk filling, memory leaking): a run of steps towards the breach
   * threshold predicts the breach from its own rate (fill-run.ts), so a fast fill warns in
   * time. Off for rates and utilisations, whose runs of steps are noise.
   */
  fillRun: boolean;
  /** How far back the long trend's line looks (ms: the weight of a block halves about every 0.7 of it). */
  trendWindowMs: number;
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
  updateEveryMs: 0,
  updateMargin: 0.05,
  forecastZ: 1.96,
  forecastCapMs: 7 * 86_400_000,
  robust: false,
  seasonal: true,
  seasonBuckets: 24,
  seasonWeekly: true,
  seasonMinDays: 2,
  seasonMemoryDays: 5,
  seasonUpdateEvery: 4,
  likelihood: 'gate',
  likelihoodShort: 2,
  likelihoodLong: 2880,
  breachThreshold: null,
  breachDirection: 'above',
  breachHorizonMs: 3_600_000,
  breachZ: 1.28,
  breachHoldMs: 300_000,
  breachClearMs: 900_000,
  seasonEdge: 0.25,
  flatSamples: 20,
  trendHorizonMs: 24 * 3_600_000,
  trendBlockMs: 600_000,
  trendWindowMs: 6 * 3_600_000,
  saturationThreshold: null,
  saturationForMs: 300_000,
  saturationClearMs: 120_000,
  fillRun: false,
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
/** Largest seasonBuckets (per day type). */
export const MAX_SEASON_BUCKETS = 96;
export const DAY_MS = 86_400_000;
/** Buckets a profile's seasonal profile takes in a record (0 when not seasonal). */
export function seasonBucketsOf(p: DetectorParams): number {
  return p.seasonal ? p.seasonBuckets * (p.seasonWeekly ? 2 : 1) : 0;
}

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
  const boolean = (name: keyof DetectorParams) => {
    if (typeof p[name] !== 'boolean') bad(name, `must be true or false (got ${String(p[name])})`);
  };
  const choice = (name: keyof DetectorParams, values: readonly string[]) => {
    if (!values.includes(p[name] as string)) bad(name, `must be one of ${values.join(', ')} (got ${String(p[name])})`);
  };
  boolean('robust');
  boolean('seasonal');
  int('seasonBuckets', 4, MAX_SEASON_BUCKETS);
  boolean('seasonWeekly');
  int('seasonMinDays', 1, 254);
  const mem = num('seasonMemoryDays');
  if (mem !== undefined && !(mem >= 1 && Number.isFinite(mem))) bad('seasonMemoryDays', `must be a finite number ≥ 1 (got ${mem})`);
  if (![1, 2, 4, 8].includes(p.seasonUpdateEvery)) bad('seasonUpdateEvery', `must be 1, 2, 4 or 8 (got ${String(p.seasonUpdateEvery)})`);
  choice('likelihood', ['off', 'gate', 'replace']);
  const short = num('likelihoodShort');
  if (short !== undefined && !(short >= 1 && Number.isFinite(short))) bad('likelihoodShort', `must be a finite number ≥ 1 (got ${short})`);
  const long = num('likelihoodLong');
  if (long !== undefined && short !== undefined && !(long > short && Number.isFinite(long))) {
    bad('likelihoodLong', `must be a finite number > likelihoodShort (${short}) (got ${long})`);
  }
  if (p.breachThreshold !== null && !(typeof p.breachThreshold === 'number' && Number.isFinite(p.breachThreshold))) {
    bad('breachThreshold', `must be a finite number or null (got ${String(p.breachThreshold)})`);
  }
  choice('breachDirection', ['above', 'below']);
  positive('breachHorizonMs');
  positive('breachZ');
  nonNegative('breachHoldMs');
  nonNegative('breachClearMs');
  nonNegative('trendHorizonMs');
  int('flatSamples', 0, 127);
  range('seasonEdge', 0, 0.5, false);
  positive('trendBlockMs');
  if (p.saturationThreshold !== null && !(typeof p.saturationThreshold === 'number' && Number.isFinite(p.saturationThreshold))) {
    bad('saturationThreshold', `must be a finite number or null (got ${String(p.saturationThreshold)})`);
  }
  nonNegative('saturationForMs');
  boolean('fillRun');
  nonNegative('saturationClearMs');
  positive('trendWindowMs');
  if (p.trendWindowMs < 2 * p.trendBlockMs) bad('trendWindowMs', `must be at least 2 × trendBlockMs (${2 * p.trendBlockMs} ms)`);
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
  /** Profile rules (see profiles.ts); absent: none. */
  rules?: readonly string[];
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
  readonly robust: boolean;
  readonly seasonal: boolean;
  readonly seasonBuckets: number;
  readonly seasonWeekly: boolean;
  /** Buckets in the record (seasonBuckets, doubled when weekly). */
  readonly seasonTotal: number;
  /** seasonBuckets / DAY_MS: bucket = ⌊(t mod day)·this⌋. */
  readonly bucketPerMs: number;
  readonly seasonMinDays: number;
  readonly seasonMemoryDays: number;
  readonly seasonEvery: number;
  /** seasonEvery − 1: the bucket is updated when (samples & seasonMask) = 0. */
  readonly seasonMask: number;
  /** 0 off, 1 gate, 2 replace. */
  readonly likelihood: number;
  readonly lkShortAlpha: number;
  readonly lkLongAlpha: number;
  /** Sample counts below which the likelihood averages weigh 1/n (likelihoodShort, likelihoodLong). */
  readonly lkShortN: number;
  readonly lkLongN: number;
  /** Breach: threshold (NaN: off), direction ±1, horizon, quantile, hold, clear. */
  readonly breachThreshold: number;
  readonly hasBreach: boolean;
  readonly breachDir: number;
  readonly breachHorizonMs: number;
  readonly breachZ: number;
  readonly breachHoldMs: number;
  readonly breachClearMs: number;
  /** Seasonal bucket edges: the neighbour counts below seasonEdge and above 1 − seasonEdge of a bucket. */
  readonly seasonEdgeLo: number;
  readonly seasonEdgeHi: number;
  /** Flatline run length (0: off; see DetectorParams.flatSamples) and the d² a flat sample scores. */
  readonly flatSamples: number;
  readonly flatD2: number;
  /** Saturation: threshold (NaN: off), hold before the event, hold before it clears. */
  readonly hasSaturation: boolean;
  readonly saturationThreshold: number;
  readonly saturationForMs: number;
  readonly saturationClearMs: number;
  /** Fill run on (breach profiles of accumulating quantities). */
  readonly fillRun: boolean;
  /** Long trend: horizon (0: off), block, weight per block λ = exp(−block/window). */
  readonly trendHorizonMs: number;
  readonly trendBlockMs: number;
  readonly trendLambda: number;
  /**
   * d² below which the seasonal profile is not consulted (the sample scores its raw score):
   * the smaller of clipK² and the d² where the raw score reaches closeScore; 0 (always) when
   * the likelihood replaces the score.
   */
  readonly seasonCutSq: number;
  /** The hot loop must compute the score per sample (seasonal gating or likelihood on). */
  readonly needsScore: boolean;

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
    this.robust = p.robust;
    this.seasonal = p.seasonal;
    this.seasonBuckets = p.seasonBuckets;
    this.seasonWeekly = p.seasonWeekly;
    this.seasonTotal = seasonBucketsOf(p);
    this.bucketPerMs = p.seasonBuckets / DAY_MS;
    this.seasonMinDays = p.seasonMinDays;
    this.seasonMemoryDays = p.seasonMemoryDays;
    this.seasonEvery = p.seasonUpdateEvery;
    this.seasonMask = p.seasonUpdateEvery - 1;
    this.likelihood = p.likelihood === 'off' ? 0 : p.likelihood === 'gate' ? 1 : 2;
    this.lkShortAlpha = 1 / p.likelihoodShort;
    this.lkLongAlpha = 1 / p.likelihoodLong;
    this.lkShortN = p.likelihoodShort;
    this.lkLongN = p.likelihoodLong;
    this.hasBreach = p.breachThreshold !== null;
    this.breachThreshold = p.breachThreshold ?? NaN;
    this.breachDir = p.breachDirection === 'below' ? -1 : 1;
    this.breachHorizonMs = p.breachHorizonMs;
    this.breachZ = p.breachZ;
    this.breachHoldMs = p.breachHoldMs;
    this.breachClearMs = p.breachClearMs;
    this.seasonEdgeLo = p.seasonEdge;
    this.seasonEdgeHi = p.seasonEdge > 0 ? 1 - p.seasonEdge : Infinity;
    this.flatSamples = p.flatSamples;
    // score 0.95: (d²)² = 19·scale⁴
    this.flatD2 = Math.sqrt(19) * p.scoreScale * p.scoreScale;
    this.hasSaturation = p.saturationThreshold !== null;
    this.saturationThreshold = p.saturationThreshold ?? NaN;
    this.saturationForMs = p.saturationForMs;
    this.saturationClearMs = p.saturationClearMs;
    this.fillRun = p.fillRun && p.breachThreshold !== null;
    this.trendHorizonMs = this.hasBreach ? p.trendHorizonMs : 0;
    this.trendBlockMs = p.trendBlockMs;
    this.trendLambda = Math.exp(-p.trendBlockMs / p.trendWindowMs);
    this.needsScore = this.likelihood !== 0;
    const closeD2 = p.closeScore >= 1 ? Infinity : p.scoreScale * p.scoreScale * Math.sqrt(p.closeScore / (1 - p.closeScore));
    // with the likelihood replacing the score every score feeds it: consult the profile always
    this.seasonCutSq = this.likelihood === 2 ? 0 : Math.min(this.clipKSq, closeD2);
  }
}
