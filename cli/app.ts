// Composition root: builds the adapters the config names, the services a process runs, and
// the HTTP server they share. The only place that knows every service.

import { readFileSync } from 'node:fs';
import type { ForeshockConfig } from '../shared/config/index.js';
import { ConfigError, ForeshockError } from '../shared/errors/index.js';
import { createHttpServer, resolveTokenHashes } from '../shared/http/index.js';
import { MemoryBus, MemoryJobQueue, MemoryMetricSink, MemoryStateStore, NullMetricSink } from '../shared/adapters/memory/index.js';
import { SqliteBusStorage, SqliteDatabase, SqliteJobStore, SqliteStateStore } from '../shared/adapters/sqlite/index.js';
import { InfluxMetricSink } from '../shared/adapters/influx/index.js';
import { KafkaBus, type KafkaBusOptions } from '../shared/adapters/kafka/index.js';
import { RedisStateStore, type RedisConnectionOptions } from '../shared/adapters/redis/index.js';
import { BullMqJobQueue } from '../shared/adapters/bullmq/index.js';
import type { Bus, JobQueue, MetricSink, StateStore } from '../shared/ports/index.js';
import { createTelemetry, derivedRssMark, MemoryGuard, type Logger, type Telemetry } from '../shared/telemetry/index.js';
import { apiRoutes, auditRoutes, pageRoutes, recentValuesFrom, runbookRoutes } from '../services/api/index.js';
import { DETECTOR_GROUP, DetectorService, forecastFromModel } from '../services/detector/index.js';
import { INGEST_GROUP, IngestService } from '../services/ingest/index.js';
import { EVENTS_GROUP, EventsConsumer, InterventionService } from '../services/intervention/index.js';
import { receiverRoutes } from '../services/receiver/index.js';

