// Runs a scenario series through the detector engine the way the detector service does (one
// slot per series, `update` per sample in event-time order) and records the signals it raised.

import { DetectorEngine, EVENT_FORECAST_BREACH, EVENT_OPENED } from '../../services/detector/engine/index.js';
import { renderSeries, type ScenarioSeries } from './generator.js';
import type { SeriesOutcome } from './scoring.js';

/**
 * Feeds every sample of `s` to a fresh slot of `engine` (profile `profile`), using `buf`
 * (length ≥ s.samples) for the rendered values, and frees the slot afterwards. Anomalies
 * opened count as alerts, forecast-breach events as warnings.
 */
export function runSeries(engine: DetectorEngine, s: ScenarioSeries, buf: Float64Array, profile = 0): SeriesOutcome {
  const values = buf.length === s.samples ? buf : buf.subarray(0, s.samples);
  renderSeries(s, values);
  const alerts: number[] = [];
  const warnings: number[] = [];
  const slot = engine.allocSlot(profile);
  try {
    for (let i = 0, t = s.startMs; i < values.length; i++, t += s.stepMs) {
      const code = engine.update(slot, t, values[i]);
      if (code === EVENT_OPENED) alerts.push(t);
      if (engine.outBreachEvent === EVENT_FORECAST_BREACH) warnings.push(t);
    }
  } finally {
    engine.freeSlot(slot);
  }
  return {
    troubleStartMs: s.troubleStartMs,
    windowEndMs: s.windowEndMs,
    breachMs: s.breachMs,
    scoredFromMs: s.scoredFromMs,
    endMs: s.startMs + s.samples * s.stepMs,
    alerts,
    warnings,
  };
}
