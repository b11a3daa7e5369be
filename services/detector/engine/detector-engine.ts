// The detector engine: per-sample scoring of millions of series in O(1), allocation-free.
// Samples come in with their event time (a replay behaves like live data); the detector stage
// maps series keys to the slots this engine hands out, calls `update` per sample and turns the
// returned event codes into events, reading the explanation from the `out*` fields.
//
// Per sample, against the series' state before the sample:
//   rolling z  = (x − mean_W) / sd_W        over the last W samples (ring with running sums)
//   EWMA dev   = (x − m) / σ_e             m, σ_e² exponentially weighted (control band m ± kσ_e)
//   Holt dev   = (x − (ℓ + φ·b·Δt)) / σ_r   one-step error of Holt's linear trend on event time
//   robust z   = (x − median_W) / (1.4826·MAD_W)   in place of z for `robust` profiles
//   d          = max(|z|, |EWMA dev|, |Holt dev|)
//   seasonal   d ← min(d, |x − μ_b| / σ_b)  once the series' profile has history for bucket b
//                                          (time of day, per day type when weekly)
//   raw score  = d⁴ / (d⁴ + c⁴)            c = scoreScale (score 0.5 at d = c)
//   likelihood L = Φ((short EWMA of raw − long EWMA of raw) / long σ of raw)
//   score      = raw | min(raw, L) | L    likelihood off | gate | replace
// Forecast breach (profiles with a breachThreshold): after each sample, whether the confident
// edge of the Holt forecast reaches the threshold within the horizon — or, hours ahead, the
// confident edge of the long trend (a line through 10-minute block means, long-trend.ts) within
// trendHorizon — with its own hold / clear timers (outBreachEvent).
// Every σ is floored at sdFloorRel·|m| + sdFloorAbs, so a flat series that changes once
// scores high but finite. Each detector fires (a bit of outFired) at its own threshold.
//
// Why this score: it is a log-logistic curve in d — 0 at d = 0, 0.5 at c, → 1 — so it reads
// as "how far out, saturating", needs no exp, and is steep where the thresholds sit: with
// c = 2.6, openScore 0.9 ↔ d ≈ 4.5 and closeScore 0.6 ↔ d ≈ 2.9, so the hysteresis band is a
// meaningful gap in σ. Taking the strongest detector (max) keeps one score per sample that
// any detector can raise; the bitmask says which did.
//
// Cost: the hot loop works on squared deviations and variances, so it takes no square root;
// it picks the strongest detector by cross-multiplying (a/b > c/d ⇔ a·d > c·b) and tests
// openScore and clipK against d⁴ and d² thresholds, so no branch waits for a division. z, the
// band edges and the score are kept squared in fields and finished by getters when read.
//
// Baseline protection (why an alert neither poisons its baseline nor lasts forever): once a
// series is warm, a sample with d > clipK is "protected": the ring stores it clipped to the
// window mean ± clipK·sd, the EWMA mean and the Holt level/trend move by at most clipK σ's
// worth of error, and neither variance is updated. A single spike therefore shifts the band
// by at most α·clipK·σ and does not widen it. After `adaptSamples` consecutive protected
// samples the change is taken as the new normal and raw values flow in again: the variances
// absorb the step, the deviation falls, protection stops, and the alert resolves after
// resolveHold. A slow ramp never triggers protection because Holt follows it.
//
// Time: Holt's α, β and φ apply per sample; the trend is per second and the one-step forecast
// is ℓ + φ·b·Δt with the actual gap Δt, so missed scrapes do not bias the level, and the slope
// update b ← φb + αβ·e/Δt divides by Δt floored at a quarter of the mean interval (a burst of
// near-simultaneous samples must not swing the trend).
//
// Warm-up: each detector contributes once its spread estimate exists (z after 3 samples in
// the window, EWMA after 2, Holt after 3); no anomaly opens and no protection happens before
// warmupSamples.

import { ForeshockError } from '../../../shared/errors/index.js';
import type { SeriesState as SeriesStateName } from '../../../shared/model/index.js';
import { exportSlots, importSlots } from './checkpoint.js';
import { dampedSteps, forecastHolt, holtTimeToThreshold, holtVarianceFactor, type HoltSnapshot } from './forecast.js';
import * as layout from './layout.js';
import { fillRunAdd, fillRunCrossing } from './fill-run.js';
import { longTrendAdd, longTrendBent, longTrendLine, longTrendReset, longTrendSdFactor } from './long-trend.js';
import { DEFAULT_DETECTOR_PARAMS, MAX_WINDOW, ProfileRow, seasonBucketsOf, validateDetectorParams, type DetectorParams } from './params.js';
import { MAD_TO_SD, medianMad } from './robust.js';
import { SeriesState, type Chunk, type SeriesStateOptions } from './series-state.js';
import * as machine from './state-machine.js';
import { stateNameOf } from './state-machine.js';

// Module-local bindings of everything the hot loop names. V8 folds a module-level const into
// the machine code, but not an imported binding (a cell load and check per use in native
// ESM, a getter call per use under tsx's transform: 10× the arithmetic).
const {
  B_BREACH, B_DAYS_WEEKDAY, F_BREACH_SINCE, S_LK_MEAN, S_LK_SHORT, S_LK_VAR, S_LAST_SCORE,
  B_FLAGS, B_OUT_RUN, B_PROFILE, B_STATE, F_EPISODE_START, F_EW_MEAN, F_EW_VAR, F_H_LEVEL, F_H_TREND, F_LAST_TS,
  F_LAST_VALUE, F_REF, F_RES_VAR, F_S1, F_S2, F_STATE_SINCE, FLAG_LIVE, H_N, H_POS, N_MAX, RING_F32, S_DT_AVG,
  S_LAST_D2, S_LAST_Z2, W_NPOS, W_SMALL, B_FLAT_RUN, B_FLAT_MAX, H_REPEATS, B_LT_MODE, F_LT, S_LT, LT_MODE_RAW, LT_MODE_DESEASONAL, LT_PREDICTED_BIT,
  B_SAT, F_SAT_SINCE, S_SAT_CLEAR, SAT_NONE, SAT_PENDING, SAT_ACTIVE, SAT_CLEARING,
} = layout;
const {
  advanceState, resolve, EVENT_NONE, EVENT_FORECAST_BREACH, EVENT_BREACH_CLEARED, EVENT_SATURATED, EVENT_SATURATION_CLEARED, STATE_NORMAL,
  STATE_OPEN, STATE_PENDING, STATE_RESOLVING,
} = machine;
const BREACH_NONE = 0;
const BREACH_PENDING = 1;
const BREACH_ACTIVE = 2;
const BREACH_CLEARING = 3;
const DAY = 86_400_000;
const INV_DAY = 1 / DAY;
const SEASONAL_BIT = 8;
const ROBUST_BIT = 16;

// Hot-loop constants are module-local; the exported names below are copies (an exported
// binding is a cell load per use).
const Z_BIT = 1;
const EWMA_BIT = 2;
const HOLT_BIT = 4;
const STALE_BIT = 32;
const FLAT_BIT = 64;
const MAX_ABS = 1e30;
/** Bits of `outFired`. */
export const FIRED_ZSCORE = Z_BIT;
export const FIRED_EWMA = EWMA_BIT;
export const FIRED_HOLT = HOLT_BIT;
/** The sample is unusual for its time of day (seasonal profile). */
export const FIRED_SEASONAL = SEASONAL_BIT;
/** Robust window detector (median/MAD), in place of FIRED_ZSCORE for robust profiles. */
export const FIRED_ROBUST = ROBUST_BIT;
export const FIRED_STALE = STALE_BIT;
/** The series repeated exactly the same value for flatSamples samples, longer than ever before. */
export const FIRED_FLAT = FLAT_BIT;

/**
 * Values at or beyond this magnitude are ignored like NaN: beyond it squared deviations can
 * overflow. No real metric gets near it.
 */
export const MAX_ABS_VALUE = MAX_ABS;
/** Mean-interval smoothing; a gap counts as at most 4 mean intervals so an outage does not skew it. */
const DT_ALPHA = 0.1;
const DT_GAP_CAP = 4;
/** Protection needs spread estimates from at least this many samples, whatever warmupSamples says. */
const PROTECT_MIN_SAMPLES = 8;
/** Cap of the stored z² (Float32). */
const Z2_CAP = 1e30;
/** Cap of the stored d² (Float32). */
const D2_CAP = 1e30;

/** The explanation of the last sample (or stale marker), as the engine exposes it. */
export interface EngineOutputs {
  readonly outValue: number;
  readonly outScore: number;
  /** EWMA mean the sample was judged against. */
  readonly outExpected: number;
  /** Control band (outExpected ∓ bandK·σ_e) the sample was judged against. */
  readonly outLower: number;
  readonly outUpper: number;
  /** Rolling z-score of the sample against the window before it. */
  readonly outZ: number;
  readonly outTrendPerS: number;
  /** FIRED_* bits */
  readonly outFired: number;
  /**
   * Start (ms) of the episode an event belongs to: set when the sample returned an event or
   * the series is pending, open or resolving (a resolved event keeps its episode's start);
   * NaN for a normal sample.
   */
  readonly outEpisodeStart: number;
  /** Seasonal expectation of the sample's time of day (NaN when the profile was not used). */
  readonly outSeasonalExpected?: number;
  /** Anomaly likelihood (NaN when off or still learning). */
  readonly outLikelihood?: number;
}

