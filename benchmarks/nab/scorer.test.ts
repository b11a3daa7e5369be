import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadDetectorResults, loadNabCorpus } from './corpus.js';
import { nabDirForTests } from './nab-dir.js';
import type { NabWindow } from '../../shared/codecs/nab-csv.js';
import {
  bestThreshold,
  NAB_PROFILES,
  optimizeThreshold,
  prepareCorpus,
  probationaryLength,
  scaledSigmoid,
  scoreAtThreshold,
  scoreDetector,
  sweepThresholds,
  type CostMatrix,
  type ScoredSeries,
} from './scorer.js';

const MIN = 60_000;
const FLAT: CostMatrix = { tpWeight: 1, fpWeight: 1, fnWeight: 1 };

/** A file of `n` one-minute rows with windows given as row ranges and scores set at `hits`. */
function series(n: number, windowRows: [number, number][], hits: number[] = [], name = 'f.csv'): ScoredSeries {
  const timestampsMs = new Float64Array(n);
  for (let i = 0; i < n; i++) timestampsMs[i] = i * MIN;
  const scores = new Float64Array(n);
  for (const h of hits) scores[h] = 1;
  const windows: NabWindow[] = windowRows.map(([a, b]) => ({ startMs: a * MIN, endMs: b * MIN }));
  return { name, timestampsMs, scores, windows };
}

function scoreAt(s: ScoredSeries[], cost: CostMatrix, threshold: number, probation = 0): number {
  return scoreAtThreshold(prepareCorpus(s, probation), cost, threshold).score;
}

describe('NAB scorer primitives', () => {
  it('scaledSigmoid: +0.98661 at a window start, 0 at its end, −1 past 3 window lengths', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3.0001)).toBe(-1);
  });

  it('probation is 15 % of the rows, at most 750', () => {
    expect(probationaryLength(4032)).toBe(604);
    expect(probationaryLength(22695)).toBe(750);
    expect(probationaryLength(10)).toBe(1);
  });
});

