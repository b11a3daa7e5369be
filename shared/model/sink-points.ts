// What the detector writes to the MetricSink (InfluxDB): measurement and field names, declared
// once so the writer, the Influx adapter's downsampling and the Grafana dashboards agree.

/** Tags every sink point carries (a tag whose label is missing is left out). */
export const SINK_TAGS = ['series', 'host', 'metric', 'cluster', 'service'] as const;
export type SinkTag = (typeof SINK_TAGS)[number];

/**
 * Measurements and their fields. `max`: fields a downsampled interval keeps the maximum of
 * (a short spike must survive downsampling); every other field keeps its last value.
 */
export const SINK_MEASUREMENTS = {
  /** The value scored and the expected band around it (EWMA mean ± k·σ). */
  foreshock_band: { fields: ['value', 'expected', 'lower', 'upper'], max: [] },
  /** Combined anomaly score in [0, 1], z-score and Holt trend per second. */
  foreshock_score: { fields: ['score', 'z', 'trend_per_s'], max: ['score'] },
  /** Forecast for the point's time: mean and prediction interval. */
  foreshock_forecast: { fields: ['mean', 'lower', 'upper'], max: [] },
  /** Predicted threshold crossing: seconds until it (and its interval) and the threshold. */
  foreshock_risk: { fields: ['breach_in_s', 'breach_in_s_lower', 'breach_in_s_upper', 'threshold'], max: [] },
} as const satisfies Record<string, { fields: readonly string[]; max: readonly string[] }>;

export type SinkMeasurement = keyof typeof SINK_MEASUREMENTS;

/** Fields kept as a maximum when downsampling, over all measurements. */
export const SINK_MAX_FIELDS: readonly string[] = [...new Set(Object.values(SINK_MEASUREMENTS).flatMap((m) => [...m.max]))];