/** Current state of one series (cold path: API). The band is the one the next sample meets. */
export interface SlotSnapshot {
  state: SeriesStateName;
  samples: number;
  lastTs: number;
  value: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  z: number;
  trendPerS: number;
  episodeStart: number;
}

export interface DetectorEngineOptions extends SeriesStateOptions {}

export class DetectorEngine implements EngineOutputs {
  // Explanation of the last `update` / `markStale`: plain fields, nothing allocated per sample.
  // z and the band edges need a square root, so they are kept squared and computed when read.
  outValue = NaN;
  outExpected = NaN;
  outTrendPerS = 0;
  outFired = 0;
  outEpisodeStart = NaN;
  /** x − window mean and the floored window variance: outZ = zNum / √zVar. */
  private zNum = 0;
  private zVar = 1;
  /** Floored EWMA variance: the band is outExpected ∓ bandK·√bandVar. */
  private bandVar = 0;
  /** d² of the last sample: outScore = d⁴ / (d⁴ + scale⁴). */
  private lastD2 = 0;
  /** Profile index of the last sample (an index, not the row: no write barrier per sample). */
  private lastProfile = 0;
  /** Samples ignored: NaN/±Inf/|x| ≥ MAX_ABS_VALUE values, non-finite or non-increasing timestamps. */
  ignoredSamples = 0;
  /** Seasonal expectation (bucket mean) the last sample was judged against; NaN when the profile was not used. */
  outSeasonalExpected = NaN;
  /** Anomaly likelihood of the last sample (NaN when the profile has it off or it is still learning). */
  get outLikelihood(): number {
    if (this.lkLazy) this.finishLikelihood();
    return this.lkValue;
  }
  /**
   * Forecast-breach event of the last sample: EVENT_NONE, EVENT_FORECAST_BREACH (the confident
   * edge of the forecast crosses the profile's breachThreshold within breachHorizon, for
   * breachHold) or EVENT_BREACH_CLEARED. Separate from `update`'s return, which stays the
   * anomaly lifecycle; read it after every update of a profile with a breachThreshold.
   */
  outBreachEvent = 0;
  /**
   * Saturation event of the last sample: EVENT_NONE, EVENT_SATURATED (the value stayed at or
   * beyond the profile's saturationThreshold for saturationFor) or EVENT_SATURATION_CLEARED.
   */
  outSaturationEvent = 0;
  /** Final score of the last sample when the likelihood is on (NaN: outScore derives from d²). */
  private lastFinal = NaN;
  private lkValue = NaN;
  /**
   * The likelihood of the last sample is still to be computed from lkNum / √lkVar (gate mode,
   * normal state, raw score below openScore: the state machine does not need it, so the hot
   * loop skips the square root and the exponential and the getters finish it when read).
   */
  private lkLazy = false;
  private lkNum = 0;
  private lkVar = 1;
  /** How much the seasonal profile moves within the breach horizon around now (seasonalBreach). */
  private profileRise = 0;
  /** Range (max − min) of the day type's profile (seasonalBreach). */
  private profileRange = 0;
  /** Scratch of the long trend's line (longTrendLine). */
  private readonly ltOut = new Float64Array(4);
  private readonly ltCross = new Float64Array(3);
  /** Scratch of the robust detector (median/MAD selection). */
  private readonly scratch = new Float64Array(MAX_WINDOW);
  private readonly mm = new Float64Array(2);
  /** The UTC day of the last seasonal sample: [dayStart, dayEnd) in ms, 1 on Saturday and Sunday (enterDay). */
  private dayStart = Infinity;
  private dayEnd = -Infinity;
  private dayWeekend = 0;

  readonly profiles: readonly DetectorParams[];
  /** Profiles as the hot loop reads them, by profile index. */
  readonly rows: readonly ProfileRow[];
  readonly table: SeriesState;

  /**
   * @param profiles parameter sets; a slot's profile is chosen at `allocSlot`. Throws a
   * ForeshockError (FS_DETECTOR_PARAMS) naming every problem of an invalid set.
   */
  constructor(profiles: readonly DetectorParams[] = [DEFAULT_DETECTOR_PARAMS], options: DetectorEngineOptions = {}) {
    if (profiles.length < 1 || profiles.length > 256) {
      throw new ForeshockError('FS_DETECTOR_PARAMS', `between 1 and 256 profiles are needed (got ${profiles.length})`);
    }
    const problems: string[] = [];
    profiles.forEach((p, i) => {
      for (const e of validateDetectorParams(p)) problems.push(`profile ${i}: ${e.name}: ${e.reason}`);
    });
    if (problems.length > 0) throw new ForeshockError('FS_DETECTOR_PARAMS', problems.join('; '));
    this.profiles = profiles.map((p) => Object.freeze({ ...p }));
    this.rows = this.profiles.map((p) => new ProfileRow(p));
    let ringCap = 0;
    let seasonCap = 0;
    for (const p of profiles) {
      ringCap = Math.max(ringCap, p.window);
      seasonCap = Math.max(seasonCap, seasonBucketsOf(p));
    }
    this.table = new SeriesState(ringCap, options, seasonCap);
  }

  /** Score in [0, 1] of the last sample: the raw score, or after the likelihood when the profile has it. */
  get outScore(): number {
    if (this.lkLazy) this.finishLikelihood();
    const f = this.lastFinal;
    return f === f ? f : scoreOf(this.lastD2, this.rows[this.lastProfile].scale4);
  }

  private finishLikelihood(): void {
    this.lkLazy = false;
    const lk = normalCdf(this.lkNum / Math.sqrt(this.lkVar));
    this.lkValue = lk;
    if (lk < this.lastFinal) this.lastFinal = lk;
  }

  /** Raw score of the last sample (from its strongest standardised deviation, before the likelihood). */
  get outRawScore(): number {
    return scoreOf(this.lastD2, this.rows[this.lastProfile].scale4);
  }

  get outZ(): number {
    return this.zNum / Math.sqrt(this.zVar);
  }

  get outLower(): number {
    return this.outExpected - Math.sqrt(this.rows[this.lastProfile].bandKSq * this.bandVar);
  }

  get outUpper(): number {
    return this.outExpected + Math.sqrt(this.rows[this.lastProfile].bandKSq * this.bandVar);
  }

  /** Bytes of state per series (one record: scalars + ring, cache-line padded). */
  get bytesPerSeries(): number {
    return this.table.strideBytes;
  }

  /** Series (slots) in use. */
  get size(): number {
    return this.table.live;
  }

  /** A clean slot for a new series, using parameter profile `profile`. */
  allocSlot(profile = 0): number {
    if (!Number.isInteger(profile) || profile < 0 || profile >= this.profiles.length) {
      throw new ForeshockError('FS_DETECTOR_PROFILE', `profile ${profile} does not exist (${this.profiles.length} profiles)`);
    }
    return this.table.alloc(profile);
  }

  /** Free a slot (its state is discarded; the number is reused by a later allocSlot). */
  freeSlot(slot: number): void {
    this.table.release(slot);
  }

  isLive(slot: number): boolean {
    return this.table.isLive(slot);
  }

