// Every configuration key of Foreshock, with its default and a line of documentation.
// The YAML file mirrors this tree; each key is also settable as FORESHOCK_<PATH> (see envName).

import { bool, duration, int, list, num, oneOf, str, type ConfigOf } from './spec.js';

export const SCHEMA = {
  server: {
    host: str('0.0.0.0', 'Address the HTTP server listens on.'),
    port: int(9740, 'HTTP port for receivers, API, page and /metrics.', 0, 65535),
    maxBodyBytes: int(32 * 1024 * 1024, 'Largest request body accepted, as sent (compressed), in bytes; larger gets 413.', 1024),
    maxDecodedBytes: int(256 * 1024 * 1024, 'Largest body after snappy/gzip decompression, in bytes; larger gets 413.', 1024),
    publicUrl: str('', 'URL users reach Foreshock at, for links in alerts (default http://<host>:<port>).'),
  },
  log: {
    level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info', 'Log level (pino).'),
  },
  ingest: {
    hostLabels: list(['host', 'instance'], 'Labels tried in order for the host of a series (routing and grouping).'),
    groupLabels: list(['cluster', 'service', 'job', 'env'], 'Labels kept for grouping alerts and filtering the API.'),
    counterSuffixes: list(['_total', '_count', '_sum', '_bucket'], 'Metric name suffixes treated as counters (converted to per-second rates).'),
    defaultPrecision: oneOf(['ns', 'us', 'ms', 's'] as const, 'ns', 'Line protocol timestamp precision when the request names none.'),
  },
  bus: {
    kind: oneOf(['memory'] as const, 'memory', 'Bus adapter: in-process log.'),
    partitions: int(8, 'Partitions of the samples topic (units of detector parallelism).', 1, 4096),
    retainMessages: int(100_000, 'Embedded bus: messages kept per partition after they are consumed.', 1000),
    topicRaw: str('foreshock-raw', 'Topic receivers publish accepted request bodies to.'),
    topicTelegraf: str('telegraf', "Topic Telegraf's Kafka output writes line protocol to."),
    topicSamples: str('foreshock-samples', 'Topic of normalised sample batches, keyed by host.'),
    topicEvents: str('foreshock-events', 'Topic of detector events.'),
  },
  detector: {
    window: int(64, 'Samples in the rolling z-score window.', 4, 1024),
    warmupSamples: int(30, 'Samples a series needs before it may open an anomaly.', 0),
    openScore: num(0.9, 'Combined score at or above which an anomaly starts (0-1).', 0, 1),
    closeScore: num(0.6, 'Score below which an open anomaly starts to resolve (hysteresis).', 0, 1),
    minDuration: duration('30s', 'How long the score must stay high before an anomaly opens (event time).'),
    resolveHold: duration('2m', 'How long the score must stay low before an anomaly resolves.'),
    updateEvery: duration('5m', 'Minimum interval between update events of an open anomaly.'),
    idleEvict: duration('1h', 'Series with no sample for this long (event time) are evicted and their slots reused.', 1000),
    forecastHorizon: duration('1h', 'Default horizon of GET /api/v1/forecast.', 1000),
  },
  alertmanager: {
    url: list([], 'Alertmanager base URL(s), comma-separated; every alert goes to each (HA pair). Empty: no Alertmanager.'),
    resendInterval: duration('1m', 'Re-send interval of firing alerts.', 1000),
    timeout: duration('10s', 'Timeout of one delivery attempt.', 100),
  },
  queue: {
    kind: oneOf(['memory'] as const, 'memory', 'JobQueue adapter: in-process queue.'),
    attempts: int(12, 'Attempts per job before it is dead-lettered.', 1),
    backoffBase: duration('1s', 'First retry delay; doubles per attempt, with full jitter.', 1),
    backoffMax: duration('1m', 'Longest retry delay.', 1),
    concurrency: int(4, 'Jobs processed at once.', 1, 1024),
  },
  state: {
    kind: oneOf(['memory'] as const, 'memory', 'StateStore adapter: in-memory.'),
    snapshotPath: str('', 'Embedded store: file the state is saved to and restored from (empty: none).'),
  },
  sink: {
    kind: oneOf(['none', 'memory'] as const, 'memory', 'MetricSink for scores, bands and forecasts: none, or an in-memory ring for the API.'),
    memoryPoints: int(200_000, 'Points kept by the in-memory sink.', 100),
  },
  api: {
    anomaliesKept: int(10_000, 'Recent anomaly events kept for GET /api/v1/anomalies.', 10),
  },
  dev: {
    exitOnStdinEnd: bool(false, 'Stop when standard input closes (for supervisors that pipe stdin).'),
  },
} as const;

export type ForeshockConfig = ConfigOf<typeof SCHEMA>;