export const SERVICES = ['all', 'receiver', 'ingest', 'detect', 'intervene', 'api'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface RunningForeshock {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:9740 */
  url: string;
  telemetry: Telemetry;
  /** The adapters this process runs on (in-process tools such as the backtest read from them). */
  adapters: Adapters;
  /**
   * True when every stage this process runs has consumed everything on its topics and the job
   * queue holds nothing waiting or active: what was written has been scored and acted on.
   */
  idle(): Promise<boolean>;
  /** Drain and stop everything; resolves when done. */
  close(): Promise<void>;
}

/** Options of startForeshock beyond the config. */
export interface StartOptions {
  /**
   * Clock of the alert lifecycle (firing and resolve holds, resend windows), ms. Default
   * Date.now; a replay in event time passes the event clock, so holds behave as they would live.
   */
  clock?: () => number;
}

export interface Adapters {
  bus: Bus;
  queue: JobQueue;
  store: StateStore;
  sink: MetricSink;
  /** The data directory's database, when an adapter is `embedded`. */
  database: SqliteDatabase | null;
}

/**
 * The process's one memory guard (limits.*): receivers answer 503 while it is engaged, Kafka
 * consumers pause. Engaging and letting go are logged and shown as foreshock_memory_pressure.
 */
function createMemoryGuard(config: ForeshockConfig, logger: Logger, telemetry: Telemetry): MemoryGuard {
  const l = config.limits;
  const log = logger.child({ component: 'memory-guard' });
  // No mark configured: a share of what the process may use (cgroup limit, else physical memory).
  const derived = derivedRssMark(l.rssHighWaterShare);
  const rssHighWaterBytes = l.rssHighWaterBytes > 0 ? l.rssHighWaterBytes : derived.bytes;
  if (l.rssHighWaterBytes === 0 && rssHighWaterBytes > 0) log.info({ rssHighWaterBytes, from: derived.source }, 'resident memory mark derived (limits.rssHighWaterShare)');
  return new MemoryGuard({ heapHighWater: l.heapHighWater, rssHighWaterBytes, hysteresis: l.highWaterHysteresis, bufferBytes: l.bufferBytes }, 100, undefined, undefined, (over) => {
    telemetry.memoryPressure.set(over === null ? 0 : 1);
    if (over === null) log.info('memory back below the high-water marks; accepting writes and consuming again');
    else log.warn({ reason: over }, 'memory above a high-water mark; shedding writes with 503 and pausing Kafka consumption');
  });
}

function createAdapters(config: ForeshockConfig, logger: Logger, telemetry: Telemetry, guard: MemoryGuard): Adapters {
  const database = [config.bus.kind, config.state.kind, config.queue.kind].includes('embedded') ? openDatabase(config, logger, telemetry) : null;
  let bus: Bus;
  if (config.bus.kind === 'kafka') {
    bus = new KafkaBus(kafkaBusOptions(config, logger, telemetry, guard));
  } else {
    const log = logger.child({ component: 'bus' });
    const embedded = new MemoryBus({
      retainBytes: config.bus.retainBytes,
      retainAgeMs: config.bus.retainAge,
      maxBatchBytes: config.bus.maxBatchBytes,
      storage: config.bus.kind === 'embedded' ? new SqliteBusStorage(database!) : undefined,
      onError: (err, where, groupId) => {
        telemetry.errors.inc({ code: err instanceof ForeshockError ? err.code : `FS_BUS_${where.toUpperCase()}` });
        log.warn({ err, where, groupId }, where === 'eachBatch' ? 'bus handler failed; the batch is delivered again' : `bus ${where} failed`);
      },
    });
    // Accepted data not yet consumed weighs on back-pressure like memory does.
    guard.watch('limits.backlogBytes', 'accepted data waiting in the embedded bus', config.limits.backlogBytes, () => embedded.backlogBytes());
    telemetry.sources.busBacklogBytes = () => embedded.backlogBytes();
    bus = embedded;
  }
  const redis = redisConnection(config);
  const queueOptions = { attempts: config.queue.attempts, backoffBaseMs: config.queue.backoffBase, backoffMaxMs: config.queue.backoffMax };
  const queueLog = logger.child({ component: 'queue' });
  const queue = config.queue.kind === 'bullmq'
    ? new BullMqJobQueue({ ...redis, ...queueOptions, prefix: config.redis.queuePrefix, concurrency: config.queue.concurrency })
    : new MemoryJobQueue({
        ...queueOptions,
        store: config.queue.kind === 'embedded' ? new SqliteJobStore(database!) : null,
        onStoreError: (err) => {
          telemetry.errors.inc({ code: 'FS_QUEUE_STORE' });
          queueLog.warn({ err }, 'job state could not be stored; the job may run again after a restart');
        },
      });
  const store = config.state.kind === 'redis'
    ? new RedisStateStore({ ...redis, keyPrefix: config.redis.keyPrefix })
    : config.state.kind === 'embedded' ? new SqliteStateStore(database!) : new MemoryStateStore();
  const sink = createMetricSink(config, logger, telemetry);
  return { bus, queue, store, sink, database };
}

/** The data directory's database; a failed commit is counted, logged and shown in /readyz (see startForeshock). */
function openDatabase(config: ForeshockConfig, logger: Logger, telemetry: Telemetry): SqliteDatabase {
  const log = logger.child({ component: 'data' });
  const db = new SqliteDatabase({
    dir: config.data.dir,
    fsync: config.data.fsync,
    fsyncIntervalMs: config.data.fsyncInterval,
    onError: (err) => {
      telemetry.errors.inc({ code: err.code });
      log.error({ err, dir: config.data.dir }, 'embedded database write failed; the writes of that commit were refused to their callers');
    },
  });
  telemetry.sources.dataBytes = () => db.sizeBytes();
  telemetry.sources.dataCommits = () => ({ ok: db.stats.commits, failed: db.stats.commitErrors + db.stats.syncErrors });
  log.info({ path: db.path, fsync: config.data.fsync }, 'embedded database open');
  return db;
}

/** Connection options of the Redis adapters (StateStore, JobQueue): URL, secret, TLS. */
function redisConnection(config: ForeshockConfig): RedisConnectionOptions {
  const r = config.redis;
  const password = r.password !== '' ? r.password : r.passwordFile !== '' ? readSecretFile('redis.passwordFile', r.passwordFile) : undefined;
  const tlsWanted = r.tlsCaFile !== '' || r.url.startsWith('rediss:');
  const tls = tlsWanted ? { rejectUnauthorized: r.tlsRejectUnauthorized, ...(r.tlsCaFile !== '' ? { ca: readSecretFile('redis.tlsCaFile', r.tlsCaFile) } : {}) } : undefined;
  return { url: r.url, password, tls };
}

function readSecretFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function kafkaBusOptions(config: ForeshockConfig, logger: Logger, telemetry: Telemetry, guard: MemoryGuard): KafkaBusOptions {
  const k = config.kafka;
  const log = logger.child({ component: 'kafka' });
  let ssl: KafkaBusOptions['ssl'] = false;
  if (k.ssl) {
    ssl = { rejectUnauthorized: k.sslRejectUnauthorized, ...(k.sslCaFile !== '' ? { ca: readSecretFile('kafka.sslCaFile', k.sslCaFile) } : {}) };
  }
  let sasl: KafkaBusOptions['sasl'] = null;
  if (k.saslMechanism !== 'none') {
    const password = k.saslPassword !== '' ? k.saslPassword : k.saslPasswordFile !== '' ? readSecretFile('kafka.saslPasswordFile', k.saslPasswordFile) : '';
    if (k.saslUsername === '' || password === '') throw new ConfigError('kafka.saslUsername', `kafka.saslMechanism=${k.saslMechanism} needs kafka.saslUsername and kafka.saslPassword (or kafka.saslPasswordFile)`);
    sasl = { mechanism: k.saslMechanism, username: k.saslUsername, password };
  }
  return {
    brokers: k.brokers,
    clientId: k.clientId,
    groupIdPrefix: k.groupIdPrefix,
    ssl,
    sasl,
    connectionTimeoutMs: k.connectionTimeout,
    requestTimeoutMs: k.requestTimeout,
    sessionTimeoutMs: k.sessionTimeout,
    heartbeatIntervalMs: k.heartbeatInterval,
    rebalanceTimeoutMs: k.rebalanceTimeout,
    maxBytesPerPartition: k.maxBytesPerPartition,
    maxWaitTimeMs: k.maxWait,
    partitionsConsumedConcurrently: k.partitionsConsumedConcurrently,
    compression: k.compression,
    replicationFactor: k.replicationFactor,
    log: (level, message, extra) => log[level](extra, message),
    backPressure: config.limits.pauseConsumption && !guard.off
      ? () => {
          const over = guard.pressure();
          if (over !== null) telemetry.batchesHeldBack.inc();
          return over;
        }
      : undefined,
    onError: (err, where, groupId) => {
      const code = err instanceof ForeshockError ? err.code : where === 'commit' ? 'FS_BUS_COMMIT' : 'FS_BUS_HANDLER';
      telemetry.errors.inc({ code });
      log.warn({ err, where, groupId }, 'bus handler failed; the batch is delivered again');
    },
  };
}

function createMetricSink(config: ForeshockConfig, logger: Logger, telemetry: Telemetry): MetricSink {
  const c = config.sink;
  if (c.kind === 'memory') return new MemoryMetricSink({ capacity: c.memoryPoints });
  if (c.kind === 'none') return new NullMetricSink();
  if (!/^https?:\/\/[^/]+/.test(c.url)) throw new ConfigError('sink.url', `"${c.url}" is not an http(s) URL`);
  let token = c.token;
  if (token === '' && c.tokenFile !== '') {
    try {
      token = readFileSync(c.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('sink.tokenFile', `cannot read ${c.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return new InfluxMetricSink({
    url: c.url,
    org: c.org,
    bucket: c.bucket,
    token,
    batchSize: c.batchSize,
    flushIntervalMs: c.flushInterval,
    downsampleMs: c.downsampleInterval,
    maxRetries: c.maxRetries,
    maxBufferLines: c.maxBufferLines,
    logger: logger.child({ adapter: 'influx-sink' }),
    onCount: (outcome, n) => telemetry.sinkLines.inc({ outcome }, n),
  });
}

export async function startForeshock(config: ForeshockConfig, logger: Logger, service: ServiceName = 'all', options: StartOptions = {}): Promise<RunningForeshock> {
  if (service !== 'all' && config.bus.kind !== 'kafka') {
    throw new ConfigError('bus.kind', `"foreshock ${service}" runs one service alone, which needs a shared bus; with bus.kind=${config.bus.kind} use "foreshock start"`);
  }
  const telemetry = createTelemetry();
  const memoryGuard = createMemoryGuard(config, logger, telemetry);
  telemetry.sources.bufferedBytes = () => memoryGuard.buffered;
  telemetry.sources.marks = () => ({ rss: memoryGuard.rssMark, buffer: memoryGuard.bufferLimit, backlog: config.bus.kind === 'kafka' ? 0 : config.limits.backlogBytes });
  const adapters = createAdapters(config, logger, telemetry, memoryGuard);
  // One process runs every service (`start`) or just one of them (`foreshock <service>`).
  const runs = (s: Exclude<ServiceName, 'all'>) => service === 'all' || service === s;
  const { bus, queue, store, sink, database } = adapters;
  const closers: (() => Promise<void>)[] = [];
  let started = false;
  await bus.ensureTopics([
    { name: config.bus.topicRaw, partitions: config.bus.partitions },
    { name: config.bus.topicTelegraf, partitions: config.bus.partitions },
    { name: config.bus.topicSamples, partitions: config.bus.partitions },
    { name: config.bus.topicEvents, partitions: config.bus.partitions },
  ]);

  const detector = new DetectorService({ bus, store, sink, config, telemetry, memoryGuard, logger: logger.child({ service: 'detector' }) });
  const ingest = new IngestService({ bus, config, telemetry, logger: logger.child({ service: 'ingest' }) });
  const publicUrl = config.server.publicUrl || `http://${config.server.host === '0.0.0.0' ? 'localhost' : config.server.host}:${config.server.port}`;
  const intervention = new InterventionService(
    {
      alertmanagerUrls: config.alertmanager.url,
      resendIntervalMs: config.alertmanager.resendInterval,
      endsAtAheadMs: 4 * config.alertmanager.resendInterval,
      resolvedResendForMs: config.alertmanager.resolvedResendFor,
      timeoutMs: config.alertmanager.timeout,
      foreshockUrl: publicUrl,
      concurrency: config.queue.concurrency,
      pagerduty: {
        url: config.pagerduty.url,
        routes: config.pagerduty.routes,
        minSeverity: config.pagerduty.minSeverity,
        ratePerMinute: config.pagerduty.ratePerMinute,
        timeoutMs: config.pagerduty.timeout,
      },
      runbooks: { ...config.runbooks },
      auditMaxEntries: config.audit.maxEntries,
      groupBy: config.alerts.groupBy,
      carryLabels: config.ingest.groupLabels,
      minFiringMs: config.alerts.minFiring,
      resolveHoldMs: config.alerts.resolveHold,
    },
    { queue, store, logger: logger.child({ service: 'intervention' }), clock: options.clock ?? Date.now },
  );

  const app = createHttpServer({
    logger,
    telemetry,
    bodyLimit: config.server.maxBodyBytes,
    readiness: [
      () => (!runs('detect') || detector.ready() ? null : 'detector not started'),
      () => (started ? null : 'starting'),
      () => (database?.lastError ? `${database.lastError.code}: ${database.lastError.message}` : null),
    ],
    auth: { readHashes: resolveTokenHashes('auth.readTokens', config.auth.readTokens), writeHashes: resolveTokenHashes('auth.writeTokens', config.auth.writeTokens) },
  });
  // Receivers and the API serve their routes; pure workers only /healthz, /readyz and /metrics.
  if (runs('receiver')) await app.register(async (scope) => receiverRoutes(scope, { bus, config, telemetry, memoryGuard }));
  if (runs('api')) {
    // Recent values come back from the embedded sink only where the detector writes it (this process).
    const recent = sink instanceof MemoryMetricSink && runs('detect') ? recentValuesFrom((m, t, from, to) => sink.query(m, t, from, to)) : undefined;
    await app.register(async (scope) => apiRoutes(scope, { config, store, forecast: forecastFromModel, recent }));
    await app.register(pageRoutes);
    await app.register(async (scope) => auditRoutes(scope, { store }));
    await app.register(async (scope) => runbookRoutes(scope, { store, queue }));
  }

  const eventsConsumer = new EventsConsumer({
    bus,
    topic: config.bus.topicEvents,
    handle: (e) => intervention.handle(e),
    logger: logger.child({ service: 'intervention' }),
    onBadMessage: () => telemetry.errors.inc({ code: 'FS_EVENT_DECODE' }),
  });
  if (runs('intervene')) {
    await intervention.start();
    await eventsConsumer.start();
    closers.push(async () => {
      await eventsConsumer.close();
      await queue.close();
      await intervention.close();
    });
  } else {
    closers.push(() => queue.close());
  }
  if (runs('detect')) {
    await detector.start();
    closers.push(() => detector.close());
  }
  if (runs('ingest')) {
    await ingest.start();
    closers.push(() => ingest.close());
  }
  started = true;

  // Intervention counts are plain numbers on the service; mirror their growth into /metrics.
  let sent = 0;
  let failed = 0;
  const pdSeen: Record<string, number> = {};
  const queueSeen = { completed: 0, failed: 0, dead_lettered: 0 };
  const queueGauge = setInterval(() => {
    const st = intervention.stats;
    if (st.notificationsSent > sent) telemetry.notifications.inc({ target: 'alertmanager', outcome: 'sent' }, st.notificationsSent - sent);
    if (st.notificationsFailed > failed) telemetry.notifications.inc({ target: 'alertmanager', outcome: 'failed' }, st.notificationsFailed - failed);
    sent = st.notificationsSent;
    failed = st.notificationsFailed;
    const all = intervention.allStats();
    for (const [outcome, n] of [['sent', all.pagesSent], ['failed', all.pagesRetried], ['rejected', all.pagesRejected]] as const) {
      const d = n - (pdSeen[outcome] ?? 0);
      if (d > 0) telemetry.notifications.inc({ target: 'pagerduty', outcome }, d);
      pdSeen[outcome] = n;
    }
    queue.counts().then((c) => {
      telemetry.queueDepth.set({ state: 'waiting' }, c.waiting);
      telemetry.queueDepth.set({ state: 'active' }, c.active);
      telemetry.queueDepth.set({ state: 'delayed' }, c.delayed);
      telemetry.queueDepth.set({ state: 'failed' }, c.failed);
    }, () => undefined);
    // Both queue adapters count attempts; mirror their growth (retries = failed - dead_lettered).
    const qs = (queue as Partial<{ stats: { completed: number; attemptsFailed: number; deadLettered: number } }>).stats;
    if (qs !== undefined) {
      for (const [outcome, now] of [['completed', qs.completed], ['failed', qs.attemptsFailed], ['dead_lettered', qs.deadLettered]] as const) {
        const before = queueSeen[outcome];
        if (now > before) telemetry.queueAttempts.inc({ outcome }, now - before);
        queueSeen[outcome] = now;
      }
    }
  }, 5000);
  queueGauge.unref();

  const address = await app.listen({ host: config.server.host, port: config.server.port });
  logger.info({ address, service, bus: config.bus.kind, alertmanagers: config.alertmanager.url.length }, 'foreshock listening');
  const url = address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');

  const groups: [string, string][] = [];
  if (runs('ingest')) groups.push([config.bus.topicRaw, INGEST_GROUP], [config.bus.topicTelegraf, INGEST_GROUP]);
  if (runs('detect')) groups.push([config.bus.topicSamples, DETECTOR_GROUP]);
  if (runs('intervene')) groups.push([config.bus.topicEvents, EVENTS_GROUP]);
  return {
    url,
    telemetry,
    adapters,
    async idle() {
      for (const [topic, group] of groups) if ((await bus.lag(topic, group)) > 0) return false;
      const c = await queue.counts();
      return c.waiting === 0 && c.active === 0 && c.delayed === 0;
    },
    async close() {
      clearInterval(queueGauge);
      await app.close();
      // Stop in data-flow order so each stage drains into the next.
      for (const c of closers.reverse()) await c();
      await sink.close();
      await store.close();
      await bus.close();
      await database?.close();
    },
  };
}