  /**
   * Score one sample of the series in `slot` at event time `tsMs` (ms since the epoch,
   * strictly increasing per series) and advance its state machine. Returns EVENT_NONE (0),
   * EVENT_OPENED (1), EVENT_UPDATED (2) or EVENT_RESOLVED (3); the explanation of the sample
   * is left in the `out*` fields until the next call. Samples with a non-finite value or time,
   * or a time not after the previous one, are ignored (return 0, state untouched, counted in
   * ignoredSamples). The slot must be live (not checked here: this is the hot path).
   */
  update(slot: number, tsMs: number, value: number): number {
    const t = this.table;
    const chunk = t.chunks[slot >>> t.chunkShift];
    const f64 = chunk.f64;
    const b = (slot & t.chunkMask) * t.strideF64;
    const lastTs = f64[b + F_LAST_TS];
    if (!(Math.abs(value) < MAX_ABS) || !(tsMs > lastTs) || !(tsMs < Infinity)) {
      this.ignoredSamples++;
      return EVENT_NONE;
    }
    const f32 = chunk.f32;
    const u32 = chunk.u32;
    const b4 = b * 2;
    const npos = u32[b4 + W_NPOS];
    const n = npos & 0xffff;
    if (n === 0) return this.first(chunk, b, tsMs, value);
    const small = u32[b4 + W_SMALL];

    const profile = (small >>> 8) & 0xff;
    const q = this.rows[profile];
    const x = value;
    const dtMs = tsMs - lastTs;
    const dtS = dtMs * 0.001;
    const warm = n >= q.warmupSamples;

    // -- detectors: squared standardised deviations against the state before this sample
    const mE = f64[b + F_EW_MEAN];
    const fl = q.sdFloorRel * Math.abs(mE) + q.sdFloorAbs;
    const floorSq = fl * fl;

    const W = q.window;
    const ref = f64[b + F_REF];
    const s1 = f64[b + F_S1];
    const s2 = f64[b + F_S2];
    let md: number;
    let varW: number;
    if (n >= W) {
      md = s1 * q.invW;
      varW = (s2 - s1 * md) * q.invW1;
    } else {
      md = s1 / n;
      varW = n > 1 ? (s2 - s1 * md) / (n - 1) : 0;
    }
    if (q.robust && n >= 3) {
      medianMad(f32, b4 + RING_F32, n < W ? n : W, this.scratch, this.mm);
      md = this.mm[0];
      const sdR = MAD_TO_SD * this.mm[1];
      varW = sdR * sdR;
    }
    const vW = varW > floorSq ? varW : floorSq;
    const xd = x - ref;
    const zn = n >= 3 ? xd - md : 0;

    const vE = f64[b + F_EW_VAR];
    const vEf = vE > floorSq ? vE : floorSq;
    const diffE = x - mE;
    const eNum = n >= 2 ? diffE * diffE : 0;

    const level = f64[b + F_H_LEVEL];
    const trend = f64[b + F_H_TREND];
    const phi = q.phi;
    const pred = level + phi * trend * dtS;
    const err = x - pred;
    const vR = f64[b + F_RES_VAR];
    const vRf = vR > floorSq ? vR : floorSq;
    const hNum = n >= 3 ? err * err : 0;

    // d² = the largest of zNum/vW, eNum/vEf, hNum/vRf, picked by cross-multiplication (the
    // denominators are > 0) so that no branch below waits for a division.
    const zNum = zn * zn;
    let num = zNum;
    let den = vW;
    if (eNum * den > num * vEf) {
      num = eNum;
      den = vEf;
    }
    if (hNum * den > num * vRf) {
      num = hNum;
      den = vRf;
    }

    // -- seasonal profile: bucket of this time of day (UTC), per day type when weekly; once
    //    it has history the sample must be unusual for its time of day as well (min)
    let sIdx = -1;
    let seasBit = 0;
    let seasMean = NaN;
    if (q.seasonal) {
      // UTC day of the sample: its bounds and day type are cached on the engine (every series
      // shares the calendar, and a day has thousands of samples per series), so the common
      // case is two comparisons instead of a floor and a day-of-week modulo; the day and the
      // time of day are the same numbers (see enterDay)
      let dayStart = this.dayStart;
      if (!(tsMs >= dayStart && tsMs < this.dayEnd)) {
        this.enterDay(tsMs);
        dayStart = this.dayStart;
      }
      let bucket = ((tsMs - dayStart) * q.bucketPerMs) | 0;
      if (bucket >= q.seasonBuckets) bucket = q.seasonBuckets - 1;
      const type = q.seasonWeekly ? this.dayWeekend : 0;
      const bd = b * 8 + B_DAYS_WEEKDAY + type;
      let days = chunk.u8[bd];
      if (lastTs < dayStart && days < 255) chunk.u8[bd] = ++days; // first sample of a new day
      // The bucket is a cache line of its own: touched only to update it (every
      // seasonUpdateEvery-th sample) or when the raw deviation is high enough that the time of day
      // could change a decision (score ≥ closeScore or baseline protection) or an episode is
      // under way. A low raw score is kept as it is.
      if ((n & q.seasonMask) === 0) sIdx = b4 + t.seasonF32 + 2 * (type * q.seasonBuckets + bucket);
      const judge = num >= q.seasonCutSq * den || (small & 0xff) !== STATE_NORMAL;
      const own = b4 + t.seasonF32 + 2 * (type * q.seasonBuckets + bucket);
      let j = -1;
      if (!judge) {
        // nothing to read
      } else if (days > q.seasonMinDays && f32[own] === f32[own]) j = own;
      else if (q.seasonWeekly) {
        const o = b4 + t.seasonF32 + 2 * ((1 - type) * q.seasonBuckets + bucket);
        if (chunk.u8[b * 8 + B_DAYS_WEEKDAY + 1 - type] > q.seasonMinDays && f32[o] === f32[o]) j = o;
      }
      if (j >= 0) {
        seasMean = f32[j];
        let vS = f32[j + 1];
        // Near a bucket's edge the neighbouring bucket is as much "this time of day" (the
        // market opens at 08:00 and ramps for minutes: the 08:02 sample sits between the 07:00
        // and 08:00 means): a value between the two means counts as usual.
        let lo = seasMean;
        let hi = seasMean;
        const frac = (tsMs - dayStart) * q.bucketPerMs - bucket;
        if (frac < q.seasonEdgeLo || frac > q.seasonEdgeHi) {
          const nb = frac < q.seasonEdgeLo ? (bucket === 0 ? q.seasonBuckets - 1 : bucket - 1) : bucket === q.seasonBuckets - 1 ? 0 : bucket + 1;
          const jn = j + 2 * (nb - bucket);
          const mn = f32[jn];
          if (mn === mn) {
            if (mn < lo) lo = mn;
            else hi = mn;
            const vn = f32[jn + 1];
            if (vn > vS) vS = vn;
          }
        }
        const vSf = vS > floorSq ? vS : floorSq;
        const dS = x < lo ? lo - x : x > hi ? x - hi : 0;
        const sNum = dS * dS;
        if (sNum >= q.zThresholdSq * vSf) seasBit = SEASONAL_BIT;
        if (sNum * den < num * vSf) {
          num = sNum;
          den = vSf;
        }
      }
    }

    // -- flatline: exactly the previous value again. In a series that otherwise changes on
    //    nearly every sample (under 5 % repeats before this run: a quantity measured, not a
    //    count that idles), a run of flatSamples, longer than twice any run before it, scores
    //    as an anomaly until the value moves
    let flatBit = 0;
    if (q.flatSamples > 0) {
      const b1f = b * 8;
      let run = chunk.u8[b1f + B_FLAT_RUN];
      if (x === f64[b + F_LAST_VALUE]) {
        if (run < 255) chunk.u8[b1f + B_FLAT_RUN] = ++run;
        const rep = chunk.u16[b * 4 + H_REPEATS];
        if (rep < 65_535) chunk.u16[b * 4 + H_REPEATS] = rep + 1;
        // (a series constant from its first sample never qualifies: it must have varied on
        // nearly every one of at least 2·flatSamples samples before this run)
        const before = n - run;
        if (run >= q.flatSamples && warm && run > 2 * chunk.u8[b1f + B_FLAT_MAX] && before >= 2 * q.flatSamples && (rep + 1 - run) * 20 < before) {
          num = q.flatD2 * den;
          flatBit = FLAT_BIT;
        }
      } else if (run !== 0) {
        if (run > chunk.u8[b1f + B_FLAT_MAX]) chunk.u8[b1f + B_FLAT_MAX] = run;
        chunk.u8[b1f + B_FLAT_RUN] = 0;
      }
    }

    // -- baseline protection (see the header)
    let protect = false;
    if (num > q.clipKSq * den && warm && n >= PROTECT_MIN_SAMPLES) {
      let run = small >>> 24;
      if (run < 255) run++;
      protect = run <= q.adaptSamples;
      chunk.u8[b * 8 + B_OUT_RUN] = run;
    } else if (small >>> 24 !== 0) {
      chunk.u8[b * 8 + B_OUT_RUN] = 0;
    }

    // -- rolling window: insert (clipped when protected), exact recomputation at each wrap
    let xr = xd;
    if (protect) {
      const lim = q.clipK * Math.sqrt(vW);
      if (xr > md + lim) xr = md + lim;
      else if (xr < md - lim) xr = md - lim;
    }
    let pos = npos >>> 16;
    const ri = b4 + RING_F32 + pos;
    const old = f32[ri];
    const nv = Math.fround(xr);
    f32[ri] = nv;
    pos++;
    // At the wrap the sums are recomputed exactly, at the end of this call: a call here would
    // make the compiler spill every value live across it, on every sample.
    const wrap = pos >= W;
    if (wrap) pos = 0;
    f64[b + F_S1] = s1 + (nv - old);
    f64[b + F_S2] = s2 + (nv * nv - old * old);
    u32[b4 + W_NPOS] = (pos << 16) | (n < N_MAX ? n + 1 : N_MAX);

    // -- EWMA mean and variance (West's incremental form), Holt's residual variance; both
    //    weigh 1/(samples so far) while younger than 1/α
    let a: number;
    let ar: number;
    if (n >= q.young) {
      a = q.ewmaAlpha;
      ar = q.residualAlpha;
    } else {
      a = n >= q.ewmaN ? q.ewmaAlpha : 1 / (n + 1);
      ar = n >= q.residualN ? q.residualAlpha : 1 / (n - 1);
    }
    // A protected sample teaches the band nothing: an outlier is no evidence about the normal,
    // so when a spike ends the band is where it was (a lasting shift is learnt after adaptSamples).
    if (!protect) {
      f64[b + F_EW_VAR] = (1 - a) * (vE + a * diffE * diffE);
      f64[b + F_EW_MEAN] = mE + a * diffE;
    }

    // -- Holt (error-correction form on event time)
    let dtAvg = f32[b4 + S_DT_AVG];
    // -- seasonal bucket: EWMA of level and variance weighing about seasonMemoryDays days
    //    (α = Δt / bucket length / days so far, capped); protected samples do not teach it
    //    (α = Δt / bucket length / days so far, × seasonUpdateEvery as only every such
    //    sample updates it, capped); protected samples do not teach it
    if (sIdx >= 0 && !protect) {
      const mu = f32[sIdx];
      if (mu !== mu) {
        f32[sIdx] = x;
        f32[sIdx + 1] = 0;
      } else {
        const days = chunk.u8[b * 8 + B_DAYS_WEEKDAY + ((sIdx - b4 - t.seasonF32) >= 2 * q.seasonBuckets ? 1 : 0)];
        const dtc = dtAvg > 0 && dtMs > DT_GAP_CAP * dtAvg ? DT_GAP_CAP * dtAvg : dtMs;
        let as = (q.seasonEvery * dtc * q.bucketPerMs) / (days < q.seasonMemoryDays ? days : q.seasonMemoryDays);
        if (as > 1) as = 1;
        const ds = x - mu;
        f32[sIdx] = mu + as * ds;
        f32[sIdx + 1] = (1 - as) * (f32[sIdx + 1] + as * ds * ds);
      }
    }
    let newTrend: number;
    if (n === 1) {
      f64[b + F_H_LEVEL] = x;
      newTrend = err / dtS;
      dtAvg = dtMs;
    } else {
      // Protected: the level follows its own trend, the trend and its residual learn nothing.
      const ec = protect ? 0 : err;
      if (!protect) f64[b + F_RES_VAR] = vR + ar * (err * err - vR);
      f64[b + F_H_LEVEL] = pred + q.holtAlpha * ec;
      const slopeDt = dtMs < 0.25 * dtAvg ? 0.00025 * dtAvg : dtS;
      newTrend = phi * trend + (q.holtAB * ec) / slopeDt;
      dtAvg += DT_ALPHA * ((dtMs < DT_GAP_CAP * dtAvg ? dtMs : DT_GAP_CAP * dtAvg) - dtAvg);
    }
    f64[b + F_H_TREND] = newTrend;
    f32[b4 + S_DT_AVG] = dtAvg;

    // -- bookkeeping and explanation (divisions here feed stores only)
    if (q.fillRun) fillRunAdd(f64, f32, chunk.u16, b, q.breachDir, lastTs, f64[b + F_LAST_VALUE], tsMs, x);
    f64[b + F_LAST_TS] = tsMs;
    f64[b + F_LAST_VALUE] = x;
    const d2 = num / den;
    // Math.min, not `d2 < CAP ? d2 : CAP`: a phi of a double and a module-level double
    // constant is boxed by the optimiser (a heap number per sample). d2, z2 are never NaN.
    f32[b4 + S_LAST_D2] = Math.min(d2, D2_CAP);
    const z2 = zNum / vW;
    const z2c = Math.min(z2, Z2_CAP);
    f32[b4 + S_LAST_Z2] = zn < 0 ? -z2c : z2c;
    this.outValue = x;
    this.outExpected = mE;
    this.bandVar = vEf;
    this.zNum = zn;
    this.zVar = vW;
    this.lastD2 = d2;
    this.lastProfile = profile;
    this.outTrendPerS = newTrend;
    this.outFired =
      (zNum >= q.zThresholdSq * vW ? (q.robust ? ROBUST_BIT : Z_BIT) : 0) | (eNum >= q.bandKSq * vEf ? EWMA_BIT : 0) |
      (hNum >= q.holtThresholdSq * vRf ? HOLT_BIT : 0) | seasBit | flatBit;
    this.outSeasonalExpected = seasMean;

    if (wrap) this.reanchor(f64, f32, b, b4, W);
    if (q.hasBreach) this.outBreachEvent = this.breach(f64, f32, chunk.u8, chunk.u16, b, b4, q, tsMs, n);
    else if (this.outBreachEvent !== 0) this.outBreachEvent = 0;
    if (q.hasSaturation) this.outSaturationEvent = saturation(f64, f32, chunk.u8, b, q, tsMs, x);
    else if (this.outSaturationEvent !== 0) this.outSaturationEvent = 0;

    // -- state machine (normal and below openScore is the common case: no call, no episode)
    if (q.likelihood === 0) {
      if (this.lastFinal === this.lastFinal) {
        this.lastFinal = NaN;
        this.lkLazy = false;
      }
      if ((small & 0xff) === STATE_NORMAL && num * num < q.openD4 * den * den) {
        this.outEpisodeStart = NaN;
        return EVENT_NONE;
      }
      const code = advanceState(f64, f32, chunk.u8, b, b4, b * 8, q, tsMs, scoreOf(d2, q.scale4), warm);
      this.outEpisodeStart = f64[b + F_EPISODE_START];
      return code;
    }
    const score = this.likelihoodScore(f32, b4, q, scoreOf(d2, q.scale4), n, (small & 0xff) === STATE_NORMAL);
    if ((small & 0xff) === STATE_NORMAL && score < q.openScore) {
      this.outEpisodeStart = NaN;
      return EVENT_NONE;
    }
    const code = advanceState(f64, f32, chunk.u8, b, b4, b * 8, q, tsMs, score, warm);
    this.outEpisodeStart = f64[b + F_EPISODE_START];
    return code;
  }

