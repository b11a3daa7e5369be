// Detector stage: consumes sample batches (the partitions this worker owns), prepares each
// series (order, duplicates, counter → rate), runs the engine on event time and publishes
// the events it raises to the events topic and the recent-events log.
//
// State follows the partition: every series belongs to the samples-topic partition it arrives
// on. On assignment a partition's checkpoint (snapshot + journal, see checkpoint-store.ts) is
// restored before its messages are handled; a batch resolves (and its offsets are committed)
// only after its events are published and the messages it applied are durable in the
// StateStore (journal entry, or a new snapshot every checkpointInterval); on revocation a
// final snapshot is written and the partition's series are dropped. Messages at or below the
// offset the restored state covers are skipped, so a replayed tail is applied once.

import { eventPages, fillTemplate, formatAhead, inAbout, loadCatalogue, type Catalogue, type MetricInfo } from '../../shared/catalogue/index.js';
import { BytesMap, decodeSeriesHead, scanSampleBatch, type SampleBatchVisitor } from '../../shared/codecs/index.js';
import type { ForeshockConfig } from '../../shared/config/index.js';
import { ForeshockError } from '../../shared/errors/index.js';
import {
  EVENTS_LOG, KIND_COUNTER, KIND_GAUGE, type AnomalyEvent, type EventKind, type ForecastPoint, type SeriesFilter, type SeriesSamples,
  type Labels, type MetricKind, type SeriesState, type SeriesSummary, type SeriesView,
} from '../../shared/model/index.js';
import type { Bus, BusBatch, MetricPoint, MetricSink, OutgoingMessage, StateStore, Subscription } from '../../shared/ports/index.js';
import type { Logger, MemoryGuard, Telemetry } from '../../shared/telemetry/index.js';
import {
  DetectorEngine, EVENT_BREACH_CLEARED, EVENT_FORECAST_BREACH, EVENT_OPENED, EVENT_RESOLVED, EVENT_SATURATED, EVENT_SATURATION_CLEARED, EVENT_UPDATED, explain,
  formatValue, profileResolverFromConfig, type ProfileResolver,
} from './engine/index.js';
import { DerivedSignals, type DerivedInput, type DerivedSample } from './derived.js';
import { SINK_TAGS } from '../../shared/model/index.js';
import { CheckpointStore, type CheckpointManifest } from './checkpoint-store.js';
import { decodeJournal, decodeSnapshot, encodeJournal, encodeSnapshot, type JournalMessage, type PartitionSnapshot } from './partition-checkpoint.js';
import { SeriesTable } from './series-table.js';
import { viewPublisherFor, type ViewPublisher } from './view-publisher.js';

export interface DetectorDeps {
  bus: Bus;
  store: StateStore;
  sink: MetricSink;
  config: ForeshockConfig;
  telemetry: Telemetry;
  logger: Logger;
  /** Wall clock for checkpoint scheduling, ms. Default `Date.now`. */
  clock?: () => number;
  /** While it is engaged (the process is above a memory mark), new series are refused: existing ones keep their state. */
  memoryGuard?: MemoryGuard;
}

/** A samples-topic partition this worker owns, and how far its state is applied and durable. */
interface OwnedPartition {
  topic: string;
  partition: number;
  /** Checkpoint key prefix in the StateStore. */
  base: string;
  /** Its checkpoint has been restored (or there was none); batches wait for this. */
  ready: boolean;
  /** Last offset whose samples are in the engine state; -1 when none. */
  applied: number;
  /** Largest append time of the messages applied: a message at or below `applied` that is newer belongs to a new log (topic recreated). */
  maxTs: number;
  /** Latest event time of the partition's samples: its series idle relative to it are evicted. */
  maxEventTs: number;
  /** Events of applied messages not yet published (a failed publish is retried with the redelivered batch). */
  pendingEvents: AnomalyEvent[];
  /** Messages applied but not yet in the StateStore. */
  journal: JournalMessage[];
  /** Journal entries written since the current snapshot (deleted when the next one is written). */
  journalKeys: string[];
  manifest: CheckpointManifest | null;
  lastSnapshotAt: number;
  batchesSinceSnapshot: number;
}

const EVICT_EVERY_MS = 60_000;
/** At most one series-limit warning per this much wall time. */
const LIMIT_WARN_EVERY_MS = 10_000;
/** Consumer group of the detector workers (the Kafka adapter prepends kafka.groupIdPrefix). */
export const DETECTOR_GROUP = 'foreshock-detector';
const textEncoder = new TextEncoder();

