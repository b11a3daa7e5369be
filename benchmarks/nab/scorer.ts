// NAB's scorer (numenta/NAB v1.1: nab/sweeper.py, nab/optimizer.py, Runner.normalize) in
// TypeScript, so the NAB benchmark scores a detector the way the published scoreboard does.
// Pure math over typed arrays: rows in, per-threshold scores out; files are read elsewhere.

import type { NabWindow } from '../../shared/codecs/nab-csv.js';

/** One profile's weights (config/profiles.json `CostMatrix`; tnWeight is unused by NAB). */
export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

export const NAB_PROFILE_NAMES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;
export type NabProfileName = (typeof NAB_PROFILE_NAMES)[number];

/** The three profiles as shipped in NAB's config/profiles.json. */
export const NAB_PROFILES: Readonly<Record<NabProfileName, CostMatrix>> = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
};

/** Fraction of each file NAB ignores at its start. */
export const PROBATION_PERCENT = 0.15;

/** NAB's null detector scores every row 0.5. */
export const NULL_DETECTOR_SCORE = 0.5;

/** The threshold NAB records first: above every score, so nothing is detected. */
export const NO_DETECTION_THRESHOLD = 1.1;

/**
 * NAB's scaled sigmoid of a relative position: 2·σ(−5x) − 1, and −1 beyond x > 3.
 * −1 (a window's left edge) → 0.98661, 0 (its right edge) → 0, +1 → −0.98661.
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0;
  return 2 * (1 / (1 + Math.exp(5 * relativePosition))) - 1.0;
}

const MAX_TP = scaledSigmoid(-1.0);

/**
 * Rows at the start of a file that NAB does not score: min(floor(p·rows), p·5000). Rows with
 * index < this are probationary (the bound is 750 for p = 0.15, not an integer for every p).
 */
