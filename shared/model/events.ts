// Events emitted by the detector ("events" topic) and consumed by the intervention worker
// and the API. Each event carries its own explanation.

import type { Labels } from './labels.js';

export type EventKind = 'anomaly_opened' | 'anomaly_updated' | 'anomaly_resolved' | 'forecast_breach';

/** Which detector contributed to the score of a sample. */
export type DetectorName = 'zscore' | 'ewma' | 'holt' | 'seasonal' | 'robust' | 'stale' | 'flatline';

export interface Explanation {
  /** Detectors whose own test fired on the sample that caused the event. */
  fired: DetectorName[];
  value: number;
  expected: number;
  lower: number;
  upper: number;
  /** Rolling z-score of the value against the window. */
  z: number;
  /** Holt trend in units per second. */
  trendPerS: number;
  /** Combined anomaly score in [0, 1]. */
  score: number;
  /** Human-readable one-line reason. */
  summary: string;
  /** Forecast breach details, for `forecast_breach`. */
  forecast?: {
    threshold: number;
    /** Predicted crossing time (ms since epoch) and its interval. */
    breachAt: number;
    breachEarliest: number;
    breachLatest: number;
  };
}

export interface AnomalyEvent {
  /**
   * Stable id: the same series, kind and episode give the same id on every replay, so the
   * intervention worker never opens an alert twice.
   */
  id: string;
  kind: EventKind;
  seriesKey: string;
  labels: Labels;
  host: string;
  /** Event time (ms) of the sample that caused it. */
  ts: number;
  /** Start (ms) of the anomaly episode this event belongs to. */
  startedAt: number;
  severity: 'warning' | 'critical';
  explanation: Explanation;
}
