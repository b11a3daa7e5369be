// Detector stage → StateStore: every interval, the series this worker holds (summary, forecast
// model, predicted threshold crossings) and its risk board (the K series predicted to breach
// soonest). The query API answers from these records, embedded or distributed alike.

import { hostname } from 'node:os';
import type { ForeshockConfig } from '../../shared/config/index.js';
import {
  VIEW_RISKS_KEY, VIEW_RISKS_UPDATED_KEY, viewHostBucketKey, viewSeriesBucketKey, type Labels, type Crossing, type ForecastModel, type PublishedSeries,
  type RiskBoard, type RiskEntry, type ThresholdRule,
} from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';
import type { Logger, Telemetry } from '../../shared/telemetry/index.js';
import { profileResolverFromConfig, type DetectorConfigSection, type DetectorEngine, type HoltSnapshot } from './engine/index.js';
import type { SeriesTable } from './series-table.js';

export interface ViewPublisherOptions {
  /** Interval between publishes, ms (wall time). Default 2000. */
  intervalMs?: number;
  /** Entries kept on this worker's risk board. Default 1000. */
  topK?: number;
  /** Thresholds that apply to a series (asked once per series). Default none. */
  thresholdsOf?: ThresholdsOf;
  /** This worker's name on the risk board. Default `<hostname>-<pid>`. */
  workerId?: string;
  /** Longest stretch a round runs before yielding to the event loop (so the detector and the API keep answering), ms. Default 5. */
  sliceMs?: number;
  clock?: () => number;
}

export interface ViewPublisherDeps {
  engine: DetectorEngine;
  table: SeriesTable;
  store: StateStore;
  telemetry: Telemetry;
  logger: Logger;
}

/** What the publisher remembers per series between rounds. */
interface Published {
  /** samples count at the last write; -1 forces a write */
  samples: number;
  host: string;
  round: number;
  rules: readonly ThresholdRule[];
  risk: RiskEntry | null;
  /** StateStore hash of the series' record, and the start of its JSON (`{"key":…,"labels":…,`), made once. */
  bucket: string;
  jsonHead: string;
}

/** The thresholds of a series, from its metric name and labels. */
export type ThresholdsOf = (name: string, labels: Labels) => readonly ThresholdRule[];

/**
 * Thresholds as the detector config sets them: the breach threshold of the profile a series
 * resolves to (`detector.rules`, first match wins, e.g. `name=~node_cpu.*:threshold=0.9`).
 */
export function thresholdsFromConfig(c: DetectorConfigSection): ThresholdsOf {
  const resolver = profileResolverFromConfig(c);
  const byProfile: (readonly ThresholdRule[])[] = resolver.profiles.map((p) =>
    p.breachThreshold === null ? [] : [{ name: 'threshold', value: p.breachThreshold, direction: p.breachDirection }]);
  return (name, labels) => byProfile[resolver.resolve(name, labels)];
}

/** Forecast [mean, lower, upper] from a published model (the engine's Holt forecast, for the API). */
export { forecastHolt as forecastFromModel } from './engine/index.js';