export function probationaryLength(rows: number, probationPercent = PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

/** One file to score: its rows in order, the detector's score per row, its labelled windows. */
export interface ScoredSeries {
  /** Unique name (NAB: the data path, e.g. `realTweets/Twitter_volume_KO.csv`); names windows. */
  readonly name: string;
  readonly timestampsMs: Float64Array;
  /** Anomaly score per row, normally in [0, 1]. */
  readonly scores: Float64Array;
  readonly windows: readonly NabWindow[];
}

/**
 * A corpus reduced to what the sweep needs: the scorable (non-probationary) rows of every file,
 * each with its score, its unweighted NAB value and its window, plus the rows' order by score.
 * Built once per detector; sweeping it per profile is then linear.
 */
export interface PreparedCorpus {
  /** Scorable rows over the whole corpus. */
  readonly rows: number;
  readonly scores: Float64Array;
  /**
   * Unweighted value of detecting the row: inside a window scaledSigmoid(position) (the sweep
   * multiplies by tpWeight and divides by scaledSigmoid(−1), as NAB does), outside a window
   * the scaled sigmoid of its distance past the previous window, or −1 before any window.
   */
  readonly unweighted: Float64Array;
  /** Window id of the row, −1 outside windows. */
  readonly windowOf: Int32Array;
  /** Windows with at least one scorable row: each costs −fnWeight until detected. */
  readonly scorableWindows: number;
  /** All labelled windows of the corpus' files (NAB's tpCount, for the perfect score). */
  readonly labelledWindows: number;
  /** Indices of the scorable rows by score, highest first; ties keep corpus order. */
  readonly order: Uint32Array;
}

/** Score and counts of the corpus when every scorable row with score ≥ threshold is a detection. */
export interface ThresholdScore {
  readonly threshold: number;
  /** Raw NAB score (not normalised). */
  readonly score: number;
  /** Row counts as NAB keeps them: every detected row in a window is a tp, not only the first. */
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

/** Row index of each window's first and last row (ends inclusive); windows without rows are dropped. */
function windowRows(timestampsMs: Float64Array, windows: readonly NabWindow[]): Int32Array[] {
  const out: Int32Array[] = [];
  const n = timestampsMs.length;
  const sorted = [...windows].sort((a, b) => a.startMs - b.startMs);
  for (const w of sorted) {
    // NAB enters a window on the row whose timestamp equals its start and leaves on the row equal
    // to its end; NAB's windows are always on rows. The first row ≥ start and the last ≤ end are
    // the same rows there, and still well defined for windows drawn between rows.
    let first = 0;
    while (first < n && timestampsMs[first] < w.startMs) first++;
    let last = first - 1;
    while (last + 1 < n && timestampsMs[last + 1] <= w.endMs) last++;
    if (last >= first) out.push(Int32Array.of(first, last));
  }
  return out;
}

/**
 * Prepare a corpus for sweeping (NAB `Sweeper.calcSweepScore` over every file). Positions are
 * row-based, as in NAB: inside a window of width W rows ending at row R, row i sits at
 * −(R − i + 1)/W (so the first row is exactly −1 and scores tpWeight); after a window it sits
 * at |R − i|/(W − 1).
 */
export function prepareCorpus(series: readonly ScoredSeries[], probationPercent = PROBATION_PERCENT): PreparedCorpus {
  let total = 0;
  let labelledWindows = 0;
  for (const s of series) {
    if (s.scores.length !== s.timestampsMs.length) {
      throw new RangeError(`${s.name}: ${s.timestampsMs.length} rows but ${s.scores.length} scores`);
    }
    const n = s.timestampsMs.length;
    // Rows i < probationaryLength are skipped; the bound need not be an integer.
    total += n - Math.min(n, Math.ceil(probationaryLength(n, probationPercent)));
    labelledWindows += s.windows.length;
  }
  const scores = new Float64Array(total);
  const unweighted = new Float64Array(total);
  const windowOf = new Int32Array(total);
  let k = 0;
  let windowBase = 0;
  let scorableWindows = 0;
  for (const s of series) {
    const n = s.timestampsMs.length;
    const probation = probationaryLength(n, probationPercent);
    const wins = windowRows(s.timestampsMs, s.windows);
    let next = 0;
    let inWindow = -1;
    let curRight = -1;
    let curWidth = 0;
    let prevRight = -1;
    let prevWidth = 0;
    let lastCountedWindow = -1;
    for (let i = 0; i < n; i++) {
      if (inWindow < 0 && next < wins.length && i === wins[next][0]) {
        inWindow = next;
        curRight = wins[next][1];
        curWidth = curRight - wins[next][0] + 1;
        next++;
      }
      let u: number;
      if (inWindow >= 0) {
        u = scaledSigmoid(-(curRight - i + 1) / curWidth);
      } else if (prevRight < 0) {
        u = -1.0;
      } else {
        // A one-row window divides by zero here in NAB (ZeroDivisionError); Infinity → −1.
        u = scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
      }
      if (i >= probation) {
        const score = s.scores[i];
        if (Number.isNaN(score)) throw new RangeError(`${s.name}: row ${i}: anomaly score is NaN`);
        scores[k] = score;
        unweighted[k] = u;
        windowOf[k] = inWindow < 0 ? -1 : windowBase + inWindow;
        if (inWindow >= 0 && inWindow !== lastCountedWindow) {
          lastCountedWindow = inWindow;
          scorableWindows++;
        }
        k++;
      }
      if (inWindow >= 0 && i === curRight) {
        prevRight = curRight;
        prevWidth = curWidth;
        inWindow = -1;
      }
    }
    windowBase += wins.length;
  }
  const idx = new Uint32Array(total);
  for (let i = 0; i < total; i++) idx[i] = i;
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return { rows: total, scores, unweighted, windowOf, scorableWindows, labelledWindows, order: idx };
}

/**
 * NAB `Sweeper.calcScoreByThreshold` over a prepared corpus: the score at every distinct
 * anomaly score used as threshold, highest threshold first, starting with 1.1 (no detection,
 * every window a false negative). Within a window only its earliest detected row counts
 * (the best of its rows' values, since values fall along the window); every detected row
 * outside windows adds its fpWeight-scaled value.
 */
export function sweepThresholds(corpus: PreparedCorpus, cost: CostMatrix): ThresholdScore[] {
  const { scores, unweighted, windowOf, order, rows } = corpus;
  const windowIds = new Int32Array(corpus.labelledWindows).fill(-1);
  // Window parts are summed in the order NAB's dict holds them: first seen in the sorted rows.
  const partOrder: number[] = [];
  for (let j = 0; j < rows; j++) {
    const w = windowOf[order[j]];
    if (w >= 0 && windowIds[w] < 0) {
      windowIds[w] = partOrder.length;
      partOrder.push(w);
    }
  }
  const parts = new Float64Array(partOrder.length).fill(-cost.fnWeight);
  let fpPart = 0;
  let tn = 0;
  let fn = 0;
  for (let r = 0; r < rows; r++) {
    if (windowOf[r] < 0) tn++;
    else fn++;
  }
  let tp = 0;
  let fp = 0;
  const total = (): number => {
    let s = 0;
    s += fpPart;
    for (let p = 0; p < parts.length; p++) s += parts[p];
    return s;
  };
  const out: ThresholdScore[] = [];
  let threshold = NO_DETECTION_THRESHOLD;
  for (let j = 0; j < rows; j++) {
    const r = order[j];
    const score = scores[r];
    if (score !== threshold) {
      out.push({ threshold, score: total(), tp, tn, fp, fn });
      threshold = score;
    }
    const w = windowOf[r];
    if (w < 0) {
      fp++;
      tn--;
      fpPart += unweighted[r] * cost.fpWeight;
    } else {
      tp++;
      fn--;
      const v = (unweighted[r] * cost.tpWeight) / MAX_TP;
      const p = windowIds[w];
      if (v > parts[p]) parts[p] = v;
    }
  }
  out.push({ threshold, score: total(), tp, tn, fp, fn });
  return out;
}

/**
 * The best threshold of a sweep (NAB v1.1 optimizer: all distinct scores tried, the highest
 * raw score wins; on a tie the higher threshold, as Python's stable sort keeps it first).
 */
export function bestThreshold(sweep: readonly ThresholdScore[]): ThresholdScore {
  let best = sweep[0];
  for (let i = 1; i < sweep.length; i++) if (sweep[i].score > best.score) best = sweep[i];
  return best;
}

/** Sweep and pick the best threshold for one profile. */
export function optimizeThreshold(corpus: PreparedCorpus, cost: CostMatrix): ThresholdScore {
  return bestThreshold(sweepThresholds(corpus, cost));
}

/**
 * Score at a given threshold (NAB `Sweeper.scoreDataSet`): rows with score ≥ threshold are
 * detections. Where NAB finds no row at or above the threshold in a file it returns nothing;
 * here that case simply means every row is detected.
 */
export function scoreAtThreshold(corpus: PreparedCorpus, cost: CostMatrix, threshold: number): ThresholdScore {
  const sweep = sweepThresholds(corpus, cost);
  let match = sweep[0];
  for (const row of sweep) {
    if (row.threshold < threshold) break;
    match = row;
  }
  return match;
}

/** NAB's perfect score: every labelled window detected on its first row, tpWeight each. */
export function perfectScore(corpus: PreparedCorpus, cost: CostMatrix): number {
  return corpus.labelledWindows * cost.tpWeight;
}

/** NAB's normalisation: 100 · (raw − null) / (perfect − null). */
export function normalizeScore(raw: number, nullRaw: number, perfect: number): number {
  return (100 * (raw - nullRaw)) / (perfect - nullRaw);
}

/** The same corpus as scored by NAB's null detector (0.5 on every row). */
export function nullDetectorSeries(series: readonly ScoredSeries[]): ScoredSeries[] {
  return series.map((s) => ({ ...s, scores: new Float64Array(s.timestampsMs.length).fill(NULL_DETECTOR_SCORE) }));
}

/** One profile's result for one detector. */
export interface ProfileResult {
  readonly profile: string;
  /** Normalised NAB score (100 = perfect, 0 = null detector). */
  readonly score: number;
  readonly raw: number;
  readonly nullRaw: number;
  readonly perfect: number;
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
}

/**
 * Score a detector on a corpus for each profile as NAB's runner does (optimise, score,
 * normalise): the threshold is optimised per profile on this corpus, and the null detector's
 * raw score is optimised the same way on the same files.
 */
export function scoreDetector(
  series: readonly ScoredSeries[],
  profiles: Readonly<Record<string, CostMatrix>> = NAB_PROFILES,
  probationPercent = PROBATION_PERCENT,
): ProfileResult[] {
  const corpus = prepareCorpus(series, probationPercent);
  const nullCorpus = prepareCorpus(nullDetectorSeries(series), probationPercent);
  const out: ProfileResult[] = [];
  for (const [profile, cost] of Object.entries(profiles)) {
    const best = optimizeThreshold(corpus, cost);
    const nullRaw = optimizeThreshold(nullCorpus, cost).score;
    const perfect = perfectScore(corpus, cost);
    out.push({
      profile,
      score: normalizeScore(best.score, nullRaw, perfect),
      raw: best.score,
      nullRaw,
      perfect,
      threshold: best.threshold,
      tp: best.tp,
      fp: best.fp,
      fn: best.fn,
      tn: best.tn,
    });
  }
  return out;
}