  /**
   * Anomaly likelihood (after Numenta's): the short EWMA of the raw score against the long
   * EWMA mean and variance of the raw score, through the Gaussian CDF. While the series is
   * younger than its warm-up the likelihood is not used (the final score is the raw one).
   * Returns the final score and leaves it (and the likelihood) in the out fields.
   */
  private likelihoodScore(f32: Float32Array, b4: number, q: ProfileRow, raw: number, n: number, normal: boolean): number {
    let sh = f32[b4 + S_LK_SHORT];
    const lm = f32[b4 + S_LK_MEAN];
    const lv = f32[b4 + S_LK_VAR];
    const as = n < q.lkShortN ? 1 / n : q.lkShortAlpha;
    sh += as * (raw - sh);
    f32[b4 + S_LK_SHORT] = sh;
    let final = raw;
    let lk = NaN;
    let lazy = false;
    if (n >= q.warmupSamples && n >= 2) {
      if (q.likelihood === 1 && normal && raw < q.openScore) {
        // min(raw, likelihood) < openScore whatever the likelihood: finish it only when read
        lazy = true;
        this.lkNum = sh - lm;
        this.lkVar = lv + LK_VAR_FLOOR;
      } else {
        // unary + makes the call's (tagged) result a double: else `final` below becomes a
        // tagged phi and the common path boxes `raw` into a heap number per sample
        lk = +normalCdf((sh - lm) / Math.sqrt(lv + LK_VAR_FLOOR));
        final = q.likelihood === 1 ? (lk < raw ? lk : raw) : lk;
      }
    }
    const al = n < q.lkLongN ? 1 / n : q.lkLongAlpha;
    const d = raw - lm;
    f32[b4 + S_LK_MEAN] = lm + al * d;
    f32[b4 + S_LK_VAR] = (1 - al) * (lv + al * d * d);
    // (a lazy sample stores its raw score: an upper bound below openScore, what inspect shows)
    f32[b4 + S_LAST_SCORE] = final;
    this.lkValue = lk;
    this.lkLazy = lazy;
    this.lastFinal = final;
    return final;
  }