export class DetectorService implements SeriesView {
  private readonly engine: DetectorEngine;
  private readonly resolver: ProfileResolver;
  private readonly sinkIntervalMs: number;
  /** Metric-sink points of the batch in progress, written once per batch. */
  private sinkPoints: MetricPoint[] = [];
  private readonly breachOut = new Float64Array(3);
  private readonly table = new SeriesTable();
  private subscription: Subscription | null = null;
  private started = false;
  private maxEventTs = -Infinity;
  private lastEvictAt = -Infinity;
  /** Wall time the events log was last trimmed to api.eventsKept. */
  private lastTrimAt = -Infinity;
  /** Event time of the last sample of the series `processSeries` ran last (an output, not per-sample state). */
  private seriesLastTs = -Infinity;
  private readonly out = new Float64Array(3);
  private dropped = { duplicate: 0, out_of_order: 0, series_limit_host: 0, series_limit_total: 0, series_limit_memory: 0 };
  /** Wall time of the last series-limit warning, and refusals since (the warning is rate-limited). */
  private limitWarnAt = -Infinity;
  private limitRefusedSince = 0;
  /** Publishes series, forecasts and the risk board to the StateStore for the API. */
  readonly publisher: ViewPublisher;
  /** Partitions owned, by partition number (one topic). */
  private readonly owned = new Map<number, OwnedPartition>();
  private readonly checkpoints: CheckpointStore | null;
  private readonly clock: () => number;

  /** The metric catalogue: roles, kinds, directions and saturation models, looked up once per series. */
  readonly catalogue: Catalogue;
  private readonly derived = new DerivedSignals();
  private readonly derivedOut: DerivedSample[] = [];
  private readonly one = new Float64Array(2);
  /** Samples of ignored series (catalogue role `ignored`) not scored, since the last flush. */
  private ignoredSamples = 0;

  constructor(private readonly deps: DetectorDeps) {
    // One engine profile per kind of metric (and per config rule, and per catalogue saturation
    // model); a series picks its profile once, when its slot is allocated.
    this.catalogue = loadCatalogue(deps.config.catalogue.files);
    this.resolver = profileResolverFromConfig(deps.config.detector, this.catalogue.saturations());
    this.engine = new DetectorEngine(this.resolver.profiles);
    this.sinkIntervalMs = deps.config.detector.sinkInterval;
    this.publisher = viewPublisherFor(this.engine, this.table, deps);
    this.checkpoints = deps.config.detector.checkpoint ? new CheckpointStore(deps.store, deps.config.detector.checkpointChunkBytes) : null;
    this.clock = deps.clock ?? Date.now;
  }

  ready(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    const { bus, config } = this.deps;
    this.subscription = await bus.subscribe({
      groupId: DETECTOR_GROUP,
      topics: [config.bus.topicSamples],
      eachBatch: (batch) => this.handleBatch(batch),
      onAssign: (parts) => this.onAssign(parts),
      onRevoke: (parts) => this.onRevoke(parts),
    });
    this.started = true;
    this.publisher.start();
  }

  /** Partitions this worker owns (restored or being restored), ascending. */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /**
   * Handles one batch of one partition. Resolves once the batch's events are published and
   * the messages it applied are durable in the StateStore (so the bus may commit them);
   * throws when either failed (the bus redelivers the batch; what was applied is skipped).
   */
  async handleBatch(batch: BusBatch): Promise<void> {
    const { telemetry } = this.deps;
    const op = this.owned.get(batch.partition) ?? this.own(batch.topic, batch.partition);
    if (!op.ready) await this.restore(op);
    const t0 = process.hrtime.bigint();
    let scored = 0;
    let skipped = 0;
    for (const m of batch.messages) {
      if (m.offset <= op.applied && m.timestamp <= op.maxTs) {
        skipped++;
        continue;
      }
      scored += this.applyMessage(op, m.offset, m.value, op.pendingEvents);
      op.applied = m.offset;
      if (m.timestamp > op.maxTs) op.maxTs = m.timestamp;
      if (this.checkpoints !== null) op.journal.push({ offset: m.offset, timestamp: m.timestamp, value: m.value });
    }
    const ns = Number(process.hrtime.bigint() - t0);
    if (scored > 0) {
      telemetry.samplesScored.inc(scored);
      telemetry.detectorNsPerSample.set(ns / scored);
      telemetry.detectorBatchSeconds.observe(ns / 1e9);
    }
    if (skipped > 0) telemetry.detectorMessagesSkipped.inc(skipped);
    if (this.sinkPoints.length > 0) {
      // The sink buffers and never blocks; points of a replayed tail are rewritten at the same times.
      this.deps.sink.write(this.sinkPoints);
      this.sinkPoints = [];
    }
    this.flushDropCounts();
    this.maybeEvict();
    telemetry.seriesActive.set(this.table.size);
    await this.makeDurable(op, false);
  }

  /** Runs the derived samples whose scrapes completed through the engine; returns how many. */
  private runDerived(events: AnomalyEvent[]): number {
    const out = this.derivedOut;
    this.derived.flush(out);
    let scored = 0;
    const one = this.one;
    for (const d of out) {
      const g = d.group;
      one[0] = d.ts;
      one[1] = d.value;
      const info = this.catalogue.lookup(g.formula.name, g.labels);
      scored += this.processColumns(g.key, g.labels, g.host, KIND_GAUGE, false, one, 0, one, 1, 1, events, g.partition, -1, info);
    }
    out.length = 0;
    return scored;
  }

  /** Decodes one message and runs its series; returns the samples scored. */
  private applyMessage(op: OwnedPartition, offset: number, value: Uint8Array, events: AnomalyEvent[]): number {
    const { telemetry, logger } = this.deps;
    const v = this.visit;
    v.op = op;
    v.events = events;
    v.scored = 0;
    try {
      scanSampleBatch(value, this.visitor);
      v.scored += this.runDerived(events);
    } catch (err) {
      telemetry.errors.inc({ code: err instanceof ForeshockError ? err.code : 'FS_DETECTOR_DECODE' });
      logger.warn({ partition: op.partition, offset, err: (err as Error).message }, 'sample batch dropped');
      return 0;
    } finally {
      v.op = null;
      v.events = null;
    }
    return v.scored;
  }

