// One NAB data file through the production engine with the NAB profile: the function both
// `foreshock replay --nab` and `npm run bench:nab` run, so the benchmark scores exactly what
// the CLI writes.

import { DetectorEngine } from './detector-engine.js';
import type { DetectorParams } from './params.js';
import { EVENT_OPENED } from './state-machine.js';
import { NAB_PARAMS } from './profiles.js';

/**
 * Scores of one series, one per row in [0, 1]: a fresh engine with `params` (the NAB profile
 * by default), rows in order. A row scores the engine's `outScore` when its update opened an
 * anomaly (EVENT_OPENED: what would page), else 0 — NAB counts detections, and the state
 * machine's hysteresis and resolve hold are what keep one episode one detection. NAB's
 * threshold sweep then picks among the opened anomalies by their score. `onProgress(i)` is
 * called every 1024 rows.
 */
export function nabScores(
  timestampsMs: Float64Array, values: Float64Array, params: DetectorParams = NAB_PARAMS, onProgress?: (done: number) => void,
): Float64Array {
  const engine = new DetectorEngine([params], { chunkShift: 0 });
  const slot = engine.allocSlot(0);
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (engine.update(slot, timestampsMs[i], values[i]) === EVENT_OPENED) {
      const s = engine.outScore;
      out[i] = s >= 0 && s <= 1 ? s : 0;
    }
    if (onProgress !== undefined && (i & 1023) === 0) onProgress(i);
  }
  return out;
}