  /**
   * Forecast breach, per sample of a profile with a breachThreshold: the breach is predicted
   * while the confident edge of the Holt forecast (mean ∓ breachZ·σ(h)) is at or beyond the
   * threshold at now, ¼, ½ or all of breachHorizon; once active it stays predicted while the
   * mean path alone gets there within twice the horizon (hysteresis). Pending → active after
   * breachHold (EVENT_FORECAST_BREACH), active → clearing → none after breachClear
   * (EVENT_BREACH_CLEARED).
   */
  private breach(f64: Float64Array, f32: Float32Array, u8: Uint8Array, u16: Uint16Array, b: number, b4: number, q: ProfileRow, t: number, n: number): number {
    const b1 = b * 8;
    const st = u8[b1 + B_BREACH];
    if (n < 3) return EVENT_NONE;
    const active = st === BREACH_ACTIVE || st === BREACH_CLEARING;
    // The residual variance as measured: the scoring floors (sdFloorRel, sdFloorAbs) exist so a
    // flat series does not score infinitely, and would widen a slow fill's interval tenfold.
    const m = f64[b + F_EW_MEAN];
    const fl = 1e-6 * Math.abs(m) + 1e-12;
    const v = f64[b + F_RES_VAR];
    const resVar = v > fl * fl ? v : fl * fl;
    const z = active ? 0 : q.breachZ;
    const horizon = active ? 2 * q.breachHorizonMs : q.breachHorizonMs;
    const level = f64[b + F_H_LEVEL];
    const holt = breachPredicted(level, f64[b + F_H_TREND], Math.sqrt(resVar), f32[b4 + S_DT_AVG], q, z, horizon);
    let predicted = holt;
    if (q.seasonal) {
      // With a rhythm learned, the profile's own path decides; the Holt trend still counts
      // unless the profile itself climbs by a quarter of its daily range or more from just
      // before now to the horizon (a market-open ramp is the rhythm, a filling disk is not).
      const seasonal = this.seasonalBreach(f32, u8, b4, b1, q, t, level, resVar, z, horizon);
      if (seasonal !== null) predicted = seasonal || (holt && !(this.profileRise >= 0.25 * this.profileRange));
    }
    if (q.trendHorizonMs > 0 && this.longTrend(f64, f32, u8, b, b4, b1, q, t, active)) predicted = true;
    // A fast fill: the current run of steps gets there at its slow edge, within the horizon.
    const x = f64[b + F_LAST_VALUE];
    const run = q.fillRun ? fillRunCrossing(f64, f32, u16, b, q.breachDir, t, x, q.breachThreshold, q.breachZ) : NaN;
    if (run <= horizon) predicted = true;
    // Already at or beyond the threshold the forecast is about: that is saturation, not a forecast.
    if (!active && q.breachDir * (f64[b + F_LAST_VALUE] - q.breachThreshold) >= 0) predicted = false;
    switch (st) {
      case BREACH_NONE:
        if (!predicted) return EVENT_NONE;
        if (q.breachHoldMs <= 0) {
          u8[b1 + B_BREACH] = BREACH_ACTIVE;
          return EVENT_FORECAST_BREACH;
        }
        u8[b1 + B_BREACH] = BREACH_PENDING;
        f64[b + F_BREACH_SINCE] = t;
        return EVENT_NONE;
      case BREACH_PENDING:
        if (!predicted) {
          u8[b1 + B_BREACH] = BREACH_NONE;
          f64[b + F_BREACH_SINCE] = NaN;
          return EVENT_NONE;
        }
        if (t - f64[b + F_BREACH_SINCE] < breachHold(q, level, f64[b + F_H_TREND], run)) return EVENT_NONE;
        u8[b1 + B_BREACH] = BREACH_ACTIVE;
        f64[b + F_BREACH_SINCE] = NaN;
        return EVENT_FORECAST_BREACH;
      case BREACH_ACTIVE:
        if (predicted) return EVENT_NONE;
        if (q.breachClearMs <= 0) {
          u8[b1 + B_BREACH] = BREACH_NONE;
          return EVENT_BREACH_CLEARED;
        }
        u8[b1 + B_BREACH] = BREACH_CLEARING;
        f64[b + F_BREACH_SINCE] = t;
        return EVENT_NONE;
      default:
        if (predicted) {
          u8[b1 + B_BREACH] = BREACH_ACTIVE;
          f64[b + F_BREACH_SINCE] = NaN;
          return EVENT_NONE;
        }
        if (t - f64[b + F_BREACH_SINCE] < q.breachClearMs) return EVENT_NONE;
        u8[b1 + B_BREACH] = BREACH_NONE;
        f64[b + F_BREACH_SINCE] = NaN;
        return EVENT_BREACH_CLEARED;
    }
  }

  /**
   * Feeds the sample to the series' long trend (the value, or its offset from the seasonal
   * profile once the profile has history: the trend of a series with a rhythm is the trend of
   * its offsets) and, when a block closed, re-tests the breach on the new line. Returns the
   * long trend's verdict as of its last block close.
   */
  private longTrend(f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, b4: number, b1: number, q: ProfileRow, t: number, active: boolean): boolean {
    const x = f64[b + F_LAST_VALUE];
    const cur = u8[b1 + B_LT_MODE];
    let mode = LT_MODE_RAW;
    let y = x;
    if (q.seasonal) {
      const mu = this.seasonalExpectedAt(f32, u8, b4, b1, q, t);
      if (mu === mu) {
        mode = LT_MODE_DESEASONAL;
        y = x - mu;
      } else if ((cur & 0x7f) === LT_MODE_DESEASONAL) {
        return (cur & LT_PREDICTED_BIT) !== 0; // an hour the profile has not seen: skip the sample
      }
    }
    const o = b + F_LT;
    const o32 = b4 + S_LT;
    if ((cur & 0x7f) !== mode) {
      // raw → offsets once the profile has history: the values mean something else now
      longTrendReset(f64, o, f32, o32);
      u8[b1 + B_LT_MODE] = mode;
    }
    if (!longTrendAdd(f64, o, f32, o32, t, y, q.trendBlockMs, q.trendLambda)) return (u8[b1 + B_LT_MODE] & LT_PREDICTED_BIT) !== 0;
    const hit = this.longTrendPredicts(f64, f32, u8, b, b4, b1, q, t, mode, active);
    u8[b1 + B_LT_MODE] = mode | (hit ? LT_PREDICTED_BIT : 0);
    return hit;
  }

  /**
   * Whether the confident edge of the long trend (line ∓ breachZ·σ(τ), plus the seasonal profile
   * when the line is of offsets) reaches the threshold at an eighth, a quarter, … or all of
   * trendHorizon; once the breach is active, the line alone within twice that (hysteresis, as
   * for Holt). The line must head towards the threshold and still fit the latest blocks.
   */
  private longTrendPredicts(f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, b4: number, b1: number, q: ProfileRow, t: number, mode: number, active: boolean): boolean {
    const out = this.ltOut;
    const o = b + F_LT;
    if (!longTrendLine(f64, o, f32, b4 + S_LT, q.trendBlockMs, t, out)) return false;
    const dir = q.breachDir;
    const slope = out[1];
    if (!(dir * slope > 0) || longTrendBent(f32, b4 + S_LT, dir, out[2])) return false;
    const z = active ? 0 : q.breachZ;
    const horizon = active ? 2 * q.trendHorizonMs : q.trendHorizonMs;
    for (let k = 1; k <= 8; k++) {
      const ahead = (k * horizon) / 8;
      let mean = out[0] + slope * ahead;
      if (mode === LT_MODE_DESEASONAL) {
        const mu = this.seasonalExpectedAt(f32, u8, b4, b1, q, t + ahead);
        if (mu !== mu) continue;
        mean += mu;
      }
      const half = z * out[2] * longTrendSdFactor(f64, o, q.trendBlockMs, t, ahead);
      if (dir * (mean - q.breachThreshold) - half >= 0) return true;
    }
    return false;
  }

  /**
   * Time (ms since epoch) the long trend's line reaches `threshold`, as [expected, earliest,
   * latest] (the mean path, the near and far edges of its forecastZ interval), scanning up to
   * forecastCapMs in 256 steps; all NaN when the line is not usable, heads away, or the mean
   * path does not get there; latest alone NaN when the far edge does not.
   */
  private longTrendCrossing(slot: number, threshold: number, out: Float64Array): void {
    out[0] = NaN;
    out[1] = NaN;
    out[2] = NaN;
    const { f64, f32, u8, b, b4, b1 } = this.locate(slot);
    const q = this.rows[u8[b1 + B_PROFILE]];
    const mode = u8[b1 + B_LT_MODE] & 0x7f;
    const t = f64[b + F_LAST_TS];
    const line = this.ltOut;
    if (q.trendHorizonMs <= 0 || mode === 0 || !longTrendLine(f64, b + F_LT, f32, b4 + S_LT, q.trendBlockMs, t, line)) return;
    const dir = threshold > line[0] ? 1 : -1;
    if (!(dir * line[1] > 0) || longTrendBent(f32, b4 + S_LT, dir, line[2])) return;
    const steps = 256;
    for (let k = 1; k <= steps; k++) {
      const ahead = (k * q.forecastCapMs) / steps;
      let mean = line[0] + line[1] * ahead;
      if (mode === LT_MODE_DESEASONAL) {
        const mu = this.seasonalExpectedAt(f32, u8, b4, b1, q, t + ahead);
        if (mu !== mu) continue;
        mean += mu;
      }
      const half = q.forecastZ * line[2] * longTrendSdFactor(f64, b + F_LT, q.trendBlockMs, t, ahead);
      if (out[1] !== out[1] && dir * (mean - threshold) + half >= 0) out[1] = t + ahead;
      if (out[0] !== out[0] && dir * (mean - threshold) >= 0) out[0] = t + ahead;
      if (dir * (mean - threshold) - half >= 0) {
        out[2] = t + ahead;
        break;
      }
    }
    if (out[0] !== out[0]) out[1] = NaN;
  }

