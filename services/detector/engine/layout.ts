// Byte layout of one series record in the engine's state chunks (see series-state.ts for why
// records): 320 bytes of scalars, the ring (window × f32), then the seasonal buckets (per
// bucket f32 mean and f32 variance; count set by the profiles, 0 when none is seasonal).
// Everything a normal sample reads or writes sits in the first two cache lines; the third
// holds what only the state machines touch (episode times, breach timer), the fourth the
// long-horizon trend of series with a breach threshold (long-trend.ts). Shared by the
// table, the hot loop, the state machines and checkpoints; a change here changes the
// checkpoint format (bump CHECKPOINT_VERSION in checkpoint.ts, map the old one there).

// ---- line 1 (bytes 0–63): f64 indices (×8 bytes) ----
/** Event time of the last accepted sample (ms); -Infinity before the first. */
export const F_LAST_TS = 0;
/** Anchor of the ring: stored values are Float32(x − REF), re-anchored at each wrap. */
export const F_REF = 1;
/** Sum and sum of squares of the stored (anchored) ring values. */
export const F_S1 = 2;
export const F_S2 = 3;
export const F_EW_MEAN = 4;
export const F_H_LEVEL = 5;
/** Holt trend, units per second. */
export const F_H_TREND = 6;
export const F_LAST_VALUE = 7;
// ---- line 2 (bytes 64–127) ----
/** EWMA variance (σ²): variances, not σ, so the hot loop needs no square root. */
export const F_EW_VAR = 8;
/** Holt one-step residual variance. */
export const F_RES_VAR = 9;
// f32 indices (×4 bytes), from byte 80
/** Mean interval between samples (ms), EWMA. */
export const S_DT_AVG = 20;
/** d² (strongest squared standardised deviation) of the last sample, capped at 1e30; the score derives from it. */
export const S_LAST_D2 = 21;
/** Signed z² of the last sample (sign of z times z², capped at 1e30). */
export const S_LAST_Z2 = 22;
/** Anomaly likelihood: short and long EWMAs of the raw score, and the long EWMA variance. */
export const S_LK_SHORT = 23;
export const S_LK_MEAN = 24;
export const S_LK_VAR = 25;
/** Final score of the last sample (after the likelihood; the raw score when it was not needed). */
export const S_LAST_SCORE = 26;
/** Days seen per day type (weekday, weekend) by the seasonal profile, saturating at 255 (bytes 108, 109). */
export const B_DAYS_WEEKDAY = 108;
export const B_DAYS_WEEKEND = 109;
/** Forecast-breach state (BREACH_* below), byte 110. */
export const B_BREACH = 110;
export const BREACH_NONE = 0;
/** Breach predicted, waiting for breachHold before the event. */
export const BREACH_PENDING = 1;
/** Breach event sent. */
export const BREACH_ACTIVE = 2;
/** Active, prediction gone, waiting for breachClear before the cleared event. */
export const BREACH_CLEARING = 3;
/** Long trend: what its values are (LT_MODE_*), byte 111. */
export const B_LT_MODE = 111;
/** Nothing yet; raw values; values minus the seasonal profile (a change of mode restarts the trend). */
export const LT_MODE_NONE = 0;
export const LT_MODE_RAW = 1;
export const LT_MODE_DESEASONAL = 2;
/** Bit of B_LT_MODE: the long trend predicted the breach at its last block close. */
export const LT_PREDICTED_BIT = 0x80;
/**
 * Flatline: consecutive samples equal to the one before (byte 112), and the longest such run
 * the series had before its current one (byte 113); both saturate at 255.
 */