describe('NAB scorer on synthetic files (cases of NAB’s own sweeper tests)', () => {
  it('no windows and no detections score 0', () => {
    expect(scoreAt([series(10, [])], FLAT, 0.5)).toBe(0);
  });

  it('each missed window costs −fnWeight', () => {
    expect(scoreAt([series(1000, [[100, 109]])], FLAT, 0.5)).toBe(-1);
    const four = series(2000, [[100, 109], [600, 609], [1100, 1109], [1600, 1609]]);
    expect(scoreAt([four], { ...FLAT, fnWeight: 2 }, 0.5)).toBe(-8);
  });

  it('a detection on the first row of a window scores exactly tpWeight, with counts', () => {
    const r = scoreAtThreshold(prepareCorpus([series(10, [[3, 4]], [3])], 0), FLAT, 0.5);
    expect(r.score).toBe(1);
    expect([r.tp, r.fn, r.fp, r.tn]).toEqual([1, 1, 0, 8]);
  });

  it('an earlier detection in a window scores more; only the first one counts', () => {
    const early = scoreAt([series(100, [[40, 59]], [42])], FLAT, 0.5);
    const late = scoreAt([series(100, [[40, 59]], [55])], FLAT, 0.5);
    expect(early).toBeGreaterThan(late);
    expect(late).toBeGreaterThan(0);
    expect(scoreAt([series(100, [[40, 59]], [42, 45, 55])], FLAT, 0.5)).toBe(early);
  });

  it('a false positive before the first window costs −fpWeight; after a window it depends on the distance', () => {
    const cost = { ...FLAT, fpWeight: 0.11 };
    expect(scoreAt([series(100, [[40, 49]], [10, 40])], cost, 0.5)).toBeCloseTo(1 - 0.11, 12);
    // Right after a 10-row window ending at 49: position (50 − 49)/(10 − 1).
    const justAfter = scoreAt([series(200, [[40, 49]], [40, 50])], cost, 0.5);
    expect(justAfter).toBeCloseTo(1 + 0.11 * scaledSigmoid(1 / 9), 12);
    // Far past it (> 3 window lengths): the full −fpWeight.
    expect(scoreAt([series(200, [[40, 49]], [40, 150])], cost, 0.5)).toBeCloseTo(1 - 0.11, 12);
  });

  it('ignores the probationary rows: no FP there, and a window wholly inside is not a miss', () => {
    // 100 rows → probation 15: the detection at row 5 and the window [2, 8] do not count.
    expect(scoreAt([series(100, [[2, 8]], [5])], FLAT, 0.5, 0.15)).toBe(0);
    // The same window after probation is a miss.
    expect(scoreAt([series(100, [[20, 26]])], FLAT, 0.5, 0.15)).toBe(-1);
  });

  it('picks the highest-scoring threshold and, on a tie, the higher one', () => {
    const s = series(100, [[40, 49]]);
    s.scores.fill(0.1);
    s.scores[40] = 0.9; // detecting it: +1
    s.scores[41] = 0.8; // adds nothing: same score as 0.9
    const best = optimizeThreshold(prepareCorpus([s], 0), FLAT);
    expect(best.threshold).toBe(0.9);
    expect(best.score).toBe(1);
  });

  it('sweeps every distinct score from 1.1 down; each equals a direct scoring at that threshold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 80 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            scores: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: n, maxLength: n }),
            cuts: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: 6 }),
            probation: fc.constantFrom(0, 0.15),
            cost: fc.constantFrom(...Object.values(NAB_PROFILES)),
          }),
        ),
        ({ n, scores, cuts, probation, cost }) => {
          // Disjoint windows from sorted cut points taken in pairs.
          const c = [...cuts].sort((a, b) => a - b);
          const wins: [number, number][] = [];
          for (let k = 0; k + 1 < c.length; k += 2) wins.push([c[k], c[k + 1]]);
          const s = series(n, wins);
          for (let i = 0; i < n; i++) s.scores[i] = scores[i] / 6;
          const sweep = sweepThresholds(prepareCorpus([s], probation), cost);
          expect(sweep[0].threshold).toBe(1.1);
          for (const row of sweep) {
            expect(row.score).toBeCloseTo(directScore(s, wins, cost, row.threshold, probation), 9);
          }
          expect(bestThreshold(sweep).score).toBe(Math.max(...sweep.map((r) => r.score)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * An independent, per-window reading of NAB's rules (NAB's older Scorer.getScore): the first
 * detection in each window scores by its position, missed windows cost fnWeight, detections
 * outside windows by their distance past the last window ended before them.
 */
function directScore(s: ScoredSeries, wins: [number, number][], cost: CostMatrix, threshold: number, probationPct: number): number {
  const n = s.scores.length;
  const p = probationaryLength(n, probationPct);
  const detected = (i: number): boolean => i >= p && s.scores[i] >= threshold;
  let score = 0;
  for (const [a, b] of wins) {
    if (b < p) continue;
    let first = -1;
    for (let i = a; i <= b; i++) {
      if (detected(i)) {
        first = i;
        break;
      }
    }
    if (first < 0) score -= cost.fnWeight;
    else score += (scaledSigmoid(-(b - first + 1) / (b - a + 1)) * cost.tpWeight) / scaledSigmoid(-1);
  }
  for (let i = 0; i < n; i++) {
    if (!detected(i) || wins.some(([a, b]) => i >= a && i <= b)) continue;
    const before = wins.filter(([, b]) => b < i);
    if (before.length === 0) {
      score -= cost.fpWeight;
    } else {
      const [a, b] = before[before.length - 1];
      score += scaledSigmoid((i - b) / (b - a)) * cost.fpWeight;
    }
  }
  return score;
}

// Reference rows of the NAB folder's README ("NAB's own scorer, thresholds optimised on it").
const REFERENCE: Record<string, Record<string, number>> = {
  numenta: { standard: 69.3, reward_low_FP_rate: 65.1, reward_low_FN_rate: 73.0 },
  windowedGaussian: { standard: 36.4, reward_low_FP_rate: 18.1, reward_low_FN_rate: 44.3 },
};

const nab = await nabDirForTests();

describe('NAB scorer on the NAB dev half', () => {
  if (!nab.available && nab.required) {
    it('finds the NAB data', () => {
      throw new Error(nab.missingMessage);
    });
  }

  describe.skipIf(!nab.available)('reproduces NAB’s published scores', () => {
    for (const [detector, rows] of Object.entries(REFERENCE)) {
      it(`${detector}: all three profiles within ±0.1`, async () => {
        const corpus = await loadNabCorpus(nab.dir);
        expect(corpus.files.length).toBe(31);
        const results = scoreDetector(await loadDetectorResults(corpus, detector), corpus.profiles);
        const got = Object.fromEntries(results.map((r) => [r.profile, r.score]));
        expect(Object.keys(got).sort()).toEqual(Object.keys(rows).sort());
        for (const [profile, expected] of Object.entries(rows)) {
          expect(Math.abs(got[profile] - expected), `${detector} ${profile}: ${got[profile]} vs ${expected}`).toBeLessThanOrEqual(0.1);
        }
      });
    }

    it('the published null detector scores 0 and its raw score is −fnWeight per window', async () => {
      const corpus = await loadNabCorpus(nab.dir);
      const windows = corpus.files.reduce((k, f) => k + f.windows.length, 0);
      for (const r of scoreDetector(await loadDetectorResults(corpus, 'null'), corpus.profiles)) {
        expect(r.score).toBe(0);
        expect(r.raw).toBe(-windows * corpus.profiles[r.profile].fnWeight);
        expect(r.perfect).toBe(windows * corpus.profiles[r.profile].tpWeight);
      }
    });
  });
});