  /**
   * Caches the UTC day containing tsMs (finite): the day number by a multiplication, fixed
   * up where the product rounds across midnight, so dayStart = day·DAY exactly and
   * tsMs − dayStart is the exact time of day.
   */
  private enterDay(tsMs: number): void {
    let day = Math.floor(tsMs * INV_DAY);
    const tod = tsMs - day * DAY;
    if (tod < 0) day -= 1;
    else if (tod >= DAY) day += 1;
    let dow = ((day | 0) + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    if (dow < 0) dow += 7;
    this.dayStart = day * DAY;
    this.dayEnd = day * DAY + DAY;
    this.dayWeekend = dow === 0 || dow === 6 ? 1 : 0;
  }

  /** First sample of a series: baselines start at the value. */
  private first(chunk: Chunk, b: number, tsMs: number, x: number): number {
    const f64 = chunk.f64;
    const f32 = chunk.f32;
    const b4 = b * 2;
    f64[b + F_LAST_TS] = tsMs;
    f64[b + F_LAST_VALUE] = x;
    f64[b + F_REF] = x;
    f64[b + F_S1] = 0;
    f64[b + F_S2] = 0;
    f32[b4 + RING_F32] = 0;
    chunk.u32[b4 + W_NPOS] = (1 << 16) | 1;
    f64[b + F_EW_MEAN] = x;
    f64[b + F_EW_VAR] = 0;
    f64[b + F_H_LEVEL] = x;
    f64[b + F_H_TREND] = 0;
    f64[b + F_RES_VAR] = 0;
    f32[b4 + S_DT_AVG] = 0;
    f64[b + F_STATE_SINCE] = NaN;
    f32[b4 + S_LAST_D2] = 0;
    f32[b4 + S_LAST_Z2] = 0;
    f32[b4 + S_LK_SHORT] = 0;
    f32[b4 + S_LK_MEAN] = 0;
    f32[b4 + S_LK_VAR] = 0;
    f32[b4 + S_LAST_SCORE] = 0;
    const q = this.rows[chunk.u8[b * 8 + B_PROFILE]];
    if (q.seasonal) {
      const day = Math.floor(tsMs / DAY);
      const dow = (((day + 4) % 7) + 7) % 7;
      chunk.u8[b * 8 + B_DAYS_WEEKDAY + (q.seasonWeekly && (dow === 0 || dow === 6) ? 1 : 0)] = 1;
    }
    this.lastFinal = q.likelihood === 0 ? NaN : 0;
    this.lkValue = NaN;
    this.lkLazy = false;
    this.outSeasonalExpected = NaN;
    this.outBreachEvent = 0;
    this.outSaturationEvent = q.hasSaturation ? saturation(f64, f32, chunk.u8, b, q, tsMs, x) : 0;
    this.outValue = x;
    this.outExpected = x;
    this.bandVar = 0;
    this.lastD2 = 0;
    this.zNum = 0;
    this.zVar = 1;
    this.outTrendPerS = 0;
    this.outFired = 0;
    this.outEpisodeStart = NaN;
    return EVENT_NONE;
  }

  /**
   * Once per W samples: move the anchor to the window mean, re-store the ring relative to it
   * and recompute the sums exactly, so running-sum drift never outlives one window and the
   * Float32 ring keeps ~7 significant digits of the deviations however large the level.
   */
  private reanchor(f64: Float64Array, f32: Float32Array, b: number, b4: number, W: number): void {
    const r0 = b4 + RING_F32;
    let s = 0;
    for (let j = 0; j < W; j++) s += f32[r0 + j];
    // Shift by what the anchor actually moves (ref + m rounds at the anchor's magnitude), so
    // every stored value keeps representing the same sample.
    const ref = f64[b + F_REF];
    const newRef = ref + s / W;
    const m = newRef - ref;
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < W; j++) {
      const v = Math.fround(f32[r0 + j] - m);
      f32[r0 + j] = v;
      s1 += v;
      s2 += v * v;
    }
    f64[b + F_REF] = newRef;
    f64[b + F_S1] = s1;
    f64[b + F_S2] = s2;
  }

  /**
   * The series ended (Prometheus stale marker) at `tsMs`: an open or resolving anomaly
   * resolves now (returns EVENT_RESOLVED with outFired = FIRED_STALE and the last sample's
   * explanation; the caller stamps the event with tsMs), a pending one is dropped. Baselines
   * are kept in case the series comes back.
   */
  markStale(slot: number, tsMs: number): number {
    const t = this.table;
    if (!t.isLive(slot) || tsMs !== tsMs) return EVENT_NONE;
    const chunk = t.chunks[slot >>> t.chunkShift];
    const f64 = chunk.f64;
    const f32 = chunk.f32;
    const u8 = chunk.u8;
    const b = (slot & t.chunkMask) * t.strideF64;
    const b1 = b * 8;
    const st = u8[b1 + B_STATE];
    this.explainSlot(f64, f32, u8, b, b * 2, b1);
    if (st === STATE_PENDING) {
      u8[b1 + B_STATE] = STATE_NORMAL;
      f64[b + F_STATE_SINCE] = NaN;
      return EVENT_NONE;
    }
    if (st !== STATE_OPEN && st !== STATE_RESOLVING) return EVENT_NONE;
    this.outFired = STALE_BIT;
    return resolve(f64, u8, b, b1);
  }

  /**
   * The series is gone (stale marker, or evicted idle): ends what it has open besides an
   * anomaly (see markStale): a saturation and a forecast breach. Returns their events as bits:
   * 1 the saturation ended, 2 the forecast breach cleared.
   */
  endConditions(slot: number): number {
    const t = this.table;
    if (!t.isLive(slot)) return 0;
    const chunk = t.chunks[slot >>> t.chunkShift];
    const b1 = (slot & t.chunkMask) * t.strideBytes;
    const u8 = chunk.u8;
    let out = 0;
    const sat = u8[b1 + B_SAT];
    if (sat === SAT_ACTIVE || sat === SAT_CLEARING) out |= 1;
    u8[b1 + B_SAT] = SAT_NONE;
    const br = u8[b1 + B_BREACH];
    if (br === BREACH_ACTIVE || br === BREACH_CLEARING) out |= 2;
    u8[b1 + B_BREACH] = BREACH_NONE;
    return out;
  }

  /** Sets the out* fields from a series' stored state (last sample, current band). */
  private explainSlot(f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, b4: number, b1: number): void {
    const profile = u8[b1 + B_PROFILE];
    const q = this.rows[profile];
    const m = f64[b + F_EW_MEAN];
    const fl = q.sdFloorRel * Math.abs(m) + q.sdFloorAbs;
    const v = f64[b + F_EW_VAR];
    const z2s = f32[b4 + S_LAST_Z2];
    this.outValue = f64[b + F_LAST_VALUE];
    this.lastD2 = f32[b4 + S_LAST_D2];
    this.lastProfile = profile;
    this.outExpected = m;
    this.bandVar = v > fl * fl ? v : fl * fl;
    this.zNum = z2s < 0 ? -Math.sqrt(-z2s) : Math.sqrt(z2s);
    this.zVar = 1;
    this.outTrendPerS = f64[b + F_H_TREND];
    this.outFired = 0;
    this.outEpisodeStart = f64[b + F_EPISODE_START];
    this.lastFinal = q.likelihood === 0 ? NaN : f32[b4 + S_LAST_SCORE];
    this.lkLazy = false;
    this.outSeasonalExpected = q.seasonal ? this.seasonalExpectedAt(f32, u8, b4, b1, q, f64[b + F_LAST_TS]) : NaN;
  }

  /** The seasonal profile's expectation at time t (its own day type's bucket, once usable); NaN otherwise. */
  private seasonalExpectedAt(f32: Float32Array, u8: Uint8Array, b4: number, b1: number, q: ProfileRow, t: number): number {
    const i = this.seasonalIndex(u8, b1, q, t);
    return i < 0 ? NaN : f32[b4 + i];
  }

  /**
   * Float32 index (within the record) of the bucket mean for time t — its day type's bucket,
   * else the other day type's — when that profile has history; -1 otherwise. Cold path.
   */
  private seasonalIndex(u8: Uint8Array, b1: number, q: ProfileRow, t: number): number {
    if (!q.seasonal || !(t > -Infinity && t < Infinity)) return -1;
    const day = Math.floor(t / DAY);
    let bucket = ((t - day * DAY) * q.bucketPerMs) | 0;
    if (bucket >= q.seasonBuckets) bucket = q.seasonBuckets - 1;
    const dow = (((day + 4) % 7) + 7) % 7;
    const type = q.seasonWeekly && (dow === 0 || dow === 6) ? 1 : 0;
    if (u8[b1 + B_DAYS_WEEKDAY + type] > q.seasonMinDays) return this.table.seasonF32 + 2 * (type * q.seasonBuckets + bucket);
    if (q.seasonWeekly && u8[b1 + B_DAYS_WEEKDAY + 1 - type] > q.seasonMinDays) {
      return this.table.seasonF32 + 2 * ((1 - type) * q.seasonBuckets + bucket);
    }
    return -1;
  }

