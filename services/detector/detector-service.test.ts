// State follows the partition: a detector that restores another's checkpoint continues exactly
// like an uninterrupted one (same series state, same events, same ids), and a rebalance moves
// the series of a partition from one worker to the next.

import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { loadConfig, type ForeshockConfig } from '../../shared/config/index.js';
import { encodeSampleBatch } from '../../shared/codecs/index.js';
import { KIND_GAUGE, seriesKey, sortedLabels, type AnomalyEvent, type SeriesSummary } from '../../shared/model/index.js';
import type { OutgoingMessage, StateStore } from '../../shared/ports/index.js';
import { collectEvents, newBus as harnessBus, PARTITIONS, startDetector, type RunningDetector } from '../../test/support/detector-harness.js';
import { buildWorkload } from '../../test/support/detector-workload.js';
import { CheckpointStore } from './checkpoint-store.js';
import { DetectorService } from './detector-service.js';

const WORKLOAD = buildWorkload({ hosts: 12, steps: 420, stepsPerMessage: 3 });

function config(over: Partial<ForeshockConfig['detector']> = {}): ForeshockConfig {
  const base = loadConfig({ env: {} }).config;
  return {
    ...base,
    bus: { ...base.bus, topicSamples: 'samples', topicEvents: 'events' },
    detector: { ...base.detector, checkpointInterval: 3_600_000, checkpointBatches: 3, checkpointChunkBytes: 4096, ...over },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const newBus = (): MemoryBus => harnessBus(closers);
const detector = (bus: MemoryBus, store: StateStore, cfg = config(), clock = Date.now): Promise<RunningDetector> =>
  startDetector(closers, bus, store, cfg, { clock });




async function drain(bus: MemoryBus, group: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await bus.lag('samples', group)) > 0 || (await bus.lag('events', 'collector')) > 0) {
    if (Date.now() > deadline) throw new Error('bus did not drain');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function send(bus: MemoryBus, messages: OutgoingMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 50) await bus.send('samples', messages.slice(i, i + 50));
}

function summaries(svc: DetectorService): Map<string, SeriesSummary> {
  const out = new Map<string, SeriesSummary>();
  for (const k of WORKLOAD.keys) {
    const s = svc.getSeries(k);
    if (s !== null) out.set(k, s);
  }
  return out;
}

/** The uninterrupted run every other run is compared with. */
async function referenceRun(): Promise<{ series: Map<string, SeriesSummary>; events: AnomalyEvent[]; forecasts: Map<string, unknown> }> {
  const bus = newBus();
  await bus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
  const events = await collectEvents(bus);
  const { svc } = await detector(bus, new MemoryStateStore());
  await send(bus, WORKLOAD.messages);
  await drain(bus, 'foreshock-detector');
  const forecasts = new Map<string, unknown>(WORKLOAD.keys.map((k) => [k, svc.forecast(k, 3_600_000, 4)]));
  return { series: summaries(svc), events, forecasts };
}

/** Copy what is durable in the checkpoint namespace: the state a crashed worker leaves behind. */
async function durableCopy(from: StateStore): Promise<MemoryStateStore> {
  const to = new MemoryStateStore();
  for (const k of await from.keys('detector:ckpt:')) {
    const v = await from.get(k);
    if (v !== null) await to.set(k, v);
  }
  return to;
}

/** The embedded store, except that `set` fails for the keys `fail` picks. */
class FlakyStore extends MemoryStateStore {
  failed = 0;
  constructor(private readonly fail: (key: string) => boolean) {
    super();
  }

  override async set(key: string, value: Uint8Array, ttlMs?: number): Promise<void> {
    if (this.fail(key)) {
      this.failed++;
      throw new Error('store unavailable');
    }
    return super.set(key, value, ttlMs);
  }
}

describe('DetectorService checkpoints', () => {
  it('a worker restoring a crashed worker’s checkpoint continues exactly like an uninterrupted one', async () => {
    const ref = await referenceRun();
    const opened = ref.events.filter((e) => e.kind === 'anomaly_opened');
    expect(opened.length).toBeGreaterThanOrEqual(3);
    expect(new Set(opened.map((e) => e.id)).size).toBe(opened.length);
    expect(ref.events.some((e) => e.kind === 'anomaly_resolved')).toBe(true);

    const n = WORKLOAD.messages.length;
    const snap = Math.floor(n * 0.3); // a snapshot is written with the batch after this
    const cut = Math.floor(n * 0.45); // durable at the crash (snapshot + journal)
    const tail = Math.floor(n * 0.6); // processed and published, but lost with the crash

    // Worker A: journals every batch; snapshots once the (test's) clock says a minute passed.
    let now = 0;
    const cfg = config({ checkpointInterval: 60_000, checkpointBatches: 0 });
    const busA = newBus();
    await busA.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const eventsA = await collectEvents(busA);
    const storeA = new MemoryStateStore();
    const a = await detector(busA, storeA, cfg, () => now);
    await send(busA, WORKLOAD.messages.slice(0, snap));
    await drain(busA, 'foreshock-detector');
    now += 60_000;
    await send(busA, WORKLOAD.messages.slice(snap, cut));
    await drain(busA, 'foreshock-detector');
    const atCrash = summaries(a.svc);
    const left = await durableCopy(storeA);
    expect((await left.keys('detector:ckpt:')).some((k) => k.includes(':j:'))).toBe(true);
    expect((await left.keys('detector:ckpt:')).some((k) => k.includes(':s:'))).toBe(true);
    await send(busA, WORKLOAD.messages.slice(cut, tail));
    await drain(busA, 'foreshock-detector');

    // Worker B: the same log (from offset 0: no commits survive), A's durable checkpoints.
    const busB = newBus();
    await busB.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const eventsB = await collectEvents(busB);
    const b = await detector(busB, left, cfg, () => now);
    // Restored on assignment, before any message: warm, identical to A at the crash.
    expect(summaries(b.svc)).toEqual(atCrash);
    for (const s of summaries(b.svc).values()) expect(s.state).not.toBe('warmup');
    await send(busB, WORKLOAD.messages);
    await drain(busB, 'foreshock-detector');

    // Same state and forecasts as the uninterrupted run, series by series.
    expect(summaries(b.svc)).toEqual(ref.series);
    for (const k of WORKLOAD.keys) expect(b.svc.forecast(k, 3_600_000, 4)).toEqual(ref.forecasts.get(k));
    // The covered messages were skipped, not re-scored.
    const skipped = (await b.telemetry.registry.getSingleMetricAsString('foreshock_detector_messages_skipped_total')).match(/ (\d+)$/m);
    expect(Number(skipped?.[1])).toBe(cut);

    // Events: A's then B's give exactly the reference events; what B repeats (the tail A
    // lost) carries the same ids and content, so downstream it is a no-op.
    const byId = new Map(ref.events.map((e) => [e.id, e]));
    for (const e of [...eventsA, ...eventsB]) expect(e).toEqual(byId.get(e.id));
    expect(new Set([...eventsA, ...eventsB].map((e) => e.id))).toEqual(new Set(byId.keys()));
    const aIds = new Set(eventsA.map((e) => e.id));
    const repeated = eventsB.filter((e) => aIds.has(e.id));
    expect(eventsB.length).toBeLessThan(ref.events.length);
    expect(new Set(eventsB.map((e) => e.id)).size).toBe(eventsB.length);
    // Only events caused by the lost tail repeat.
    const tailEnd = Math.max(...eventsA.map((e) => e.ts));
    for (const e of repeated) expect(e.ts).toBeLessThanOrEqual(tailEnd);
  });

  it('moves a partition’s series from one worker to another on rebalance', async () => {
    const ref = await referenceRun();
    const bus = newBus();
    await bus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const events = await collectEvents(bus);
    const store = new MemoryStateStore();
    const a = await detector(bus, store);
    expect(a.svc.ownedPartitions()).toEqual([0, 1, 2, 3]);
    const n = WORKLOAD.messages.length;
    await send(bus, WORKLOAD.messages.slice(0, Math.floor(n / 2)));
    await drain(bus, 'foreshock-detector');
    const before = summaries(a.svc);
    expect(before.size).toBe(WORKLOAD.keys.length);

    // B joins: A flushes and drops the partitions B gets, B restores them before their messages.
    const b = await detector(bus, store);
    expect(a.svc.ownedPartitions()).toEqual([0, 1]);
    expect(b.svc.ownedPartitions()).toEqual([2, 3]);
    const inA = summaries(a.svc);
    const inB = summaries(b.svc);
    expect(inA.size).toBeGreaterThan(0);
    expect(inB.size).toBeGreaterThan(0);
    expect(inA.size + inB.size).toBe(before.size);
    for (const [k, s] of inB) {
      expect(inA.has(k)).toBe(false);
      expect(s).toEqual(before.get(k));
    }

    await send(bus, WORKLOAD.messages.slice(Math.floor(n / 2)));
    await drain(bus, 'foreshock-detector');
    // A leaves: B takes everything back, warm.
    await a.svc.close();
    expect(b.svc.ownedPartitions()).toEqual([0, 1, 2, 3]);
    await drain(bus, 'foreshock-detector');
    expect(summaries(b.svc)).toEqual(ref.series);
    // Nothing lost, nothing twice.
    expect(events.map((e) => e.id).sort()).toEqual(ref.events.map((e) => e.id).sort());
  });

  it('starts a partition cold when its checkpoint is unusable, and says so', async () => {
    const bus = newBus();
    await bus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const store = new MemoryStateStore();
    const a = await detector(bus, store);
    await send(bus, WORKLOAD.messages.slice(0, 200));
    await drain(bus, 'foreshock-detector');
    await a.svc.close();
    // Damage partition 0's snapshot: one byte of one chunk.
    const base = CheckpointStore.base('foreshock-detector', 'samples', 0);
    const chunk = (await store.keys(`${base}:s:`))[0];
    const bytes = (await store.get(chunk))!;
    bytes[100] ^= 0xff;
    await store.set(chunk, bytes);
    const b = await detector(bus, store);
    const restores = await b.telemetry.registry.getSingleMetricAsString('foreshock_detector_restores_total');
    expect(restores).toMatch(/outcome="cold"} 1/);
    expect(restores).toMatch(/outcome="warm"} 3/);
  });

  it('measures idleness per partition: a partition replaying its backlog keeps its series', async () => {
    const bus = newBus();
    const store = new MemoryStateStore();
    const { svc } = await detector(bus, store, config({ checkpoint: false }));
    const T = Date.UTC(2025, 0, 1);
    const batch = (partition: number, host: string, offset: number, ts: number) => {
      const labels = sortedLabels([['__name__', 'fs_x'], ['host', host]]);
      const value = encodeSampleBatch({ series: [{ key: seriesKey(labels), labels, host, kind: KIND_GAUGE, timestamps: Float64Array.of(ts), values: Float64Array.of(1), stale: false }] });
      return { topic: 'samples', partition, messages: [{ key: host, value, offset, timestamp: 1 }] };
    };
    // Batches handed over as the bus would: partition 1 gets one old sample, partition 0 runs on.
    await svc.handleBatch(batch(1, 'slow', 0, T));
    await svc.handleBatch(batch(0, 'fast', 0, T));
    // Partition 0 runs two hours of event time ahead; partition 1 has not caught up yet.
    for (let i = 1; i <= 130; i++) await svc.handleBatch(batch(0, 'fast', i, T + i * 60_000));
    expect(svc.getSeries('fs_x{host="slow"}')).not.toBeNull();
    // A series idle for longer than idleEvict on its own partition goes.
    await svc.handleBatch(batch(1, 'other', 1, T + 2 * 3_600_000));
    for (let i = 131; i <= 140; i++) await svc.handleBatch(batch(0, 'fast', i, T + i * 60_000));
    expect(svc.getSeries('fs_x{host="slow"}')).toBeNull();
    expect(svc.getSeries('fs_x{host="other"}')).not.toBeNull();
  });

  it('retries a checkpoint write that failed without scoring anything twice or losing an event', async () => {
    const ref = await referenceRun();
    const bus = newBus();
    await bus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const events = await collectEvents(bus);
    // A StateStore whose checkpoint writes fail now and then, as a store that drops out would.
    let writes = 0;
    const flaky = new FlakyStore((key) => key.startsWith('detector:ckpt:') && ++writes % 7 === 0);
    const { svc, telemetry } = await detector(bus, flaky, config({ checkpointBatches: 4 }));
    await send(bus, WORKLOAD.messages);
    await drain(bus, 'foreshock-detector');
    expect(flaky.failed).toBeGreaterThan(5);
    expect(bus.stats.redeliveries).toBe(flaky.failed);
    const skipped = (await telemetry.registry.getSingleMetricAsString('foreshock_detector_messages_skipped_total')).match(/ (\d+)$/m);
    expect(Number(skipped?.[1])).toBeGreaterThan(0);
    expect(summaries(svc)).toEqual(ref.series);
    // Each event once: the redelivered batches' events were published before the failed write.
    expect(events.map((e) => e.id).sort()).toEqual(ref.events.map((e) => e.id).sort());
  }, 30_000); // two full runs of the workload: seconds on a loaded 2-core machine
});
