// Foreshock's own /metrics: one prom-client registry per process, with the metric families
// every stage records into. Declared once here so names and labels stay consistent.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Telemetry {
  readonly registry: Registry;
  /** Samples accepted by a receiver, by source (remote_write, line_protocol). */
  readonly samplesReceived: Counter<'source'>;
  /** Samples the ingest stage normalised and passed to the detectors (from receivers and Telegraf's topic). */
  readonly samplesIngested: Counter;
  /** Samples dropped, by reason (nan, out_of_order, duplicate, bad_line, counter_first, …). */
  readonly samplesDropped: Counter<'reason'>;
  /** Requests rejected at a receiver, by route and code. */
  readonly requestsRejected: Counter<'route' | 'code'>;
  /** Exemplars, histograms and metadata seen in remote-write requests and skipped. */
  readonly remoteWriteSkipped: Counter<'kind'>;
  readonly seriesActive: Gauge;
  readonly seriesEvicted: Counter;
  readonly samplesScored: Counter;
  readonly samplesIgnored: Counter;
  readonly derivedIncomplete: Counter;
  readonly events: Counter<'kind'>;
  /** Detector wall time per scored sample, ns (averaged per batch). */
  readonly detectorNsPerSample: Gauge;
  readonly detectorBatchSeconds: Histogram;
  /** Partition checkpoints written by the detector, by kind (snapshot, journal); bytes alike. */
  readonly detectorCheckpoints: Counter<'kind'>;
  readonly detectorCheckpointBytes: Counter<'kind'>;
  readonly detectorCheckpointSeconds: Histogram<'kind'>;
  /** Partitions taken over by a detector, by outcome (warm: restored, empty: no checkpoint, cold: unusable checkpoint). */
  readonly detectorRestores: Counter<'outcome'>;
  /** Messages a detector skipped because its restored state already covered them (replayed tail). */
  readonly detectorMessagesSkipped: Counter;
  readonly queueDepth: Gauge<'state'>;
  readonly notifications: Counter<'target' | 'outcome'>;
  /** 1 while the process is above a memory high-water mark (limits.*). */
  readonly memoryPressure: Gauge;
  /** Kafka batches held back (partition paused) under memory pressure. */
  readonly batchesHeldBack: Counter;
  readonly errors: Counter<'code'>;
  /** Metric sink (InfluxDB) lines by outcome: written, retried, dropped, late, invalid. */
  readonly sinkLines: Counter<'outcome'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** Time of one detector view publish round (series records and risk board to the StateStore). */
  readonly viewPublishSeconds: Histogram;
  /** Series records written to the StateStore by view publishers. */
  readonly viewSeriesWritten: Counter;
  /** Requests refused by bearer-token auth, by reason (missing, invalid, forbidden). */
  readonly authRejected: Counter<'reason'>;
  /** Intervention job attempts by outcome: completed, failed (retried unless dead-lettered), dead_lettered. */
  readonly queueAttempts: Counter<'outcome'>;
  /** Commits of the embedded database by outcome (ok, failed); a failure is also in /readyz. */
  readonly dataCommits: Counter<'outcome'>;
  /** Where the gauges read at scrape time come from (set by the composition root). */
  readonly sources: TelemetrySources;
}

/** Readings taken when /metrics is scraped; unset ones read 0. */
export interface TelemetrySources {
  /** Accepted bytes waiting in the embedded bus for a stage to consume them. */
  busBacklogBytes?: () => number;
  /** Bytes of request bodies receivers hold while reading and decoding them. */
  bufferedBytes?: () => number;
  /** Size of the embedded database, bytes. */
  dataBytes?: () => number;
  /** The marks in force: rss (bytes), buffer (bytes), backlog (bytes). */
  marks?: () => Record<string, number>;
  /** Commits of the embedded database so far, by outcome. */
  dataCommits?: () => { ok: number; failed: number };
}