  /**
   * Breach test of a series judged by its seasonal profile: the path ahead is the profile's
   * bucket means plus the series' current offset from the profile (Holt level − expectation
   * now), the interval the bucket's spread and the one-step residual; the intraday ramp the
   * Holt trend sees at a market open is the profile's, not a trend to extrapolate. Checked
   * every eighth of the horizon. Null (the Holt test decides) when the profile has no history
   * for now or is a trend's sawtooth rather than a rhythm.
   */
  private seasonalBreach(f32: Float32Array, u8: Uint8Array, b4: number, b1: number, q: ProfileRow, t: number, level: number, resVar: number, z: number, horizonMs: number): boolean | null {
    const i0 = this.seasonalIndex(u8, b1, q, t);
    if (i0 < 0 || f32[b4 + i0] !== f32[b4 + i0]) return null;
    // A rhythm, not a trend: a series that only climbs learns a sawtooth profile (each hour
    // higher than the last, midnight far below 23:00). Its day must close on itself — the
    // jump from the last bucket to the first under half the profile's range — else the Holt
    // trend judges the breach.
    const first = this.table.seasonF32 + 2 * q.seasonBuckets * ((i0 - this.table.seasonF32) >= 2 * q.seasonBuckets ? 1 : 0);
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < q.seasonBuckets; k++) {
      const mu = f32[b4 + first + 2 * k];
      if (mu !== mu) return null;
      if (mu < lo) lo = mu;
      if (mu > hi) hi = mu;
    }
    const wrap = f32[b4 + first] - f32[b4 + first + 2 * (q.seasonBuckets - 1)];
    if ((wrap < 0 ? -wrap : wrap) > 0.5 * (hi - lo)) return null;
    const mu0 = f32[b4 + i0];
    const offset = level - mu0;
    let rise = 0;
    let hit = false;
    for (let k = 0; k <= 8; k++) {
      const i = k === 0 ? i0 : this.seasonalIndex(u8, b1, q, t + (k * horizonMs) / 8);
      if (i < 0) continue;
      const mu = f32[b4 + i];
      if (mu !== mu) continue;
      const r = q.breachDir * (mu - mu0);
      if (r > rise) rise = r;
      const half = z * Math.sqrt(f32[b4 + i + 1] + resVar);
      if (q.breachDir * (mu + offset - q.breachThreshold) - half >= 0) hit = true;
    }
    // how far the profile itself climbs towards the threshold: from its lowest in the last
    // quarter horizon (a ramp under way started there) to its highest ahead
    let base = 0;
    for (let k = -2; k < 0; k++) {
      const i = this.seasonalIndex(u8, b1, q, t + (k * horizonMs) / 8);
      if (i < 0) continue;
      const r = q.breachDir * (f32[b4 + i] - mu0);
      if (r < base) base = r;
    }
    this.profileRise = rise - base;
    this.profileRange = hi - lo;
    return hit;
  }

  /**
   * Free every live slot whose last sample is older than `nowMs − idleMs` (event time),
   * calling `onEvict(slot)` before each is freed. A slot that has had no sample yet gets one
   * idle period from the first scan that sees it. Returns the number evicted. O(slots).
   */
  evictIdle(nowMs: number, idleMs: number, onEvict?: (slot: number) => void): number {
    const t = this.table;
    const cutoff = nowMs - idleMs;
    let evicted = 0;
    for (let slot = 0; slot < t.highWater; slot++) {
      const chunk = t.chunks[slot >>> t.chunkShift];
      const f64 = chunk.f64;
      const b = (slot & t.chunkMask) * t.strideF64;
      if ((chunk.u8[b * 8 + B_FLAGS] & FLAG_LIVE) === 0) continue;
      let last = f64[b + F_LAST_TS];
      if (last === -Infinity) {
        last = f64[b + F_STATE_SINCE];
        if (last !== last) {
          f64[b + F_STATE_SINCE] = nowMs;
          continue;
        }
      }
      if (last < cutoff) {
        if (onEvict !== undefined) onEvict(slot);
        t.release(slot);
        evicted++;
      }
    }
    return evicted;
  }

  // ---- checkpoints (see checkpoint.ts for the format) ----

  /** Serialise the state of `slots` (live), in order: versioned binary, exact. */
  exportSlots(slots: ArrayLike<number>): Uint8Array {
    return exportSlots(this.table, this.rows, slots);
  }

  /**
   * Restore series exported by `exportSlots` into fresh slots of this engine; returns their
   * slot numbers in checkpoint order. Throws FS_DETECTOR_CHECKPOINT (and restores nothing)
   * when the buffer is malformed or a series' window differs from its profile here.
   */
  importSlots(buf: Uint8Array): number[] {
    return importSlots(this.table, this.rows, buf);
  }

  // ---- cold path: reads for the API, forecasts, tests ----

  /** The state as the API names it ('warmup' until warmupSamples samples). */
  stateName(slot: number): SeriesStateName {
    const { u8, u16, b1, b2 } = this.locate(slot);
    return stateNameOf(u8[b1 + B_STATE], u16[b2 + H_N] >= this.rows[u8[b1 + B_PROFILE]].warmupSamples);
  }

  /** Snapshot of a series: last sample's score, z and fired bits; the band the next sample meets. */
  inspect(slot: number): SlotSnapshot {
    const { f64, f32, u8, u16, b, b4, b1, b2 } = this.locate(slot);
    const saved = this.saveOutputs();
    this.explainSlot(f64, f32, u8, b, b4, b1);
    const snap: SlotSnapshot = {
      state: this.stateName(slot),
      samples: u16[b2 + H_N],
      lastTs: f64[b + F_LAST_TS],
      value: this.outValue,
      expected: this.outExpected,
      lower: this.outLower,
      upper: this.outUpper,
      score: this.outScore,
      z: this.outZ,
      trendPerS: this.outTrendPerS,
      episodeStart: this.outEpisodeStart,
    };
    this.restoreOutputs(saved);
    return snap;
  }

  /** Writes the rolling window's [mean, sample sd (unfloored), count] into out[0..2]. */
  windowStats(slot: number, out: Float64Array): void {
    const { f64, u8, u16, b, b1, b2 } = this.locate(slot);
    const W = this.rows[u8[b1 + B_PROFILE]].window;
    const n = u16[b2 + H_N];
    const cnt = n < W ? n : W;
    const s1 = f64[b + F_S1];
    const s2 = f64[b + F_S2];
    const md = cnt > 0 ? s1 / cnt : 0;
    const v = cnt > 1 ? (s2 - s1 * md) / (cnt - 1) : 0;
    out[0] = cnt > 0 ? f64[b + F_REF] + md : NaN;
    out[1] = cnt > 1 ? Math.sqrt(v > 0 ? v : 0) : NaN;
    out[2] = cnt;
  }

  /** Writes the EWMA [mean, variance (unfloored)] into out[0..1]. */
  ewmaStats(slot: number, out: Float64Array): void {
    const { f64, b } = this.locate(slot);
    out[0] = f64[b + F_EW_MEAN];
    out[1] = f64[b + F_EW_VAR];
  }

  /** Writes Holt's [level, trend per second, residual variance, mean interval ms] into out[0..3]. */
  holtStats(slot: number, out: Float64Array): void {
    const { f64, f32, b, b4 } = this.locate(slot);
    out[0] = f64[b + F_H_LEVEL];
    out[1] = f64[b + F_H_TREND];
    out[2] = f64[b + F_RES_VAR];
    out[3] = f32[b4 + S_DT_AVG];
  }

  /** Event time of the series' last sample (ms); -Infinity before the first. */
  lastTs(slot: number): number {
    const { f64, b } = this.locate(slot);
    return f64[b + F_LAST_TS];
  }

  /**
   * Writes [mean, lower, upper] of the Holt forecast `horizonMs` after the series' last
   * sample into out[0..2] (see forecast.ts for the interval). NaN before the first sample.
   */
  forecast(slot: number, horizonMs: number, out: Float64Array): void {
    const s = this.holtSnapshot(slot);
    if (s === null) {
      out[0] = NaN;
      out[1] = NaN;
      out[2] = NaN;
      return;
    }
    forecastHolt(s, horizonMs, out);
  }

  /**
   * Writes the predicted time (ms since the epoch) at which the series crosses `threshold`
   * into out[0..2] as [expected, earliest, latest]; NaN when it is not heading there within
   * the profile's forecastCapMs (latest alone NaN when the interval's far edge never gets
   * there within the cap). Needs three samples; NaN before. From the Holt forecast, or from the
   * long trend (series with a breach threshold) when its line gets there sooner.
   */
  timeToThreshold(slot: number, threshold: number, out: Float64Array): void {
    const s = this.holtSnapshot(slot);
    const { u8, u16, b1, b2 } = this.locate(slot);
    if (s === null || u16[b2 + H_N] < 3) {
      out[0] = NaN;
      out[1] = NaN;
      out[2] = NaN;
      return;
    }
    holtTimeToThreshold(s, threshold, this.rows[u8[b1 + B_PROFILE]].forecastCapMs, out);
    const last = this.lastTs(slot);
    out[0] += last;
    out[1] += last;
    out[2] += last;
    // The long trend speaks where Holt's interval has grown too wide to: the earlier expected
    // crossing of the two wins (a fast fill is Holt's, a slow one the line's).
    const lt = this.ltCross;
    this.longTrendCrossing(slot, threshold, lt);
    if (lt[0] === lt[0] && !(out[0] <= lt[0])) {
      out[0] = lt[0];
      out[1] = lt[1];
      out[2] = lt[2];
    }
    // A fast fill's run speaks first when it gets there sooner (series with a breach threshold).
    const q = this.rows[u8[b1 + B_PROFILE]];
    if (q.fillRun) {
      const { f64: rf, f32: r32, u16: r16, b } = this.locate(slot);
      const dir = threshold > rf[b + F_LAST_VALUE] ? 1 : -1;
      const ahead = dir === q.breachDir ? fillRunCrossing(rf, r32, r16, b, dir, last, rf[b + F_LAST_VALUE], threshold, q.forecastZ, lt) : NaN;
      if (ahead === ahead && !(out[0] <= lt[0])) {
        out[0] = lt[0];
        out[1] = lt[1];
        out[2] = lt[2];
      }
    }
  }

  private holtSnapshot(slot: number): HoltSnapshot | null {
    const { f64, f32, u8, u16, b, b4, b1, b2 } = this.locate(slot);
    if (u16[b2 + H_N] === 0) return null;
    const q = this.rows[u8[b1 + B_PROFILE]];
    const m = f64[b + F_EW_MEAN];
    const fl = q.sdFloorRel * Math.abs(m) + q.sdFloorAbs;
    const v = f64[b + F_RES_VAR];
    return {
      level: f64[b + F_H_LEVEL],
      trendPerS: f64[b + F_H_TREND],
      residualSd: Math.sqrt(v > fl * fl ? v : fl * fl),
      stepMs: f32[b4 + S_DT_AVG],
      alpha: q.holtAlpha,
      beta: q.holtBeta,
      phi: q.phi,
      z: q.forecastZ,
    };
  }

  private locate(slot: number) {
    const t = this.table;
    if (!t.isLive(slot)) throw new ForeshockError('FS_DETECTOR_SLOT', `slot ${slot} is not in use`);
    const chunk = t.chunks[slot >>> t.chunkShift];
    const b = (slot & t.chunkMask) * t.strideF64;
    return { f64: chunk.f64, f32: chunk.f32, u16: chunk.u16, u8: chunk.u8, b, b4: b * 2, b2: b * 4, b1: b * 8 };
  }

  private saveOutputs(): number[] {
    return [
      this.outValue, this.lastD2, this.lastProfile, this.outExpected, this.bandVar, this.zNum, this.zVar, this.outTrendPerS, this.outFired,
      this.outEpisodeStart, this.lastFinal, this.outSeasonalExpected, this.lkValue, this.lkLazy ? 1 : 0, this.lkNum, this.lkVar,
    ];
  }

  private restoreOutputs(s: number[]): void {
    let lazy: number;
    [
      this.outValue, this.lastD2, this.lastProfile, this.outExpected, this.bandVar, this.zNum, this.zVar, this.outTrendPerS, this.outFired,
      this.outEpisodeStart, this.lastFinal, this.outSeasonalExpected, this.lkValue, lazy, this.lkNum, this.lkVar,
    ] = s;
    this.lkLazy = lazy === 1;
  }

  /** Saturation state of a series: 'none', 'pending', 'active' or 'clearing'. */
  saturationState(slot: number): 'none' | 'pending' | 'active' | 'clearing' {
    const { u8, b1 } = this.locate(slot);
    return (['none', 'pending', 'active', 'clearing'] as const)[u8[b1 + B_SAT] & 3];
  }

  /** Start (ms) of the current or last saturation of a series (read it right after a saturation event); NaN when it never had one. */
  saturationSince(slot: number): number {
    const { f64, b } = this.locate(slot);
    const t = f64[b + F_SAT_SINCE];
    return t > 0 ? t : NaN;
  }

  /** Forecast-breach state of a series: 'none', 'pending', 'active' or 'clearing'. */
  breachState(slot: number): 'none' | 'pending' | 'active' | 'clearing' {
    const { u8, b1 } = this.locate(slot);
    return (['none', 'pending', 'active', 'clearing'] as const)[u8[b1 + B_BREACH] & 3];
  }

  /**
   * `timeToThreshold` against the series' profile breachThreshold (out all NaN when the
   * profile has none); see timeToThreshold.
   */
  /** Index (into the constructor's profiles) of the profile `slot` runs with. */
  profileIndex(slot: number): number {
    const { u8, b1 } = this.locate(slot);
    return u8[b1 + B_PROFILE];
  }

    timeToBreach(slot: number, out: Float64Array): void {
    const { u8, b1 } = this.locate(slot);
    const q = this.rows[u8[b1 + B_PROFILE]];
    if (!q.hasBreach) {
      out[0] = NaN;
      out[1] = NaN;
      out[2] = NaN;
      return;
    }
    this.timeToThreshold(slot, q.breachThreshold, out);
  }
}