  /** State of the message being applied, for the visitor. */
  private readonly visit: { op: OwnedPartition | null; events: AnomalyEvent[] | null; scored: number } = { op: null, events: null, scored: 0 };
  private readonly visitor: SampleBatchVisitor = {
    series: (buf, headStart, headEnd, kind, stale, cols, at, n) => {
      // Hashed over the series key only (it names the series; the rest follows from it), compared whole.
      let keyEnd = headStart + 1 + buf[headStart];
      if (buf[headStart] >= 0x80) keyEnd = headEnd;
      if (keyEnd > headEnd) keyEnd = headEnd;
      let id = this.heads.get(buf, headStart, headEnd, keyEnd);
      const op = this.visit.op!;
      if (id === undefined) {
        const head = decodeSeriesHead(buf, headStart, headEnd);
        const name = head.labels.__name__ ?? '';
        const info = this.catalogue.lookup(name, head.labels);
        const inputs = this.derived.bind(head.key, name, head.labels, head.host, op.partition);
        this.heads.set(buf, headStart, headEnd, (id = { ...head, slot: -1, info, inputs: inputs.length > 0 ? inputs : null }), keyEnd);
      }
      if (id.inputs !== null) for (const input of id.inputs) this.derived.add(input, cols, at, cols, at + n, n);
      if (id.info.role === 'ignored') {
        this.ignoredSamples += n;
        return;
      }
      // The slot the series had last time, if it still holds it: saves the key lookup.
      const hint = id.slot >= 0 && this.table.keys[id.slot] === id.key ? id.slot : -1;
      this.visit.scored += this.processColumns(id.key, id.labels, id.host, kind, stale, cols, at, cols, at + n, n, this.visit.events!, op.partition, hint, id.info);
      id.slot = this.lastSlot;
      if (this.seriesLastTs > op.maxEventTs) op.maxEventTs = this.seriesLastTs;
    },
  };
  /** Series identities by the bytes ingest encodes them as: a known series costs no string. */
  private readonly heads = new BytesMap<{ key: string; host: string; labels: Labels; slot: number; info: MetricInfo; inputs: DerivedInput[] | null }>();
  /** Slot of the series processColumns ran last (-1: refused). */
  private lastSlot = -1;

  private own(topic: string, partition: number): OwnedPartition {
    const op: OwnedPartition = {
      topic,
      partition,
      // Named like the group, so deployments that keep their groups apart keep checkpoints apart.
      base: CheckpointStore.base(this.deps.config.kafka.groupIdPrefix + DETECTOR_GROUP, topic, partition),
      ready: false,
      applied: -1,
      maxTs: -Infinity,
      maxEventTs: -Infinity,
      pendingEvents: [],
      journal: [],
      journalKeys: [],
      manifest: null,
      lastSnapshotAt: this.clock(),
      batchesSinceSnapshot: 0,
    };
    this.owned.set(partition, op);
    return op;
  }

  /** Bus callback: restore each new partition before its messages arrive. */
  private async onAssign(parts: { topic: string; partition: number }[]): Promise<void> {
    for (const { topic, partition } of parts) {
      const op = this.owned.get(partition) ?? this.own(topic, partition);
      if (op.ready) continue;
      try {
        await this.restore(op);
      } catch (err) {
        // The StateStore is unreachable: the partition's batches retry the restore (and are
        // redelivered until it works), so nothing is scored on cold state meanwhile.
        this.deps.telemetry.errors.inc({ code: 'FS_DETECTOR_RESTORE' });
        this.deps.logger.warn({ partition, err: (err as Error).message }, 'checkpoint restore failed; retrying with the first batch');
      }
    }
  }

  /** Bus callback: flush a final snapshot of each partition taken away, then drop its series. */
  private async onRevoke(parts: { topic: string; partition: number }[]): Promise<void> {
    for (const { partition } of parts) {
      const op = this.owned.get(partition);
      if (op === undefined) continue;
      try {
        if (op.ready) await this.makeDurable(op, true);
      } catch (err) {
        // The next owner restores the last durable checkpoint and replays the rest from the bus.
        this.deps.telemetry.errors.inc({ code: 'FS_DETECTOR_FLUSH' });
        this.deps.logger.warn({ partition, err: (err as Error).message }, 'final checkpoint failed; the next owner replays from the last one');
      }
      this.owned.delete(partition);
      // Their records stay in the view for the next owner to overwrite (see release).
      await this.publisher.release(this.table.slotsOf(partition).map((slot) => this.table.keys[slot]!));
      const dropped = this.dropSeries(partition);
      // Identities cached by bytes point at the partition's derived groups: bind them anew.
      this.derived.dropPartition(partition);
      this.heads.clear();
      this.deps.logger.info({ partition, series: dropped, offset: op.applied }, 'partition revoked');
    }
    this.deps.telemetry.seriesActive.set(this.table.size);
  }

