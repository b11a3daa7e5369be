// Per-series anomaly lifecycle with hysteresis and minimum durations, on event time:
//   normal ─(score ≥ open, warm)→ pending ─(still ≥ open after minDuration)→ OPEN  [event 1]
//   pending ─(score < open)→ normal
//   open ─(score < close)→ resolving ─(still < close after resolveHold)→ normal  [event 3]
//   resolving ─(score ≥ close)→ open
//   open: an update [event 2] when the score reaches a new high by updateMargin (and every updateEvery when set).
// Runs inside DetectorEngine.update on the series record; returns the event code.

import type { SeriesState as SeriesStateName } from '../../../shared/model/index.js';
import * as layout from './layout.js';
import type { ProfileRow } from './params.js';

// Module-local bindings (see detector-engine.ts: imported bindings can cost a call per use).
const { B_STATE, F_EPISODE_START, F_LAST_EMIT_TS, F_STATE_SINCE, S_LAST_EMIT_SCORE } = layout;

// Module-local codes for the functions below; the exported names are copies.
const NORMAL = 0;
const PENDING = 1;
const OPEN = 2;
const RESOLVING = 3;
const NONE = 0;
const OPENED = 1;
const UPDATED = 2;
const RESOLVED = 3;

export const STATE_NORMAL = NORMAL;
export const STATE_PENDING = PENDING;
export const STATE_OPEN = OPEN;
export const STATE_RESOLVING = RESOLVING;

/** Return codes of `update` / `markStale`. */
export const EVENT_NONE = NONE;
export const EVENT_OPENED = OPENED;
export const EVENT_UPDATED = UPDATED;
export const EVENT_RESOLVED = RESOLVED;
export type EventCode = typeof EVENT_NONE | typeof EVENT_OPENED | typeof EVENT_UPDATED | typeof EVENT_RESOLVED;

/**
 * Advance one series' state for a sample scored `score` at event time `t` (ms). `b` is the
 * record's Float64 base, `b4` its Float32 base, `b1` its byte base, `q` the series' profile.
 * `warm`: the series has had its warm-up samples (a cold series never leaves normal).
 */
export function advanceState(
  f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, b4: number, b1: number,
  q: ProfileRow, t: number, score: number, warm: boolean,
): number {
  const st = u8[b1 + B_STATE];
  if (st === NORMAL) {
    if (!warm || score < q.openScore) return NONE;
    f64[b + F_STATE_SINCE] = t;
    if (q.minDurationMs > 0) {
      u8[b1 + B_STATE] = PENDING;
      return NONE;
    }
    return open(f64, f32, u8, b, b4, b1, t, score);
  }
  if (st === PENDING) {
    if (score < q.openScore) {
      u8[b1 + B_STATE] = NORMAL;
      f64[b + F_STATE_SINCE] = NaN;
      return NONE;
    }
    if (t - f64[b + F_STATE_SINCE] < q.minDurationMs) return NONE;
    return open(f64, f32, u8, b, b4, b1, t, score);
  }
  if (st === OPEN) {
    if (score < q.closeScore) {
      if (q.resolveHoldMs <= 0) return resolve(f64, u8, b, b1);
      u8[b1 + B_STATE] = RESOLVING;
      f64[b + F_STATE_SINCE] = t;
      return NONE;
    }
    // An update says something new: the score reached a new high by updateMargin (so an
    // episode has a handful of updates, not one per sample), or — only when updateEvery is set —
    // a periodic reminder.
    if (score >= f32[b4 + S_LAST_EMIT_SCORE] + q.updateMargin || (q.updateEveryMs > 0 && t - f64[b + F_LAST_EMIT_TS] >= q.updateEveryMs)) {
      f64[b + F_LAST_EMIT_TS] = t;
      f32[b4 + S_LAST_EMIT_SCORE] = score;
      return UPDATED;
    }
    return NONE;
  }
  // resolving
  if (score >= q.closeScore) {
    u8[b1 + B_STATE] = OPEN;
    f64[b + F_STATE_SINCE] = NaN;
    return NONE;
  }
  if (t - f64[b + F_STATE_SINCE] < q.resolveHoldMs) return NONE;
  return resolve(f64, u8, b, b1);
}

/** Opens the episode that started at F_STATE_SINCE. */
function open(f64: Float64Array, f32: Float32Array, u8: Uint8Array, b: number, b4: number, b1: number, t: number, score: number): number {
  u8[b1 + B_STATE] = OPEN;
  f64[b + F_EPISODE_START] = f64[b + F_STATE_SINCE];
  f64[b + F_STATE_SINCE] = NaN;
  f64[b + F_LAST_EMIT_TS] = t;
  f32[b4 + S_LAST_EMIT_SCORE] = score;
  return OPENED;
}

export function resolve(f64: Float64Array, u8: Uint8Array, b: number, b1: number): number {
  u8[b1 + B_STATE] = NORMAL;
  f64[b + F_STATE_SINCE] = NaN;
  return RESOLVED;
}

/** The state as the API names it. */
export function stateNameOf(state: number, warm: boolean): SeriesStateName {
  switch (state) {
    case PENDING:
      return 'pending';
    case OPEN:
      return 'anomalous';
    case RESOLVING:
      return 'resolving';
    default:
      return warm ? 'normal' : 'warmup';
  }
}

/**
 * Forecast-breach events, left in `DetectorEngine.outBreachEvent` (never returned by
 * `update`, whose return stays the anomaly lifecycle above).
 */
export const EVENT_FORECAST_BREACH = 4;
export const EVENT_BREACH_CLEARED = 5;
/**
 * Saturation events, left in `DetectorEngine.outSaturationEvent`: the value stayed at or
 * beyond the profile's saturationThreshold for saturationFor, and came back for saturationClear.
 */
export const EVENT_SATURATED = 6;
export const EVENT_SATURATION_CLEARED = 7;
