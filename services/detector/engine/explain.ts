// Cold path from the engine's numeric outputs to the Explanation an event carries (and the
// one-line summary alerts show). Runs only when `update` or `markStale` returned an event.

import type { DetectorName, Explanation } from '../../../shared/model/index.js';
import {
  FIRED_EWMA, FIRED_FLAT, FIRED_HOLT, FIRED_ROBUST, FIRED_SEASONAL, FIRED_STALE, FIRED_ZSCORE, type EngineOutputs,
} from './detector-engine.js';

const NAMES: readonly [number, DetectorName][] = [
  [FIRED_ZSCORE, 'zscore'],
  [FIRED_EWMA, 'ewma'],
  [FIRED_HOLT, 'holt'],
  [FIRED_SEASONAL, 'seasonal'],
  [FIRED_ROBUST, 'robust'],
  [FIRED_STALE, 'stale'],
  [FIRED_FLAT, 'flatline'],
];

/** Detector names of a FIRED_* bitmask, in a fixed order. */
export function firedNames(bits: number): DetectorName[] {
  const out: DetectorName[] = [];
  for (const [bit, name] of NAMES) if ((bits & bit) !== 0) out.push(name);
  return out;
}

/**
 * The explanation of the engine's last sample (pass the engine right after the `update` or
 * `markStale` that returned the event), e.g. summary
 * "value 97.2 above expected 41.0 (band 35.1–46.9, z=8.4) — zscore, ewma".
 */
export function explain(o: EngineOutputs): Explanation {
  const fired = firedNames(o.outFired);
  return {
    fired,
    value: o.outValue,
    expected: o.outExpected,
    lower: o.outLower,
    upper: o.outUpper,
    z: o.outZ,
    trendPerS: o.outTrendPerS,
    score: o.outScore,
    summary: summarise(o, fired),
  };
}

function summarise(o: EngineOutputs, fired: DetectorName[]): string {
  const band = `band ${formatValue(o.outLower)}–${formatValue(o.outUpper)}`;
  if ((o.outFired & FIRED_STALE) !== 0) {
    return `series ended (stale marker); last value ${formatValue(o.outValue)}, expected ${formatValue(o.outExpected)} (${band})`;
  }
  if ((o.outFired & FIRED_FLAT) !== 0) {
    return `value stuck at ${formatValue(o.outValue)}: the same value sample after sample, longer than this series ever repeated one (expected to vary around ${formatValue(o.outExpected)}, ${band}) — ${fired.join(', ')}`;
  }
  const where = o.outValue > o.outUpper ? 'above' : o.outValue < o.outLower ? 'below' : 'within band of';
  const seas = o.outSeasonalExpected;
  const usual = seas !== undefined && Number.isFinite(seas) ? `, usual for this time of day ${formatValue(seas)}` : '';
  const s = `value ${formatValue(o.outValue)} ${where} expected ${formatValue(o.outExpected)} (${band}, z=${o.outZ.toFixed(1)}${usual})`;
  return fired.length > 0 ? `${s} — ${fired.join(', ')}` : s;
}

/** Short human form of a metric value: 3–4 significant digits, exponent for huge or tiny. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return v.toPrecision(4).replace('e+', 'e');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