  /**
   * Load the partition's snapshot and journal into the engine. Throws when the StateStore
   * cannot be read (the caller retries); an unusable checkpoint is logged and the partition
   * starts cold.
   */
  private async restore(op: OwnedPartition): Promise<void> {
    const { telemetry, logger } = this.deps;
    // Whatever this worker still held for the partition is older than the checkpoint.
    this.dropSeries(op.partition);
    op.applied = -1;
    op.maxTs = -Infinity;
    op.maxEventTs = -Infinity;
    op.pendingEvents = [];
    op.journal = [];
    op.journalKeys = [];
    op.manifest = null;
    if (this.checkpoints === null) {
      op.ready = true;
      return;
    }
    const t0 = process.hrtime.bigint();
    let outcome = 'empty';
    let replayed = 0;
    try {
      const loaded = await this.checkpoints.load(op.base);
      if (loaded.snapshot !== null) {
        this.importSnapshot(op, decodeSnapshot(loaded.snapshot));
        op.manifest = loaded.manifest;
        outcome = 'warm';
      }
      // Journal entries hold the messages applied after the snapshot; their events were
      // published before the entry was written, so the replay discards them.
      const discard: AnomalyEvent[] = [];
      for (const entry of loaded.journal) {
        for (const m of decodeJournal(entry.value)) {
          if (m.offset <= op.applied) continue;
          this.applyMessage(op, m.offset, m.value, discard);
          discard.length = 0;
          op.applied = m.offset;
          if (m.timestamp > op.maxTs) op.maxTs = m.timestamp;
          replayed++;
        }
        op.journalKeys.push(entry.key);
        outcome = 'warm';
      }
      this.flushDropCounts();
    } catch (err) {
      if (!(err instanceof ForeshockError && err.code === 'FS_DETECTOR_CHECKPOINT')) throw err;
      this.dropSeries(op.partition);
      op.applied = -1;
      op.maxTs = -Infinity;
      op.maxEventTs = -Infinity;
      op.journalKeys = [];
      op.manifest = null;
      outcome = 'cold';
      telemetry.errors.inc({ code: err.code });
      logger.warn({ partition: op.partition, err: err.message }, 'checkpoint unusable; the partition starts cold');
    }
    op.ready = true;
    op.lastSnapshotAt = this.clock();
    op.batchesSinceSnapshot = 0;
    telemetry.detectorRestores.inc({ outcome });
    telemetry.seriesActive.set(this.table.size);
    logger.info(
      { partition: op.partition, outcome, series: this.table.slotsOf(op.partition).length, offset: op.applied, journalMessages: replayed, ms: Number(process.hrtime.bigint() - t0) / 1e6 },
      'partition restored',
    );
  }

