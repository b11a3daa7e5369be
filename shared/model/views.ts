// Read models the query API answers from: the current state of series and their forecasts.
// The detector stage implements SeriesView; the API depends only on this interface.

import type { Labels } from './labels.js';

export type SeriesState = 'warmup' | 'normal' | 'pending' | 'anomalous' | 'resolving';

export interface SeriesSummary {
  key: string;
  labels: Labels;
  host: string;
  kind: 'gauge' | 'counter';
  state: SeriesState;
  samples: number;
  /** Event time of the last sample, ms. */
  lastTs: number;
  /** Last value scored (a rate for counters). */
  value: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  z: number;
  trendPerS: number;
}

export interface ForecastPoint {
  ts: number;
  mean: number;
  lower: number;
  upper: number;
}

export interface SeriesFilter {
  /** Substring of the series key. */
  match?: string;
  host?: string;
  state?: SeriesState;
  /** Label equality filters, e.g. { cluster: 'c1' }. */
  labels?: Record<string, string>;
  limit: number;
  offset: number;
}

export interface SeriesView {
  listSeries(filter: SeriesFilter): { total: number; items: SeriesSummary[] };
  getSeries(key: string): SeriesSummary | null;
  /** Forecast path from the last sample to `horizonMs` ahead in `steps` points. */
  forecast(key: string, horizonMs: number, steps: number): ForecastPoint[] | null;
}
