// MetricSink port: where the detector's scores, bands and forecasts go for dashboards.
// Real adapter: InfluxDB client (line protocol, batched); embedded: none or an in-memory ring.

export interface MetricPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  /** ms since epoch */
  ts: number;
}

export interface MetricSink {
  /** Buffer points; never blocks the caller on I/O. */
  write(points: MetricPoint[]): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
