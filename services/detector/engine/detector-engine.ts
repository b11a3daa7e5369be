// The detector engine: per-sample scoring of millions of series in O(1), allocation-free.
// Samples come in with their event time (a replay behaves like live data); the detector stage
// maps series keys to the slots this engine hands out, calls `update` per sample and turns the
// returned event codes into events, reading the explanation from the `out*` fields.
//
// Per sample, against the series' state before the sample:
//   rolling z  = (x − mean_W) / sd_W        over the last W samples (ring with running sums)
//   EWMA dev   = (x − m) / σ_e             m, σ_e² exponentially weighted (control band m ± kσ_e)
//   Holt dev   = (x − (ℓ + φ·b·Δt)) / σ_r   one-step error of Holt's linear trend on event time
//   d          = max(|z|, |EWMA dev|, |Holt dev|)
//   score      = d⁴ / (d⁴ + c⁴)            c = scoreScale (score 0.5 at d = c)
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
import { forecastHolt, holtTimeToThreshold, type HoltSnapshot } from './forecast.js';
import * as layout from './layout.js';
import { DEFAULT_DETECTOR_PARAMS, ProfileRow, validateDetectorParams, type DetectorParams } from './params.js';
import { SeriesState, type Chunk, type SeriesStateOptions } from './series-state.js';
import * as machine from './state-machine.js';
import { stateNameOf } from './state-machine.js';

// Module-local bindings of everything the hot loop names. V8 folds a module-level const into
// the machine code, but not an imported binding (a cell load and check per use in native
// ESM, a getter call per use under tsx's transform: 10× the arithmetic).
const {
  B_FLAGS, B_OUT_RUN, B_PROFILE, B_STATE, F_EPISODE_START, F_EW_MEAN, F_EW_VAR, F_H_LEVEL, F_H_TREND, F_LAST_TS,
  F_LAST_VALUE, F_REF, F_RES_VAR, F_S1, F_S2, F_STATE_SINCE, FLAG_LIVE, H_N, H_POS, N_MAX, RING_F32, S_DT_AVG,
  S_LAST_D2, S_LAST_Z2, W_NPOS, W_SMALL,
} = layout;
const { advanceState, resolve, EVENT_NONE, STATE_NORMAL, STATE_OPEN, STATE_PENDING, STATE_RESOLVING } = machine;

// Hot-loop constants are module-local; the exported names below are copies (an exported
// binding is a cell load per use).
const Z_BIT = 1;
const EWMA_BIT = 2;
const HOLT_BIT = 4;
const STALE_BIT = 32;
const MAX_ABS = 1e30;
/** Bits of `outFired`. */
export const FIRED_ZSCORE = Z_BIT;
export const FIRED_EWMA = EWMA_BIT;
export const FIRED_HOLT = HOLT_BIT;
/** Reserved for the next detectors (seasonal profile, robust median/MAD). */
export const FIRED_SEASONAL = 8;
export const FIRED_ROBUST = 16;
export const FIRED_STALE = STALE_BIT;

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
    for (const p of profiles) ringCap = Math.max(ringCap, p.window);
    this.table = new SeriesState(ringCap, options);
  }

  get outScore(): number {
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
    let diff = diffE;
    if (protect) {
      const lim = q.clipK * Math.sqrt(vEf);
      if (diff > lim) diff = lim;
      else if (diff < -lim) diff = -lim;
    } else {
      f64[b + F_EW_VAR] = (1 - a) * (vE + a * diff * diff);
    }
    f64[b + F_EW_MEAN] = mE + a * diff;

    // -- Holt (error-correction form on event time)
    let dtAvg = f32[b4 + S_DT_AVG];
    let newTrend: number;
    if (n === 1) {
      f64[b + F_H_LEVEL] = x;
      newTrend = err / dtS;
      dtAvg = dtMs;
    } else {
      let ec = err;
      if (protect) {
        const lim = q.clipK * Math.sqrt(vRf);
        if (ec > lim) ec = lim;
        else if (ec < -lim) ec = -lim;
      } else {
        f64[b + F_RES_VAR] = vR + ar * (err * err - vR);
      }
      f64[b + F_H_LEVEL] = pred + q.holtAlpha * ec;
      const slopeDt = dtMs < 0.25 * dtAvg ? 0.00025 * dtAvg : dtS;
      newTrend = phi * trend + (q.holtAB * ec) / slopeDt;
      dtAvg += DT_ALPHA * ((dtMs < DT_GAP_CAP * dtAvg ? dtMs : DT_GAP_CAP * dtAvg) - dtAvg);
    }
    f64[b + F_H_TREND] = newTrend;
    f32[b4 + S_DT_AVG] = dtAvg;

    // -- bookkeeping and explanation (divisions here feed stores only)
    f64[b + F_LAST_TS] = tsMs;
    f64[b + F_LAST_VALUE] = x;
    const d2 = num / den;
    f32[b4 + S_LAST_D2] = d2 < D2_CAP ? d2 : D2_CAP;
    const z2 = zNum / vW;
    const z2c = z2 < Z2_CAP ? z2 : Z2_CAP;
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
      (zNum >= q.zThresholdSq * vW ? Z_BIT : 0) | (eNum >= q.bandKSq * vEf ? EWMA_BIT : 0) | (hNum >= q.holtThresholdSq * vRf ? HOLT_BIT : 0);

    if (wrap) this.reanchor(f64, f32, b, b4, W);

    // -- state machine (normal and below openScore is the common case: no call, no episode)
    if ((small & 0xff) === STATE_NORMAL && num * num < q.openD4 * den * den) {
      this.outEpisodeStart = NaN;
      return EVENT_NONE;
    }
    const code = advanceState(f64, f32, chunk.u8, b, b4, b * 8, q, tsMs, scoreOf(d2, q.scale4), warm);
    this.outEpisodeStart = f64[b + F_EPISODE_START];
    return code;
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
   * there within the cap). Needs three samples; NaN before.
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
    return [this.outValue, this.lastD2, this.lastProfile, this.outExpected, this.bandVar, this.zNum, this.zVar, this.outTrendPerS, this.outFired, this.outEpisodeStart];
  }

  private restoreOutputs(s: number[]): void {
    [this.outValue, this.lastD2, this.lastProfile, this.outExpected, this.bandVar, this.zNum, this.zVar, this.outTrendPerS, this.outFired, this.outEpisodeStart] = s;
  }
}

/** Score in [0, 1) of a squared standardised deviation: d⁴ / (d⁴ + scale⁴). */
function scoreOf(d2: number, scale4: number): number {
  const d4 = d2 * d2;
  return d4 / (d4 + scale4);
}

