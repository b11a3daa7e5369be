// Detector services on the embedded bus and store, for the detector's unit tests: a bus whose
// every message gets the same append time (so a second bus replays "the same" log), a started
// DetectorService, and a collector of the events it publishes. Whatever is started is closed
// by the test's own `closers`.

import { MemoryBus, NullMetricSink } from '../../shared/adapters/memory/index.js';
import type { ForeshockConfig } from '../../shared/config/index.js';
import type { AnomalyEvent } from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';
import { createTelemetry, silentLogger, type Logger, type Telemetry } from '../../shared/telemetry/index.js';
import { DetectorService } from '../../services/detector/detector-service.js';

export const PARTITIONS = 4;
export const BUS_CLOCK = (): number => 1_750_000_000_000;

export type Closers = (() => Promise<void>)[];

export interface RunningDetector {
  svc: DetectorService;
  telemetry: Telemetry;
}

export function newBus(closers: Closers): MemoryBus {
  const bus = new MemoryBus({ maxBatchSize: 7, clock: BUS_CLOCK, defaultPartitions: PARTITIONS });
  closers.push(() => bus.close());
  return bus;
}

export async function startDetector(
  closers: Closers,
  bus: MemoryBus,
  store: StateStore,
  cfg: ForeshockConfig,
  opts: { logger?: Logger; clock?: () => number } = {},
): Promise<RunningDetector> {
  const telemetry = createTelemetry({ defaultMetrics: false });
  const svc = new DetectorService({
    bus, store, sink: new NullMetricSink(), config: cfg, telemetry, logger: opts.logger ?? silentLogger(), clock: opts.clock ?? Date.now,
  });
  await svc.start();
  closers.push(() => svc.close());
  return { svc, telemetry };
}

/** Every event published on the bus's `events` topic, in order. */
export async function collectEvents(bus: MemoryBus): Promise<AnomalyEvent[]> {
  const events: AnomalyEvent[] = [];
  const dec = new TextDecoder();
  await bus.subscribe({
    groupId: 'collector',
    topics: ['events'],
    eachBatch: async (b) => {
      for (const m of b.messages) events.push(JSON.parse(dec.decode(m.value)) as AnomalyEvent);
    },
  });
  return events;
}
