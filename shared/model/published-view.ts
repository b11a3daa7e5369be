// The detector's current state as detector workers publish it to the StateStore and the query
// API reads it back: per-series summaries with their forecast model, and each worker's risk
// board. Same keys embedded and distributed, so the API never needs the detector in-process.

import type { Labels } from './labels.js';
import type { SeriesSummary } from './views.js';

/**
 * Per-series records are spread over this many StateStore hashes (`VIEW_SERIES_PREFIX` + bucket),
 * field = series key, value = JSON PublishedSeries, so one lookup is one HGET and no hash grows
 * past a few thousand fields at 1 M series.
 */
export const VIEW_SERIES_BUCKETS = 256;
export const VIEW_SERIES_PREFIX = 'fs:view:series:';
/** Hash of risk boards: field = detector worker id, value = JSON RiskBoard. */
export const VIEW_RISKS_KEY = 'fs:view:risks';
/**
 * Hash of board versions: field = worker id, value = `<board version> <ms of the last publish>`,
 * written after the board, so a reader fetches a board (hundreds of kB) only when its version
 * changed, and tells a live worker (recent publish) from a gone one.
 */
export const VIEW_RISKS_UPDATED_KEY = 'fs:view:risks:updated';

/**
 * Host index: hashes `VIEW_HOSTS_PREFIX` + bucket of the host, field = series key, value = host,
 * so "every series of host H" is one HGETALL of a small hash instead of a scan of all records.
 */
export const VIEW_HOSTS_PREFIX = 'fs:view:hosts:';

/** FNV-1a, 32 bit: cheap, stable across processes and languages. */
function bucketOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) % VIEW_SERIES_BUCKETS;
}

/** The StateStore hash holding the record of `seriesKey`. */
export function viewSeriesBucketKey(seriesKey: string): string {
  return VIEW_SERIES_PREFIX + String(bucketOf(seriesKey));
}

/** The StateStore hash indexing the series of `host`. */
export function viewHostBucketKey(host: string): string {
  return VIEW_HOSTS_PREFIX + String(bucketOf(host));
}

/**
 * Holt forecast model of one series (the detector's numbers at publish time): enough to draw
 * the forecast path and its prediction interval at any horizon without the detector.
 */
export interface ForecastModel {
  level: number;
  /** units per second */
  trendPerS: number;
  /** one-step residual σ (floored) */
  residualSd: number;
  /** mean sample interval, ms (≤ 0 when unknown) */
  stepMs: number;
  alpha: number;
  beta: number;
  phi: number;
  /** normal quantile of the interval (1.96 ≈ 95 %) */
  z: number;
}

/** Writes [mean, lower, upper] of `model` at `horizonMs` after the last sample into out[0..2]. */
export type ForecastFn = (model: ForecastModel, horizonMs: number, out: Float64Array) => void;

/**
 * A level a series must not cross (from the detector profile the series resolves to: config
 * `detector.rules`, e.g. `name=~node_cpu.*:threshold=0.9`).
 */
export interface ThresholdRule {
  /** Shown in the API and page. */
  name: string;
  value: number;
  /** The series breaches when it rises to `value` (above) or falls to it (below). */
  direction: 'above' | 'below';
}

/** Predicted crossing of one threshold, ms since epoch. */
export interface Crossing {
  name: string;
  threshold: number;
  direction: 'above' | 'below';
  /** Expected crossing time. */
  at: number;
  /** Earliest crossing (near edge of the prediction interval). */
  earliest: number;
  /** Latest crossing; null when the far edge of the interval does not get there within the look-ahead. */
  latest: number | null;
}

export interface PublishedSeries extends SeriesSummary {
  /** Wall time of the publish that wrote this record, ms. */
  publishedAt: number;
  /** null before the series has a forecast (first sample). */
  model: ForecastModel | null;
  /** Thresholds that apply and are predicted to be crossed, soonest first. */
  crossings: Crossing[];
}

export interface RiskEntry {
  key: string;
  labels: Labels;
  host: string;
  metric: string;
  state: SeriesSummary['state'];
  value: number;
  score: number;
  trendPerS: number;
  crossing: Crossing;
}

/** One detector worker's series predicted to breach soonest (its top K), soonest first. */
export interface RiskBoard {
  worker: string;
  /** Changes whenever the board's content may have changed. */
  version: number;
  /** Wall time of the publish that wrote it, ms. */
  updatedAt: number;
  /** Series the worker holds, and how many of them are predicted to breach (board holds the first K). */
  series: number;
  breaching: number;
  items: RiskEntry[];
}
