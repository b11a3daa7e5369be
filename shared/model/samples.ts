// Normalised samples as they travel from ingest to the detector ("samples" topic): one entry
// per series with its samples in columns. Strings appear once per series, never per sample.

import type { Labels } from './labels.js';

/** Metric kinds that decide how the detector prepares a series before scoring. */
export const KIND_GAUGE = 0;
/** Monotonic counter: turned into a per-second rate (resets handled) before detection. */
export const KIND_COUNTER = 1;
export type MetricKind = typeof KIND_GAUGE | typeof KIND_COUNTER;

export interface SeriesSamples {
  /** Canonical series key (see `seriesKey`). */
  readonly key: string;
  readonly labels: Labels;
  /** Host the series belongs to (routing key on the bus); '' when no host label matched. */
  readonly host: string;
  readonly kind: MetricKind;
  /** Event time in milliseconds since the epoch, one per sample. */
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  /**
   * Marks that the series ended (Prometheus stale marker) after the samples above; the
   * detector resolves its open alert.
   */
  readonly stale: boolean;
}

export interface SampleBatch {
  readonly series: SeriesSamples[];
}

/** Counts kept by decoders and normalisation; exported on /metrics as `..._dropped_total{reason}`. */
export interface IngestCounts {
  accepted: number;
  dropped: Record<string, number>;
}
