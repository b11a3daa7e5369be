// InfluxDB adapter: the MetricSink over @influxdata/influxdb-client (line protocol, batched).

export { InfluxMetricSink, INFLUX_METRIC_SINK_DEFAULTS } from './influx-metric-sink.js';
export type { InfluxMetricSinkOptions, InfluxMetricSinkStats } from './influx-metric-sink.js';
export { Downsampler } from './downsampler.js';
export type { DownsamplerStats } from './downsampler.js';