  private importSnapshot(op: OwnedPartition, snap: PartitionSnapshot): void {
    const { engine, table } = this;
    const slots = engine.importSlots(snap.engine);
    if (slots.length !== snap.keys.length) {
      for (const slot of slots) engine.freeSlot(slot);
      throw new ForeshockError('FS_DETECTOR_CHECKPOINT', `snapshot holds ${snap.keys.length} series but ${slots.length} engine records`);
    }
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (table.get(snap.keys[i]) !== undefined) {
        // Held under another partition of this worker; that state is newer.
        engine.freeSlot(slot);
        continue;
      }
      const labels = snap.labels[i];
      table.bind(slot, snap.keys[i], labels, snap.hosts[i], snap.kinds[i] === KIND_COUNTER ? KIND_COUNTER : 0, op.partition, this.catalogue.lookup(labels.__name__ ?? '', labels));
      table.lastTs[slot] = snap.lastTs[i];
      table.lastRaw[slot] = snap.lastRaw[i];
      table.samples[slot] = snap.samples[i];
      if (snap.lastTs[i] > this.maxEventTs) this.maxEventTs = snap.lastTs[i];
      if (snap.lastTs[i] > op.maxEventTs) op.maxEventTs = snap.lastTs[i];
    }
    op.applied = snap.offset;
    op.maxTs = snap.maxMessageTs;
  }

  /** Free every series of `partition`; returns how many. */
  private dropSeries(partition: number): number {
    const slots = this.table.slotsOf(partition);
    for (const slot of slots) {
      this.engine.freeSlot(slot);
      this.table.release(slot);
    }
    return slots.length;
  }

  /**
   * Publish the partition's pending events, then make what it applied durable: a snapshot
   * when one is due (or `force`), else a journal entry. Events go first so that a checkpoint
   * never covers a message whose events were not published.
   */
  private async makeDurable(op: OwnedPartition, force: boolean): Promise<void> {
    if (op.pendingEvents.length > 0) {
      await this.publish(op.pendingEvents);
      op.pendingEvents = [];
    }
    if (this.checkpoints === null) return;
    const cfg = this.deps.config.detector;
    if (!force) op.batchesSinceSnapshot++;
    const due =
      force ||
      this.clock() - op.lastSnapshotAt >= cfg.checkpointInterval ||
      (cfg.checkpointBatches > 0 && op.batchesSinceSnapshot >= cfg.checkpointBatches);
    // Nothing applied since the current snapshot: nothing to write.
    const dirty = op.applied >= 0 && (op.manifest === null || op.manifest.offset !== op.applied);
    if (due) {
      if (dirty) await this.snapshot(op);
      else op.lastSnapshotAt = this.clock();
    } else if (op.journal.length > 0) {
      await this.appendJournal(op);
    }
  }

  private async snapshot(op: OwnedPartition): Promise<void> {
    const { engine, table, deps } = this;
    const t0 = process.hrtime.bigint();
    const slots = table.slotsOf(op.partition);
    const n = slots.length;
    const snap: PartitionSnapshot = {
      offset: op.applied,
      maxMessageTs: op.maxTs,
      engine: engine.exportSlots(slots),
      keys: new Array<string>(n),
      hosts: new Array<string>(n),
      labels: new Array(n),
      kinds: new Uint8Array(n),
      lastTs: new Float64Array(n),
      lastRaw: new Float64Array(n),
      samples: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      const slot = slots[i];
      snap.keys[i] = table.keys[slot]!;
      snap.hosts[i] = table.hosts[slot];
      snap.labels[i] = table.labels[slot]!;
      snap.kinds[i] = table.kinds[slot];
      snap.lastTs[i] = table.lastTs[slot];
      snap.lastRaw[i] = table.lastRaw[slot];
      snap.samples[i] = table.samples[slot];
    }
    const bytes = encodeSnapshot(snap);
    op.manifest = await this.checkpoints!.writeSnapshot(op.base, bytes, op.applied, n, op.manifest, op.journalKeys);
    op.journal = [];
    op.journalKeys = [];
    op.lastSnapshotAt = this.clock();
    op.batchesSinceSnapshot = 0;
    deps.telemetry.detectorCheckpoints.inc({ kind: 'snapshot' });
    deps.telemetry.detectorCheckpointBytes.inc({ kind: 'snapshot' }, bytes.length);
    deps.telemetry.detectorCheckpointSeconds.observe({ kind: 'snapshot' }, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  private async appendJournal(op: OwnedPartition): Promise<void> {
    const t0 = process.hrtime.bigint();
    const msgs = op.journal;
    const bytes = encodeJournal(msgs);
    op.journalKeys.push(await this.checkpoints!.writeJournal(op.base, msgs[0].offset, msgs[msgs.length - 1].offset, bytes));
    op.journal = [];
    const { telemetry } = this.deps;
    telemetry.detectorCheckpoints.inc({ kind: 'journal' });
    telemetry.detectorCheckpointBytes.inc({ kind: 'journal' }, bytes.length);
    telemetry.detectorCheckpointSeconds.observe({ kind: 'journal' }, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  /** Runs one series' samples through the engine; returns the number scored. */
  processSeries(s: SeriesSamples, events: AnomalyEvent[], partition = -1): number {
    return this.processColumns(s.key, s.labels, s.host, s.kind, s.stale, s.timestamps, 0, s.values, 0, s.values.length, events, partition);
  }

  /** processSeries on columns: the samples are `ts[tsAt, tsAt + n)` and `vs[vsAt, vsAt + n)`. */
  private processColumns(
    key: string, labels: Labels, host: string, kind: MetricKind, stale: boolean,
    ts: Float64Array, tsAt: number, vs: Float64Array, vsAt: number, n: number, events: AnomalyEvent[], partition: number, slotHint = -1,
    info?: MetricInfo,
  ): number {
    const { engine, table } = this;
    let slot = slotHint >= 0 ? slotHint : table.get(key);
    if (slot === undefined) {
      const name = labels.__name__ ?? '';
      const meta = info ?? this.catalogue.lookup(name, labels);
      if (meta.role === 'ignored') {
        this.ignoredSamples += n;
        this.seriesLastTs = -Infinity;
        this.lastSlot = -1;
        return 0;
      }
      if (this.overSeriesLimit(key, host, n)) {
        this.seriesLastTs = -Infinity;
        this.lastSlot = -1;
        return 0;
      }
      slot = engine.allocSlot(this.resolver.resolve(name, labels, meta));
      table.bind(slot, key, labels, host, kind, partition, meta);
    } else if (table.partitions[slot] !== partition) {
      // The series now arrives on another partition (partitions were added): it moves with it.
      table.partitions[slot] = partition;
    }
    const counter = kind === KIND_COUNTER;
    let last = table.lastTs[slot];
    let raw = table.lastRaw[slot];
    let scored = 0;
    for (let i = 0; i < n; i++) {
      const t = ts[tsAt + i];
      let x = vs[vsAt + i];
      if (t <= last) {
        if (t === last) this.dropped.duplicate++;
        else this.dropped.out_of_order++;
        continue;
      }
      if (counter) {
        // A raw counter is never scored: the first sample only primes the rate, and a
        // value below the previous one is a reset (the counter restarted from zero).
        const prev = raw;
        raw = x;
        const dtMs = t - last;
        last = t;
        if (prev !== prev) continue;
        x = ((x >= prev ? x - prev : x) * 1000) / dtMs;
      } else {
        last = t;
      }
      const code = engine.update(slot, t, x);
      scored++;
      if (code !== 0) events.push(this.makeEvent(slot, code, t));
      if (engine.outBreachEvent !== 0) {
        if (engine.outBreachEvent === EVENT_FORECAST_BREACH) events.push(this.makeBreachEvent(slot, t));
        else if (engine.outBreachEvent === EVENT_BREACH_CLEARED) events.push(this.makeBreachClearedEvent(slot, t));
      }
      if (engine.outSaturationEvent !== 0) events.push(this.makeSaturationEvent(slot, engine.outSaturationEvent, t));
      if (t - table.lastSinkTs[slot] >= this.sinkIntervalMs) this.sinkPoint(slot, t);
    }
    this.lastSlot = slot;
    table.lastTs[slot] = last;
    table.lastRaw[slot] = raw;
    table.samples[slot] += scored;
    if (last > this.maxEventTs) this.maxEventTs = last;
    this.seriesLastTs = last;
    if (stale && last > -Infinity) this.endSeries(slot, last, events);
    return scored;
  }

  /**
   * The series ended (stale marker) or is evicted: whatever it has open ends now — its anomaly
   * (resolved, `stale` fired), its saturation and its forecast breach — so no alert waits for
   * a series that will not speak again.
   */
  private endSeries(slot: number, ts: number, events: AnomalyEvent[]): void {
    const { engine } = this;
    const code = engine.markStale(slot, ts);
    if (code !== 0) events.push(this.makeEvent(slot, code, ts));
    const ended = engine.endConditions(slot);
    if ((ended & 1) !== 0) events.push(this.makeSaturationEvent(slot, EVENT_SATURATION_CLEARED, ts));
    if ((ended & 2) !== 0) events.push(this.makeBreachClearedEvent(slot, ts));
  }

  /** Queues the series' value, band and score at `ts` for the metric sink (at most one per sinkInterval). */
  private sinkPoint(slot: number, ts: number): void {
    const { engine, table } = this;
    table.lastSinkTs[slot] = ts;
    let tags = table.sinkTags[slot];
    if (tags === undefined) {
      const labels = table.labels[slot]!;
      tags = {};
      for (const t of SINK_TAGS) {
        const v = t === 'series' ? table.keys[slot]! : t === 'host' ? table.hosts[slot] : t === 'metric' ? labels.__name__ : labels[t];
        if (v) tags[t] = v;
      }
      table.sinkTags[slot] = tags;
    }
    this.sinkPoints.push(
      { measurement: 'foreshock_band', tags, ts, fields: { value: engine.outValue, expected: engine.outExpected, lower: engine.outLower, upper: engine.outUpper } },
      { measurement: 'foreshock_score', tags, ts, fields: { score: engine.outScore, z: engine.outZ, trend_per_s: engine.outTrendPerS } },
    );
  }

  /** A forecast-breach event: the confident edge of the forecast reaches the series' threshold within the horizon. */
  private makeBreachEvent(slot: number, ts: number): AnomalyEvent {
    const { engine, table } = this;
    const key = table.keys[slot]!;
    const explanation = explain(engine);
    engine.timeToBreach(slot, this.breachOut);
    const [breachAt, breachEarliest, breachLatest] = this.breachOut;
    const threshold = this.resolver.profiles[engine.profileIndex(slot)].breachThreshold ?? NaN;
    explanation.forecast = { threshold, breachAt, breachEarliest, breachLatest };
    const info = table.infos[slot];
    const labels = table.labels[slot]!;
    const what = info?.forecast ? fillTemplate(info.forecast, labels, table.hosts[slot]) : `${labels.__name__ ?? key} reaches ${formatValue(threshold)}`;
    explanation.summary = Number.isFinite(breachAt)
      ? `${what} ${inAbout(breachAt - ts, breachEarliest - ts, breachLatest - ts)}`
      : `${what} within ${formatAhead(this.resolver.profiles[engine.profileIndex(slot)].breachHorizonMs)}`;
    table.breachStart[slot] = ts;
    return this.withRole(slot, {
      // One id per series and breach onset, so a replay never raises it twice.
      id: `${hash64(key)}-${ts}-forecast_breach`,
      kind: 'forecast_breach',
      seriesKey: key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      ts,
      startedAt: ts,
      severity: 'warning',
      explanation,
    });
  }

  /** The forecast no longer reaches the threshold: the warning's episode ends. */
  private makeBreachClearedEvent(slot: number, ts: number): AnomalyEvent {
    const { engine, table } = this;
    const key = table.keys[slot]!;
    const explanation = explain(engine);
    const threshold = this.resolver.profiles[engine.profileIndex(slot)].breachThreshold ?? NaN;
    explanation.summary = `forecast no longer crosses ${formatValue(threshold)} within the horizon`;
    const startedAt = table.breachStart[slot] === table.breachStart[slot] ? table.breachStart[slot] : ts;
    table.breachStart[slot] = NaN;
    return this.withRole(slot, {
      id: `${hash64(key)}-${startedAt}-forecast_cleared`,
      kind: 'forecast_cleared',
      seriesKey: key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      ts,
      startedAt,
      severity: 'warning',
      explanation,
    });
  }

  /** The value stayed at or beyond the catalogue threshold for its `for` (opened), or came back (resolved). */
  private makeSaturationEvent(slot: number, code: number, ts: number): AnomalyEvent {
    const { engine, table } = this;
    const key = table.keys[slot]!;
    const info = table.infos[slot];
    const p = this.resolver.profiles[engine.profileIndex(slot)];
    const threshold = p.saturationThreshold ?? NaN;
    const since = engine.saturationSince(slot);
    const startedAt = since === since ? since : ts;
    const opened = code === EVENT_SATURATED;
    const explanation = explain(engine);
    const what = info?.summary ? fillTemplate(info.summary, table.labels[slot]!, table.hosts[slot]) : `${table.labels[slot]?.__name__ ?? key} saturated`;
    const dir = p.breachDirection === 'below' ? 'below' : 'above';
    explanation.saturation = { threshold, direction: dir, since: startedAt };
    explanation.summary = opened
      ? `${what}: ${formatValue(engine.outValue)} ${dir === 'above' ? '≥' : '≤'} ${formatValue(threshold)} since ${new Date(startedAt).toISOString()}`
      : `${what}: back to ${formatValue(engine.outValue)} (threshold ${formatValue(threshold)})`;
    const kind = opened ? 'saturation_opened' : 'saturation_resolved';
    return this.withRole(slot, {
      id: `${hash64(key)}-${startedAt}-${kind}`,
      kind,
      seriesKey: key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      ts,
      startedAt,
      severity: info?.severity ?? 'critical',
      explanation,
    });
  }

  /** Sets the event's catalogue role and whether it may page. */
  private withRole(slot: number, e: AnomalyEvent): AnomalyEvent {
    const info = this.table.infos[slot] ?? this.catalogue.lookup(e.labels.__name__ ?? '', e.labels);
    e.role = info.role === 'signal' ? 'signal' : 'context';
    const family = e.kind.startsWith('anomaly') ? 'anomaly' : e.kind.startsWith('forecast') ? 'forecast' : 'saturation';
    e.pages = eventPages(info, family, e.explanation.value, e.explanation.expected);
    return e;
  }

  private makeEvent(slot: number, code: number, ts: number): AnomalyEvent {
    const { engine, table } = this;
    const kind: EventKind = code === EVENT_OPENED ? 'anomaly_opened' : code === EVENT_UPDATED ? 'anomaly_updated' : 'anomaly_resolved';
    const key = table.keys[slot]!;
    const startedAt = engine.outEpisodeStart;
    const explanation = explain(engine);
    // Stable across replays: the same series, episode and kind (and time, for updates)
    // always give the same id.
    const id = `${hash64(key)}-${startedAt}-${kind}${code === EVENT_UPDATED ? `-${ts}` : ''}`;
    return this.withRole(slot, {
      id,
      kind,
      seriesKey: key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      ts,
      startedAt,
      severity: explanation.score >= 0.99 ? 'critical' : 'warning',
      explanation,
    });
  }

  private async publish(events: AnomalyEvent[]): Promise<void> {
    const { bus, store, config, telemetry } = this.deps;
    const messages: OutgoingMessage[] = [];
    for (const e of events) {
      telemetry.events.inc({ kind: e.kind });
      messages.push({ key: e.seriesKey, value: textEncoder.encode(JSON.stringify(e)) });
    }
    await bus.send(config.bus.topicEvents, messages);
    const kept = config.api.anomaliesKept;
    for (const e of events) await store.append(EVENTS_LOG, JSON.stringify(e), kept);
    // The log is kept for a time (api.eventsKept), trimmed once a minute of wall time.
    const now = this.clock();
    if (now - this.lastTrimAt >= 60_000) {
      this.lastTrimAt = now;
      await store.trimLog(EVENTS_LOG, now - config.api.eventsKept);
    }
  }

  private flushDropCounts(): void {
    const { telemetry } = this.deps;
    if (this.dropped.duplicate > 0) telemetry.samplesDropped.inc({ reason: 'duplicate' }, this.dropped.duplicate);
    if (this.dropped.out_of_order > 0) telemetry.samplesDropped.inc({ reason: 'out_of_order' }, this.dropped.out_of_order);
    if (this.dropped.series_limit_host > 0) telemetry.samplesDropped.inc({ reason: 'series_limit_host' }, this.dropped.series_limit_host);
    if (this.dropped.series_limit_total > 0) telemetry.samplesDropped.inc({ reason: 'series_limit_total' }, this.dropped.series_limit_total);
    if (this.dropped.series_limit_memory > 0) telemetry.samplesDropped.inc({ reason: 'series_limit_memory' }, this.dropped.series_limit_memory);
    if (this.ignoredSamples > 0) telemetry.samplesIgnored.inc(this.ignoredSamples);
    this.ignoredSamples = 0;
    if (this.derived.incomplete > 0) telemetry.derivedIncomplete.inc(this.derived.incomplete);
    this.derived.incomplete = 0;
    this.dropped = { duplicate: 0, out_of_order: 0, series_limit_host: 0, series_limit_total: 0, series_limit_memory: 0 };
  }

  /**
   * Cardinality limits, checked once per new series (never per sample): a series over
   * limits.seriesTotal or its host over limits.seriesPerHost is refused, its samples counted
   * as dropped, and a warning naming the host is logged at most every LIMIT_WARN_EVERY_MS. So is
   * a new series while the process is above a memory mark (what the receivers had accepted
   * before they started to shed would otherwise grow memory past it).
   */
  private overSeriesLimit(key: string, host: string, samples: number): boolean {
    const { seriesPerHost, seriesTotal } = this.deps.config.limits;
    let reason: 'series_limit_total' | 'series_limit_host' | 'series_limit_memory';
    let memory: string | null = null;
    if (seriesTotal > 0 && this.table.size >= seriesTotal) reason = 'series_limit_total';
    else if (seriesPerHost > 0 && this.table.hostCount(host) >= seriesPerHost) reason = 'series_limit_host';
    else if ((memory = this.deps.memoryGuard?.memoryPressure() ?? null) !== null) reason = 'series_limit_memory';
    else return false;
    this.dropped[reason] += samples;
    this.limitRefusedSince++;
    const now = this.clock();
    if (now - this.limitWarnAt >= LIMIT_WARN_EVERY_MS) {
      this.limitWarnAt = now;
      const limit = reason === 'series_limit_total' ? `limits.seriesTotal (${seriesTotal}) reached`
        : reason === 'series_limit_host' ? `limits.seriesPerHost (${seriesPerHost}) reached` : memory!;
      this.deps.logger.warn(
        { host, series: key, reason, hostSeries: this.table.hostCount(host), totalSeries: this.table.size, refusedSinceLastWarning: this.limitRefusedSince },
        `new series of host ${host} refused: ${limit}`,
      );
      this.limitRefusedSince = 0;
    }
    return true;
  }

  /**
   * Every minute of event time, free the series idle for detector.idleEvict. Idle is measured
   * against the series' own partition: partitions progress at their own pace (one restored
   * after a failover replays its backlog while the others are current), so a global clock
   * would evict the series of a lagging partition that are not idle at all.
   */
  private maybeEvict(): void {
    if (this.maxEventTs - this.lastEvictAt < EVICT_EVERY_MS) return;
    this.lastEvictAt = this.maxEventTs;
    const idle = this.deps.config.detector.idleEvict;
    const cutoffOf = new Map<number, number>();
    for (const op of this.owned.values()) cutoffOf.set(op.partition, op.maxEventTs - idle);
    const global = this.maxEventTs - idle;
    const { engine, table } = this;
    const evict: number[] = [];
    for (const slot of table.slots()) {
      const cutoff = cutoffOf.get(table.partitions[slot]) ?? global;
      if (table.lastTs[slot] < cutoff) evict.push(slot);
    }
    for (const slot of evict) {
      // Its episodes end with it; the events go out with the batch of its partition.
      const op = this.owned.get(table.partitions[slot]);
      if (op !== undefined) this.endSeries(slot, table.lastTs[slot], op.pendingEvents);
      engine.freeSlot(slot);
      table.release(slot);
    }
    if (evict.length > 0) this.deps.telemetry.seriesEvicted.inc(evict.length);
  }


  // ---- SeriesView (cold path: API queries) ----

  getSeries(key: string): SeriesSummary | null {
    const slot = this.table.get(key);
    return slot === undefined ? null : this.summary(slot);
  }

  listSeries(filter: SeriesFilter): { total: number; items: SeriesSummary[] } {
    const items: SeriesSummary[] = [];
    let total = 0;
    const labelFilter = Object.entries(filter.labels ?? {});
    for (const slot of this.table.slots()) {
      const key = this.table.keys[slot]!;
      if (filter.match !== undefined && !key.includes(filter.match)) continue;
      if (filter.host !== undefined && this.table.hosts[slot] !== filter.host) continue;
      const labels = this.table.labels[slot]!;
      if (labelFilter.some(([k, v]) => labels[k] !== v)) continue;
      if (filter.state !== undefined && this.stateOf(slot) !== filter.state) continue;
      if (total >= filter.offset && items.length < filter.limit) items.push(this.summary(slot));
      total++;
    }
    return { total, items };
  }

  forecast(key: string, horizonMs: number, steps: number): ForecastPoint[] | null {
    const slot = this.table.get(key);
    if (slot === undefined) return null;
    const from = this.table.lastTs[slot];
    const points: ForecastPoint[] = [];
    for (let i = 1; i <= steps; i++) {
      const h = (horizonMs * i) / steps;
      this.engine.forecast(slot, h, this.out);
      points.push({ ts: from + h, mean: this.out[0], lower: this.out[1], upper: this.out[2] });
    }
    return points;
  }

  private stateOf(slot: number): SeriesState {
    return this.engine.stateName(slot);
  }

  private summary(slot: number): SeriesSummary {
    const snap = this.engine.inspect(slot);
    return {
      key: this.table.keys[slot]!,
      labels: this.table.labels[slot]!,
      host: this.table.hosts[slot],
      kind: this.table.isCounter(slot) ? 'counter' : 'gauge',
      state: this.stateOf(slot),
      samples: this.table.samples[slot],
      lastTs: this.table.lastTs[slot],
      value: snap.value,
      expected: snap.expected,
      lower: snap.lower,
      upper: snap.upper,
      score: snap.score,
      z: snap.z,
      trendPerS: snap.trendPerS,
    };
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
    await this.publisher.close();
    this.started = false;
  }
}

/** 64-bit hash of a string (two 32-bit FNV-1a lanes with different seeds), 16 hex digits. */
function hash64(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