/**
 * How long a predicted breach must hold before it warns: breachHold, but never more than a
 * quarter of the time the trend needs to get there — a disk that fills in three minutes must
 * not wait five to be announced (the prediction still has to persist over several samples).
 */
function breachHold(q: ProfileRow, level: number, trendPerS: number, runAheadMs: number): number {
  const gap = q.breachThreshold - level;
  let ttbMs = trendPerS * gap > 0 ? (gap / trendPerS) * 1000 : Infinity;
  if (runAheadMs < ttbMs) ttbMs = runAheadMs;
  const quarter = 0.25 * ttbMs;
  return quarter < q.breachHoldMs ? quarter : q.breachHoldMs;
}

/**
 * Saturation of a signal (its catalogue threshold): none → pending when the value is at or
 * beyond saturationThreshold (in breachDirection) → active after saturationFor (EVENT_SATURATED);
 * active → clearing when back on the safe side → none after saturationClear
 * (EVENT_SATURATION_CLEARED). Needs no warm-up: a threshold means the same on the first sample.
 */
function saturation(f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, q: ProfileRow, t: number, x: number): number {
  const b1 = b * 8;
  const st = u8[b1 + B_SAT];
  const beyond = q.breachDir * (x - q.saturationThreshold) >= 0;
  if (st === SAT_NONE) {
    if (!beyond) return EVENT_NONE;
    if (q.saturationForMs <= 0) {
      u8[b1 + B_SAT] = SAT_ACTIVE;
      return EVENT_SATURATED;
    }
    u8[b1 + B_SAT] = SAT_PENDING;
    f64[b + F_SAT_SINCE] = t;
    return EVENT_NONE;
  }
  if (st === SAT_PENDING) {
    if (!beyond) {
      u8[b1 + B_SAT] = SAT_NONE;
      return EVENT_NONE;
    }
    if (t - f64[b + F_SAT_SINCE] < q.saturationForMs) return EVENT_NONE;
    u8[b1 + B_SAT] = SAT_ACTIVE;
    return EVENT_SATURATED;
  }
  if (st === SAT_ACTIVE) {
    if (beyond) return EVENT_NONE;
    if (q.saturationClearMs <= 0) {
      u8[b1 + B_SAT] = SAT_NONE;
      return EVENT_SATURATION_CLEARED;
    }
    u8[b1 + B_SAT] = SAT_CLEARING;
    f32[b * 2 + S_SAT_CLEAR] = (t - f64[b + F_SAT_SINCE]) * 0.001;
    return EVENT_NONE;
  }
  // clearing
  if (beyond) {
    u8[b1 + B_SAT] = SAT_ACTIVE;
    return EVENT_NONE;
  }
  if (t - f64[b + F_SAT_SINCE] - 1000 * f32[b * 2 + S_SAT_CLEAR] < q.saturationClearMs) return EVENT_NONE;
  u8[b1 + B_SAT] = SAT_NONE;
  return EVENT_SATURATION_CLEARED;
}

/** Floor of the long score variance of the likelihood (σ ≥ 0.01), so a series that always scored 0 is not infinitely sensitive. */
const LK_VAR_FLOOR = 1e-4;

/**
 * Whether the confident edge of the forecast (mean − z·σ(h) towards the threshold) reaches the
 * threshold now or at any of horizon/256, horizon/128, … horizon/2, horizon.
 */
function breachPredicted(level: number, trendPerS: number, residualSd: number, stepMs: number, q: ProfileRow, z: number, horizonMs: number): boolean {
  const step = stepMs > 0 ? stepMs : 1000;
  const dir = q.breachDir;
  const thr = q.breachThreshold;
  // Now, then horizon/2⁸ … horizon/2, horizon: the interval grows like h^1.5, so a crossing a
  // few minutes ahead is only confident at a few minutes, and a slow one only far ahead.
  for (let k = -1; k <= 8; k++) {
    const tMs = k < 0 ? 0 : horizonMs / (1 << (8 - k));
    const h = tMs / step;
    const mean = level + trendPerS * (step / 1000) * dampedSteps(q.phi, h);
    const half = z * residualSd * Math.sqrt(holtVarianceFactor(q.holtAlpha, q.holtBeta, h));
    if (dir * (mean - thr) - half >= 0) return true;
  }
  return false;
}

/** Standard normal CDF Φ(z) (Abramowitz & Stegun 7.1.26 for erf: absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = (z < 0 ? -z : z) * Math.SQRT1_2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  // y = erfc(x) = 1 − erf(x)
  return z < 0 ? 0.5 * y : 1 - 0.5 * y;
}

/** Score in [0, 1) of a squared standardised deviation: d⁴ / (d⁴ + scale⁴). */
function scoreOf(d2: number, scale4: number): number {
  const d4 = d2 * d2;
  return d4 / (d4 + scale4);
}

