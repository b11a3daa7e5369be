// Foreshock's own /metrics: one prom-client registry per process, with the metric families
// every stage records into. Declared once here so names and labels stay consistent.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Telemetry {
  readonly registry: Registry;
  /** Samples accepted by a receiver or the ingest stage, by source (remote_write, influx). */
  readonly samplesReceived: Counter<'source'>;
  /** Samples dropped, by reason (nan, out_of_order, duplicate, bad_line, counter_first, …). */
  readonly samplesDropped: Counter<'reason'>;
  /** Requests rejected at a receiver, by route and code. */
  readonly requestsRejected: Counter<'route' | 'code'>;
  /** Exemplars, histograms and metadata seen in remote-write requests and skipped. */
  readonly remoteWriteSkipped: Counter<'kind'>;
  readonly seriesActive: Gauge;
  readonly seriesEvicted: Counter;
  readonly samplesScored: Counter;
  readonly events: Counter<'kind'>;
  /** Detector wall time per scored sample, ns (averaged per batch). */
  readonly detectorNsPerSample: Gauge;
  readonly detectorBatchSeconds: Histogram;
  readonly queueDepth: Gauge<'state'>;
  readonly notifications: Counter<'target' | 'outcome'>;
  readonly errors: Counter<'code'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
}

export function createTelemetry(options: { defaultMetrics?: boolean } = {}): Telemetry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'foreshock_process_' });
  const registers = [registry];
  return {
    registry,
    samplesReceived: new Counter({ name: 'foreshock_samples_received_total', help: 'Samples accepted, by source.', labelNames: ['source'], registers }),
    samplesDropped: new Counter({ name: 'foreshock_samples_dropped_total', help: 'Samples dropped before detection, by reason.', labelNames: ['reason'], registers }),
    requestsRejected: new Counter({ name: 'foreshock_requests_rejected_total', help: 'Write requests answered with an error, by route and error code.', labelNames: ['route', 'code'], registers }),
    remoteWriteSkipped: new Counter({ name: 'foreshock_remote_write_skipped_total', help: 'Remote-write exemplars, histograms and metadata entries decoded and skipped.', labelNames: ['kind'], registers }),
    seriesActive: new Gauge({ name: 'foreshock_series_active', help: 'Series with detector state.', registers }),
    seriesEvicted: new Counter({ name: 'foreshock_series_evicted_total', help: 'Series evicted after being idle.', registers }),
    samplesScored: new Counter({ name: 'foreshock_samples_scored_total', help: 'Samples run through the detector.', registers }),
    events: new Counter({ name: 'foreshock_events_total', help: 'Detector events, by kind.', labelNames: ['kind'], registers }),
    detectorNsPerSample: new Gauge({ name: 'foreshock_detector_ns_per_sample', help: 'Detector time per sample in the last batch, ns.', registers }),
    detectorBatchSeconds: new Histogram({ name: 'foreshock_detector_batch_seconds', help: 'Time to score one batch.', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers }),
    queueDepth: new Gauge({ name: 'foreshock_queue_jobs', help: 'Intervention jobs by state.', labelNames: ['state'], registers }),
    notifications: new Counter({ name: 'foreshock_notifications_total', help: 'Notification attempts by target and outcome.', labelNames: ['target', 'outcome'], registers }),
    errors: new Counter({ name: 'foreshock_errors_total', help: 'Errors handled, by code.', labelNames: ['code'], registers }),
    httpDuration: new Histogram({ name: 'foreshock_http_request_duration_seconds', help: 'HTTP request latency by route.', labelNames: ['route', 'method', 'status'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
  };
}