export const B_FLAT_RUN = 112;
export const B_FLAT_MAX = 113;
/** u16 index (byte 114): samples equal to the one before, in the series' life (saturating). */
export const H_REPEATS = 57;
/** Saturation state (SAT_* below), byte 116. */
export const B_SAT = 116;
export const SAT_NONE = 0;
/** At or beyond the threshold, waiting for saturationFor before the event. */
export const SAT_PENDING = 1;
/** Saturation event sent. */
export const SAT_ACTIVE = 2;
/** Active, back on the safe side, waiting for saturationClear before the cleared event. */
export const SAT_CLEARING = 3;
// (bytes 117–119 spare)
// ---- two 32-bit words at bytes 120 and 124, read and written whole by the hot loop (the
// engine requires a little-endian host, so the u16 / u8 names below alias their parts) ----
/** u32 index: samples accepted (low 16 bits, saturating) | next ring position (high 16 bits). */
export const W_NPOS = 30;
/** u32 index: state (bits 0–7) | profile (8–15) | flags (16–23) | consecutive protected samples (24–31). */
export const W_SMALL = 31;
/** u16 index of the sample count. */
export const H_N = 60;
/** u16 index of the next ring position. */
export const H_POS = 61;
export const B_STATE = 124;
export const B_PROFILE = 125;
/** Bit 7: slot in use; bit 5: the series ended (stale marker) while anomalous. */
export const B_FLAGS = 126;
/** Consecutive protected (out-of-band) samples, saturating at 255. */
export const B_OUT_RUN = 127;
export const FLAG_LIVE = 0x80;
export const FLAG_LIVE_SHIFTED = FLAG_LIVE << 16;
// ---- line 3 (bytes 128–191): state-machine times, touched only off the normal path ----
/**
 * Time the current pending / resolving condition started (ms). For a slot that has not had a
 * sample yet it holds the time an idle scan first saw it (so a slot is not evicted between
 * its allocation and its first sample); NaN otherwise.
 */
export const F_STATE_SINCE = 16;
/** Start of the current or last anomaly episode (ms); NaN when none. */
export const F_EPISODE_START = 17;
export const F_LAST_EMIT_TS = 18;
/** Time the current forecast-breach condition (pending or clearing) started (ms); NaN otherwise. */
export const F_BREACH_SINCE = 19;
/** f32 index: score of the last emitted anomaly event. */
export const S_LAST_EMIT_SCORE = 40;
/** f32 index of the long trend's f32 fields (block count, residual variance, errors, bias: LT_F32 of them). */
export const S_LT = 41;
/** Start of the current saturation (pending or saturated), ms (bytes 184–191). */
export const F_SAT_SINCE = 23;
/** f32 index (bytes 180–183): while clearing, seconds from F_SAT_SINCE to the start of the clearing. */
export const S_SAT_CLEAR = 45;
// ---- line 4 (bytes 192–255): the long trend's f64 fields (LT_F64 of them, long-trend.ts) ----
export const F_LT = 24;
// ---- line 5 (bytes 256–319): the fill run of series with a breach threshold (fill-run.ts) ----
/** f64 index: event time at the start of the current run of steps towards the threshold. */
export const F_RUN_T0 = 32;
/** f32 index: Welford mean and sum of squared deviations of the run's steps (units per second). */
export const S_RUN_MEAN = 68;
export const S_RUN_M2 = 69;
/** u16 index (byte 280): steps in the current run (saturating). */
export const H_RUN_N = 140;
// (bytes 282–319 spare)
/** Bytes of scalars before the ring. */
export const SCALAR_BYTES = 320;
/** f32 index (within a record) of the first ring value. */
export const RING_F32 = SCALAR_BYTES / 4;
export const N_MAX = 65_535;

/** Scalar bytes of version-2 records (everything but the long trend, at the same places). */
export const V2_SCALAR_BYTES = 192;
/** Scalar bytes of version-3 records (everything but the fill run, at the same places). */
export const V3_SCALAR_BYTES = 256;
/** The version-1 record (128-byte scalars) by field, for reading old checkpoints. */
export const V1_LAYOUT = {
  scalarBytes: 128,
  f64: { F_LAST_TS: 0, F_REF: 1, F_S1: 2, F_S2: 3, F_EW_MEAN: 4, F_H_LEVEL: 5, F_H_TREND: 6, F_STATE_SINCE: 7, F_EPISODE_START: 8, F_LAST_EMIT_TS: 9, F_LAST_VALUE: 10, F_EW_VAR: 11, F_RES_VAR: 12 },
  f32: { S_DT_AVG: 26, S_LAST_D2: 27, S_LAST_Z2: 28, S_LAST_EMIT_SCORE: 29 },
  /** u32 words 30 and 31 (bytes 120–127) are where they are now. */
} as const;