export function createTelemetry(options: { defaultMetrics?: boolean } = {}): Telemetry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'foreshock_process_' });
  const registers = [registry];
  const sources: TelemetrySources = {};
  const seenCommits: Record<string, number> = {};
  const reading = (name: string, help: string, read: () => number) => new Gauge({ name, help, registers, collect() { this.set(read()); } });
  reading('foreshock_bus_backlog_bytes', 'Accepted bytes waiting in the embedded bus for a stage to consume them (limits.backlogBytes).', () => sources.busBacklogBytes?.() ?? 0);
  reading('foreshock_receiver_buffered_bytes', 'Bytes of request bodies held while being read and decoded (limits.bufferBytes).', () => sources.bufferedBytes?.() ?? 0);
  reading('foreshock_data_bytes', 'Size of the embedded database in data.dir, bytes.', () => sources.dataBytes?.() ?? 0);
  new Gauge({
    name: 'foreshock_memory_mark_bytes', help: 'Marks in force, bytes: rss (limits.rssHighWaterBytes or its derived value), buffer, backlog.', labelNames: ['mark'], registers,
    collect() {
      for (const [mark, v] of Object.entries(sources.marks?.() ?? {})) this.set({ mark }, v);
    },
  });
  return {
    sources,
    dataCommits: new Counter({
      name: 'foreshock_data_commits_total', help: 'Commits of the embedded database, by outcome (ok, failed; a failure also shows in /readyz).', labelNames: ['outcome'], registers,
      collect() {
        const now = sources.dataCommits?.();
        if (now === undefined) return;
        for (const outcome of ['ok', 'failed'] as const) {
          const d = now[outcome] - (seenCommits[outcome] ?? 0);
          if (d > 0) this.inc({ outcome }, d);
          seenCommits[outcome] = now[outcome];
        }
      },
    }),
    registry,
    samplesReceived: new Counter({ name: 'foreshock_samples_received_total', help: 'Samples accepted by a receiver, by source (remote_write, line_protocol).', labelNames: ['source'], registers }),
    samplesIngested: new Counter({ name: 'foreshock_samples_ingested_total', help: 'Samples the ingest stage normalised and passed to the detectors.', registers }),
    samplesDropped: new Counter({ name: 'foreshock_samples_dropped_total', help: 'Samples dropped before detection, by reason.', labelNames: ['reason'], registers }),
    requestsRejected: new Counter({ name: 'foreshock_requests_rejected_total', help: 'Write requests answered with an error, by route and error code.', labelNames: ['route', 'code'], registers }),
    remoteWriteSkipped: new Counter({ name: 'foreshock_remote_write_skipped_total', help: 'Remote-write exemplars, histograms and metadata entries decoded and skipped.', labelNames: ['kind'], registers }),
    seriesActive: new Gauge({ name: 'foreshock_series_active', help: 'Series with detector state.', registers }),
    seriesEvicted: new Counter({ name: 'foreshock_series_evicted_total', help: 'Series evicted after being idle.', registers }),
    samplesScored: new Counter({ name: 'foreshock_samples_scored_total', help: 'Samples run through the detector.', registers }),
    samplesIgnored: new Counter({ name: 'foreshock_samples_ignored_total', help: 'Samples of series the metric catalogue marks ignored (info metrics, constants, buckets, timestamps): not scored.', registers }),
    derivedIncomplete: new Counter({ name: 'foreshock_derived_incomplete_total', help: 'Derived-signal scrapes skipped: an input missing at that timestamp, or no value could be formed (a counter reset, a read-only filesystem).', registers }),
    events: new Counter({ name: 'foreshock_events_total', help: 'Detector events, by kind.', labelNames: ['kind'], registers }),
    detectorNsPerSample: new Gauge({ name: 'foreshock_detector_ns_per_sample', help: 'Detector time per sample in the last batch, ns.', registers }),
    detectorBatchSeconds: new Histogram({ name: 'foreshock_detector_batch_seconds', help: 'Time to score one batch.', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers }),
    detectorCheckpoints: new Counter({ name: 'foreshock_detector_checkpoints_total', help: 'Partition checkpoints written, by kind (snapshot, journal).', labelNames: ['kind'], registers }),
    detectorCheckpointBytes: new Counter({ name: 'foreshock_detector_checkpoint_bytes_total', help: 'Bytes of partition checkpoints written, by kind.', labelNames: ['kind'], registers }),
    detectorCheckpointSeconds: new Histogram({ name: 'foreshock_detector_checkpoint_seconds', help: 'Time to build and store one checkpoint, by kind.', labelNames: ['kind'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    detectorRestores: new Counter({ name: 'foreshock_detector_restores_total', help: 'Partitions taken over, by outcome (warm, empty, cold).', labelNames: ['outcome'], registers }),
    detectorMessagesSkipped: new Counter({ name: 'foreshock_detector_messages_skipped_total', help: 'Messages skipped because restored state already covered them.', registers }),
    queueDepth: new Gauge({ name: 'foreshock_queue_jobs', help: 'Intervention jobs by state.', labelNames: ['state'], registers }),
    notifications: new Counter({ name: 'foreshock_notifications_total', help: 'Notification attempts by target and outcome.', labelNames: ['target', 'outcome'], registers }),
    memoryPressure: new Gauge({ name: 'foreshock_memory_pressure', help: '1 while the process is above a memory high-water mark (writes shed with 503, Kafka consumption paused).', registers }),
    batchesHeldBack: new Counter({ name: 'foreshock_bus_batches_held_back_total', help: 'Kafka batches held back (partition paused, fetched again later) under memory pressure.', registers }),
    errors: new Counter({ name: 'foreshock_errors_total', help: 'Errors handled, by code.', labelNames: ['code'], registers }),
    sinkLines: new Counter({ name: 'foreshock_sink_lines_total', help: 'Metric sink lines by outcome (written, retried, dropped, late, invalid).', labelNames: ['outcome'], registers }),
    httpDuration: new Histogram({ name: 'foreshock_http_request_duration_seconds', help: 'HTTP request latency by route.', labelNames: ['route', 'method', 'status'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    viewPublishSeconds: new Histogram({ name: 'foreshock_view_publish_seconds', help: 'Time of one detector view publish round.', buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30], registers }),
    viewSeriesWritten: new Counter({ name: 'foreshock_view_series_written_total', help: 'Series records written to the StateStore for the API.', registers }),
    authRejected: new Counter({ name: 'foreshock_auth_rejected_total', help: 'Requests refused by bearer-token auth, by reason.', labelNames: ['reason'], registers }),
    queueAttempts: new Counter({ name: 'foreshock_queue_attempts_total', help: 'Job attempts by outcome (completed, failed, dead_lettered); retries = failed - dead_lettered.', labelNames: ['outcome'], registers }),
  };
}
