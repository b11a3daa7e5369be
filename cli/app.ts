// Composition root: builds the adapters the config names, the services a process runs, and
// the HTTP server they share. The only place that knows every service.

import type { ForeshockConfig } from '../shared/config/index.js';
import { ConfigError } from '../shared/errors/index.js';
import { createHttpServer } from '../shared/http/index.js';
import { MemoryBus, MemoryJobQueue, MemoryMetricSink, MemoryStateStore, NullMetricSink } from '../shared/adapters/memory/index.js';
import type { Bus, JobQueue, MetricSink, StateStore } from '../shared/ports/index.js';
import { createTelemetry, type Logger, type Telemetry } from '../shared/telemetry/index.js';
import { apiRoutes } from '../services/api/index.js';
import { DetectorService } from '../services/detector/index.js';
import { IngestService } from '../services/ingest/index.js';
import { EventsConsumer, InterventionService } from '../services/intervention/index.js';
import { receiverRoutes } from '../services/receiver/index.js';

export const SERVICES = ['all', 'receiver', 'ingest', 'detect', 'intervene', 'api'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface RunningForeshock {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:9740 */
  url: string;
  telemetry: Telemetry;
  /** Drain and stop everything; resolves when done. */
  close(): Promise<void>;
}

interface Adapters {
  bus: Bus;
  queue: JobQueue;
  store: StateStore;
  sink: MetricSink;
}

function createAdapters(config: ForeshockConfig): Adapters {
  const bus = new MemoryBus({ retainMessages: config.bus.retainMessages });
  const queue = new MemoryJobQueue({
    attempts: config.queue.attempts,
    backoffBaseMs: config.queue.backoffBase,
    backoffMaxMs: config.queue.backoffMax,
  });
  const store = new MemoryStateStore({ snapshotPath: config.state.snapshotPath || undefined });
  const sink = config.sink.kind === 'memory' ? new MemoryMetricSink({ capacity: config.sink.memoryPoints }) : new NullMetricSink();
  return { bus, queue, store, sink };
}

export async function startForeshock(config: ForeshockConfig, logger: Logger, service: ServiceName = 'all'): Promise<RunningForeshock> {
  if (service !== 'all' && config.bus.kind === 'memory') {
    throw new ConfigError('bus.kind', `"foreshock ${service}" runs one service alone, which needs a shared bus; with bus.kind=memory use "foreshock start"`);
  }
  const telemetry = createTelemetry();
  const adapters = createAdapters(config);
  const { bus, queue, store, sink } = adapters;
  const closers: (() => Promise<void>)[] = [];
  await bus.ensureTopics([
    { name: config.bus.topicRaw, partitions: config.bus.partitions },
    { name: config.bus.topicTelegraf, partitions: config.bus.partitions },
    { name: config.bus.topicSamples, partitions: config.bus.partitions },
    { name: config.bus.topicEvents, partitions: config.bus.partitions },
  ]);

  const detector = new DetectorService({ bus, store, sink, config, telemetry, logger: logger.child({ service: 'detector' }) });
  const ingest = new IngestService({ bus, config, telemetry, logger: logger.child({ service: 'ingest' }) });
  const publicUrl = config.server.publicUrl || `http://${config.server.host === '0.0.0.0' ? 'localhost' : config.server.host}:${config.server.port}`;
  const intervention = new InterventionService(
    {
      alertmanagerUrls: config.alertmanager.url,
      resendIntervalMs: config.alertmanager.resendInterval,
      endsAtAheadMs: 4 * config.alertmanager.resendInterval,
      resolvedResendForMs: 15 * 60_000,
      timeoutMs: config.alertmanager.timeout,
      foreshockUrl: publicUrl,
      concurrency: config.queue.concurrency,
    },
    { queue, store, logger: logger.child({ service: 'intervention' }), clock: Date.now },
  );

  const app = createHttpServer({
    logger,
    telemetry,
    bodyLimit: config.server.maxBodyBytes,
    readiness: [() => (detector.ready() ? null : 'detector not started')],
  });
  await app.register(async (scope) => receiverRoutes(scope, { bus, config, telemetry }));
  await app.register(async (scope) => apiRoutes(scope, { config, store, view: detector }));

  const eventsConsumer = new EventsConsumer({
    bus,
    topic: config.bus.topicEvents,
    handle: (e) => intervention.handle(e),
    logger: logger.child({ service: 'intervention' }),
    onBadMessage: () => telemetry.errors.inc({ code: 'FS_EVENT_DECODE' }),
  });
  await intervention.start();
  await eventsConsumer.start();
  closers.push(async () => {
    await eventsConsumer.close();
    await queue.close();
    await intervention.close();
  });
  await detector.start();
  closers.push(() => detector.close());
  await ingest.start();
  closers.push(() => ingest.close());

  // Intervention counts are plain numbers on the service; mirror their growth into /metrics.
  let sent = 0;
  let failed = 0;
  const queueGauge = setInterval(() => {
    const st = intervention.stats;
    if (st.notificationsSent > sent) telemetry.notifications.inc({ target: 'alertmanager', outcome: 'sent' }, st.notificationsSent - sent);
    if (st.notificationsFailed > failed) telemetry.notifications.inc({ target: 'alertmanager', outcome: 'failed' }, st.notificationsFailed - failed);
    sent = st.notificationsSent;
    failed = st.notificationsFailed;
    queue.counts().then((c) => {
      telemetry.queueDepth.set({ state: 'waiting' }, c.waiting);
      telemetry.queueDepth.set({ state: 'active' }, c.active);
      telemetry.queueDepth.set({ state: 'delayed' }, c.delayed);
      telemetry.queueDepth.set({ state: 'failed' }, c.failed);
    }, () => undefined);
  }, 5000);
  queueGauge.unref();

  const address = await app.listen({ host: config.server.host, port: config.server.port });
  logger.info({ address, alertmanagers: config.alertmanager.url.length }, 'foreshock listening');
  const url = address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');

  return {
    url,
    telemetry,
    async close() {
      clearInterval(queueGauge);
      await app.close();
      // Stop in data-flow order so each stage drains into the next.
      for (const c of closers.reverse()) await c();
      await sink.close();
      await store.close();
      await bus.close();
    },
  };
}
