// Detectors the NAB benchmark can run: a rolling z-score baseline (NAB's windowedGaussian, as a
// sanity check on the harness) and the hook where the production DetectorEngine plugs in.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A detector as the NAB benchmark runs it: one call per data file, on a fresh series, rows in
 * file order. Returns one anomaly score in [0, 1] per row (a new array the caller owns).
 */
export interface NabDetector {
  readonly name: string;
  run(timestampsMs: Float64Array, values: Float64Array): Float64Array;
}

const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);

/** Complementary error function, absolute error about 1e-15 (Math has no erf). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // Maclaurin series of erf: below 2 its terms stay under ~20, so cancellation costs little
    // absolute accuracy, which is what a score 1 − erfc/2 needs.
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - TWO_OVER_SQRT_PI * sum;
  }
  if (x > 27) return 0;
  // Continued fraction erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
  // evaluated with the modified Lentz method; converges in under a hundred terms for x ≥ 2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (Math.exp(-x * x) * ONE_OVER_SQRT_PI) / f;
}

/** 1 − Q(|z|): the probability mass of a normal closer to the mean than z standard deviations on one side. */
export function gaussianScore(z: number): number {
  return 1 - 0.5 * erfc(Math.abs(z) * SQRT1_2);
}

/**
 * Options of the rolling z-score baseline. The defaults are those of NAB's published
 * windowedGaussian results (they reproduce its scores to 1e-12); NAB's current source reads
 * 1000 and 1, which scores higher on this corpus.
 */
export interface ZScoreOptions {
  /** Previous values the mean and deviation are taken over. */
  readonly windowSize?: number;
  /** Once the window is full it slides by this many values at a time (stats stay put in between). */
  readonly stepSize?: number;
  /** Deviation used when the window is flat. */
  readonly minStd?: number;
}

export const ZSCORE_DEFAULTS: Readonly<Required<ZScoreOptions>> = { windowSize: 6400, stepSize: 100, minStd: 1e-6 };

/**
 * Rolling z-score baseline, NAB's windowedGaussian: row i scores 1 − Q(|z|), z taken against
 * the mean and population deviation of the window before it; the first row scores 0. The
 * window grows to windowSize values, then slides by stepSize values at a time.
 */
export class ZScoreDetector implements NabDetector {
  readonly name = 'zscore';
  private readonly windowSize: number;
  private readonly stepSize: number;
  private readonly minStd: number;

  constructor(options: ZScoreOptions = {}) {
    const o = { ...ZSCORE_DEFAULTS, ...options };
    if (!Number.isInteger(o.windowSize) || o.windowSize < 1) throw new RangeError('windowSize must be an integer ≥ 1');
    if (!Number.isInteger(o.stepSize) || o.stepSize < 1 || o.stepSize > o.windowSize) {
      throw new RangeError('stepSize must be an integer in [1, windowSize]');
    }
    this.windowSize = o.windowSize;
    this.stepSize = o.stepSize;
    this.minStd = o.minStd;
  }

  run(_timestampsMs: Float64Array, values: Float64Array): Float64Array {
    const n = values.length;
    const w = this.windowSize;
    const step = this.stepSize;
    const out = new Float64Array(n);
    const ring = new Float64Array(w);
    let pendingCount = 0;
    let count = 0;
    let head = 0; // oldest value once the ring is full
    let ref = 0;
    let s1 = 0;
    let s2 = 0;
    let mean = 0;
    let std = 1;
    for (let i = 0; i < n; i++) {
      const x = values[i];
      out[i] = count > 0 ? gaussianScore((x - mean) / std) : 0;
      if (count < w) {
        // Growing: sums relative to the first value, so a flat start stays exactly flat.
        if (count === 0) ref = x;
        ring[count++] = x;
        const d = x - ref;
        s1 += d;
        s2 += d * d;
      } else {
        // Full: values queue up in the ring's oldest slots; every stepSize of them the window
        // moves and its sums are recomputed, relative to its oldest value. Recomputing instead
        // of adding and removing keeps a window that became flat exactly flat (std floored),
        // as a direct computation has it; it costs windowSize / stepSize per row.
        ring[(head + pendingCount) % w] = x;
        if (++pendingCount < step) continue;
        head = (head + step) % w;
        pendingCount = 0;
        ref = ring[head];
        s1 = 0;
        s2 = 0;
        for (let j = 0; j < w; j++) {
          const d = ring[j] - ref;
          s1 += d;
          s2 += d * d;
        }
      }
      const m = s1 / count;
      mean = ref + m;
      const variance = s2 / count - m * m;
      std = variance > 0 ? Math.sqrt(variance) : 0;
      if (std === 0) std = this.minStd;
    }
    return out;
  }
}

/** Detector names the benchmark accepts. */
export const DETECTOR_NAMES = ['foreshock', 'zscore'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

// The production engine, imported by path at run time so the benchmark builds and runs before
// (and without) it. Checked on disk first: a missing import inside the engine must still fail.
const ENGINE_SOURCE = new URL('../../services/detector/engine/index.ts', import.meta.url);
const ENGINE_MODULE = '../../services/detector/engine/index.js';

/**
 * The Foreshock detector for NAB, or undefined while services/detector/engine is absent or not
 * wired here yet. This is the one place that adapts `DetectorEngine` to `NabDetector`: build a
 * fresh engine (one series) per `run`, feed the rows in order, return one score in [0, 1] per row.
 */
export async function loadForeshockDetector(): Promise<NabDetector | undefined> {
  if (!existsSync(fileURLToPath(ENGINE_SOURCE))) return undefined;
  const engine = (await import(ENGINE_MODULE)) as Record<string, unknown>;
  if (typeof engine.DetectorEngine !== 'function' || typeof engine.nabScores !== 'function') return undefined;
  const { nabScores } = engine as unknown as typeof import('../../services/detector/engine/index.js');
  // The same function `foreshock replay --nab` runs: a fresh engine with the NAB profile, one
  // series, rows in order, engine.outScore per row.
  return { name: 'foreshock', run: (ts, values) => nabScores(ts, values) };
}

/**
 * The detector to run for a name; `undefined` picks foreshock when it is wired, else zscore.
 * Throws a RangeError for foreshock when the engine is not available.
 */
export async function createDetector(name: string | undefined, zscore: ZScoreOptions = {}): Promise<NabDetector> {
  if (name === undefined || name === 'foreshock') {
    const foreshock = await loadForeshockDetector();
    if (foreshock !== undefined) return foreshock;
    if (name === 'foreshock') {
      throw new RangeError(
        'detector "foreshock": services/detector/engine is not there or not wired in loadForeshockDetector() yet; use --detector zscore',
      );
    }
    return new ZScoreDetector(zscore);
  }
  if (name === 'zscore') return new ZScoreDetector(zscore);
  throw new RangeError(`unknown detector "${name}" (expected one of ${DETECTOR_NAMES.join(', ')})`);
}
