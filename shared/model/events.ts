// Events emitted by the detector ("events" topic) and consumed by the intervention worker
// and the API. Each event carries its own explanation.

import type { Labels } from './labels.js';

export type EventKind =
  | 'anomaly_opened' | 'anomaly_updated' | 'anomaly_resolved'
  | 'forecast_breach' | 'forecast_cleared'
  | 'saturation_opened' | 'saturation_resolved';

/** Every event kind, in lifecycle order per family. */
export const EVENT_KINDS: readonly EventKind[] = [
  'anomaly_opened', 'anomaly_updated', 'anomaly_resolved', 'forecast_breach', 'forecast_cleared', 'saturation_opened', 'saturation_resolved',
];

/** The family of an event: an anomaly episode, a forecast breach, or a saturation (threshold held). */
export type EventFamily = 'anomaly' | 'forecast' | 'saturation';

export function eventFamily(kind: EventKind): EventFamily {
  return kind.startsWith('anomaly') ? 'anomaly' : kind.startsWith('forecast') ? 'forecast' : 'saturation';
}

/** Whether an event ends its episode (anomaly resolved, forecast cleared, saturation resolved). */
export function endsEpisode(kind: EventKind): boolean {
  return kind === 'anomaly_resolved' || kind === 'forecast_cleared' || kind === 'saturation_resolved';
}

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
  /** Saturation details, for `saturation_*`: the catalogue threshold, since when it is held. */
  saturation?: {
    threshold: number;
    direction: 'above' | 'below';
    /** Start (ms) of the saturated period. */
    since: number;
  };
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
  /**
   * The series' role in the metric catalogue: a signal may page, context never pages alone
   * (absent in events of older versions: treated as a signal).
   */
  role?: 'signal' | 'context';
  /** Whether this event may open an alert: a signal, the kind of event its entry pages on, in the direction that matters. */
  pages?: boolean;
}