export class ViewPublisher {
  readonly workerId: string;
  private readonly intervalMs: number;
  private readonly topK: number;
  private readonly thresholdsOf: ThresholdsOf;
  private readonly sliceMs: number;
  private readonly clock: () => number;
  private readonly seen = new Map<string, Published>();
  private readonly out = new Float64Array(3);
  private round = 0;
  /** Version of the last board written; a round with no change keeps it and only refreshes its time. */
  private boardVersion = 0;
  private boardSeries = -1;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly deps: ViewPublisherDeps, options: ViewPublisherOptions = {}) {
    this.intervalMs = options.intervalMs ?? 2000;
    this.topK = options.topK ?? 1000;
    this.thresholdsOf = options.thresholdsOf ?? (() => []);
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}`;
    this.sliceMs = options.sliceMs ?? 5;
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => void this.publishNow(), this.intervalMs);
    this.timer.unref();
  }

  /** One publish round (a round already running is awaited instead of starting another). */
  publishNow(): Promise<void> {
    if (this.running !== null) return this.running;
    const run = this.publish()
      .catch((err: unknown) => {
        this.deps.telemetry.errors.inc({ code: 'FS_VIEW_PUBLISH' });
        this.deps.logger.warn({ err: (err as Error).message }, 'publishing the detector view failed');
      })
      .finally(() => {
        this.running = null;
      });
    this.running = run;
    return run;
  }

  /**
   * Series leaving this worker with their partition: forgotten without deleting their records.
   * The partition's next owner rewrites them, and a delete from here could land after its write
   * (the API would lose the series until it next changes). Waits out a round in flight first, so
   * that round cannot count them gone either; the caller drops them from the table right after.
   */
  async release(keys: readonly string[]): Promise<void> {
    while (this.running !== null) await this.running;
    for (const k of keys) this.seen.delete(k);
  }

  /** Stops publishing after a last round, and takes this worker's board off the risk list. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.publishNow();
    this.closed = true;
    await this.deps.store.hdel(VIEW_RISKS_UPDATED_KEY, [this.workerId]).catch(() => undefined);
    await this.deps.store.hdel(VIEW_RISKS_KEY, [this.workerId]).catch(() => undefined);
  }

  private async publish(): Promise<void> {
    const { table, store, telemetry } = this.deps;
    const t0 = process.hrtime.bigint();
    const round = ++this.round;
    const now = this.clock();
    const writes = new Map<string, Record<string, string>>();
    const hostWrites = new Map<string, Record<string, string>>();
    let visited = 0;
    let sliceStart = performance.now();
    let written = 0;
    const risks: RiskEntry[] = [];
    for (const slot of table.slots()) {
      const key = table.keys[slot];
      if (key === undefined) continue;
      let p = this.seen.get(key);
      if (p === undefined) {
        const labels = table.labels[slot]!;
        p = {
          samples: -1, host: table.hosts[slot], round, rules: this.thresholdsOf(labels.__name__ ?? '', labels), risk: null,
          bucket: viewSeriesBucketKey(key), jsonHead: `{"key":${JSON.stringify(key)},"labels":${JSON.stringify(labels)},`,
        };
        this.seen.set(key, p);
        addField(hostWrites, viewHostBucketKey(p.host), key, p.host);
      }
      p.round = round;
      const samples = table.samples[slot];
      if (samples !== p.samples) {
        p.samples = samples;
        const rec = this.record(slot, key, p.rules, now);
        p.risk = rec.crossings.length > 0 ? riskOf(rec, rec.crossings[0]) : null;
        addField(writes, p.bucket, key, seriesJson(p.jsonHead, rec));
        written++;
      }
      if (p.risk !== null) risks.push(p.risk);
      if ((++visited & 31) === 0 && performance.now() - sliceStart > this.sliceMs) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
    // Series gone from this worker (evicted): drop their records. Series whose partition moved
    // were released (release) and are not in `seen` any more: their next owner has them.
    const gone = new Map<string, Record<string, string>>();
    // Every series visited is in `seen`; anything more there is gone.
    if (this.seen.size !== visited) for (const [key, p] of this.seen) {
      if (p.round === round) continue;
      this.seen.delete(key);
      addField(gone, p.bucket, key, '');
      addField(gone, viewHostBucketKey(p.host), key, '');
    }
    for (const [bucket, fields] of writes) await store.hset(bucket, fields);
    for (const [bucket, fields] of hostWrites) await store.hset(bucket, fields);
    for (const [bucket, fields] of gone) await store.hdel(bucket, Object.keys(fields));
    if (written > 0 || gone.size > 0 || visited !== this.boardSeries || this.boardVersion === 0) {
      // A time, so a restarted worker with the same id never reuses a version a reader has cached.
      this.boardVersion = Math.max(now, this.boardVersion + 1);
      this.boardSeries = visited;
      await store.hset(VIEW_RISKS_KEY, { [this.workerId]: JSON.stringify(this.board(now, visited, risks)) });
    }
    await store.hset(VIEW_RISKS_UPDATED_KEY, { [this.workerId]: `${this.boardVersion} ${now}` });
    telemetry.viewPublishSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    telemetry.viewSeriesWritten.inc(written);
  }

  private board(now: number, series: number, risks: RiskEntry[]): RiskBoard {
    return { worker: this.workerId, version: this.boardVersion, updatedAt: now, series, breaching: risks.length, items: soonest(risks, this.topK) };
  }

  private record(slot: number, key: string, rules: readonly ThresholdRule[], now: number): PublishedSeries {
    const { engine, table } = this.deps;
    const snap = engine.inspect(slot);
    const model = holtModel(engine, slot);
    const crossings: Crossing[] = [];
    if (model !== null) {
      for (const r of rules) {
        const c = this.crossing(slot, model, r, table.lastTs[slot]);
        if (c !== null) crossings.push(c);
      }
      crossings.sort((a, b) => a.at - b.at);
    }
    return {
      key,
      labels: table.labels[slot]!,
      host: table.hosts[slot],
      kind: table.isCounter(slot) ? 'counter' : 'gauge',
      state: snap.state,
      samples: table.samples[slot],
      lastTs: table.lastTs[slot],
      value: snap.value,
      expected: snap.expected,
      lower: snap.lower,
      upper: snap.upper,
      score: snap.score,
      z: snap.z,
      trendPerS: snap.trendPerS,
      publishedAt: now,
      model,
      crossings,
    };
  }

  private crossing(slot: number, model: ForecastModel, r: ThresholdRule, lastTs: number): Crossing | null {
    const above = r.direction === 'above';
    // Already on the wrong side: breaching now.
    if (above ? model.level >= r.value : model.level <= r.value) {
      return { name: r.name, threshold: r.value, direction: r.direction, at: lastTs, earliest: lastTs, latest: lastTs };
    }
    const out = this.out;
    this.deps.engine.timeToThreshold(slot, r.value, out);
    if (!Number.isFinite(out[0])) return null;
    return { name: r.name, threshold: r.value, direction: r.direction, at: out[0], earliest: out[1], latest: Number.isFinite(out[2]) ? out[2] : null };
  }
}

/** Soonest crossing first (ties by key). */
function sooner(a: RiskEntry, b: RiskEntry): boolean {
  return a.crossing.at < b.crossing.at || (a.crossing.at === b.crossing.at && a.key < b.key);
}

/** The `k` soonest of `risks`, sorted: a bounded max-heap, O(n log k), so 100 k breaching series do not mean a full sort per round. */
export function soonest(risks: readonly RiskEntry[], k: number): RiskEntry[] {
  const heap: RiskEntry[] = [];
  for (const r of risks) {
    if (heap.length < k) {
      heap.push(r);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!sooner(heap[parent], heap[i])) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
    } else if (k > 0 && sooner(r, heap[0])) {
      heap[0] = r;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const rr = l + 1;
        let latest = i;
        if (l < heap.length && sooner(heap[latest], heap[l])) latest = l;
        if (rr < heap.length && sooner(heap[latest], heap[rr])) latest = rr;
        if (latest === i) break;
        [heap[latest], heap[i]] = [heap[i], heap[latest]];
        i = latest;
      }
    }
  }
  return heap.sort((a, b) => (sooner(a, b) ? -1 : sooner(b, a) ? 1 : 0));
}

function riskOf(rec: PublishedSeries, crossing: Crossing): RiskEntry {
  return {
    key: rec.key,
    labels: rec.labels,
    host: rec.host,
    metric: rec.labels.__name__ ?? '',
    state: rec.state,
    value: rec.value,
    score: rec.score,
    trendPerS: rec.trendPerS,
    crossing,
  };
}

/**
 * The Holt state the engine forecasts from. Read through the engine's own snapshot (the one its
 * forecast() and timeToThreshold() use) so the published model cannot drift from them; the
 * view-publisher test checks the two agree to the digit.
 */
function holtModel(engine: DetectorEngine, slot: number): ForecastModel | null {
  const s = (engine as unknown as { holtSnapshot(slot: number): HoltSnapshot | null }).holtSnapshot(slot);
  if (s === null) return null;
  return { level: s.level, trendPerS: s.trendPerS, residualSd: s.residualSd, stepMs: s.stepMs, alpha: s.alpha, beta: s.beta, phi: s.phi, z: s.z };
}

/** A JSON number as JSON.stringify writes it (non-finite numbers as null). */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/**
 * JSON.stringify(rec), with the key and labels part made once per series (`head`): the
 * records of every changed series are written every round, and their strings and labels
 * never change.
 */
export function seriesJson(head: string, rec: PublishedSeries): string {
  return head
    + `"host":${JSON.stringify(rec.host)},"kind":"${rec.kind}","state":"${rec.state}","samples":${num(rec.samples)},"lastTs":${num(rec.lastTs)}`
    + `,"value":${num(rec.value)},"expected":${num(rec.expected)},"lower":${num(rec.lower)},"upper":${num(rec.upper)},"score":${num(rec.score)}`
    + `,"z":${num(rec.z)},"trendPerS":${num(rec.trendPerS)},"publishedAt":${num(rec.publishedAt)}`
    + `,"model":${rec.model === null ? 'null' : JSON.stringify(rec.model)},"crossings":${rec.crossings.length === 0 ? '[]' : JSON.stringify(rec.crossings)}}`;
}

function addField(to: Map<string, Record<string, string>>, hash: string, field: string, value: string): void {
  let fields = to.get(hash);
  if (fields === undefined) to.set(hash, (fields = {}));
  fields[field] = value;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The publisher a detector service runs, configured from `api.*` and the detector profiles. */
export function viewPublisherFor(
  engine: DetectorEngine,
  table: SeriesTable,
  deps: { store: StateStore; config: ForeshockConfig; telemetry: Telemetry; logger: Logger },
): ViewPublisher {
  return new ViewPublisher(
    { engine, table, store: deps.store, telemetry: deps.telemetry, logger: deps.logger },
    { intervalMs: deps.config.api.publishInterval, topK: deps.config.api.riskBoardSize, thresholdsOf: thresholdsFromConfig(deps.config.detector) },
  );
}
