// Detector stage bookkeeping around the engine: series key ↔ engine slot, the per-series
// preparation state (last timestamp, last raw counter value) in typed arrays by slot, and the
// samples-topic partition each series arrives on (its state moves with that partition).

import type { MetricInfo } from '../../shared/catalogue/index.js';
import { KIND_COUNTER, type Labels, type MetricKind } from '../../shared/model/index.js';

const GROW = 65_536;

export class SeriesTable {
  private readonly slotOf = new Map<string, number>();
  /** Series held per host, kept as series are bound and released (cardinality limits). */
  private readonly perHost = new Map<string, number>();
  keys: (string | undefined)[] = [];
  labels: (Labels | undefined)[] = [];
  hosts: string[] = [];
  /** Event time of the last accepted sample, ms; -Infinity when none. */
  lastTs = new Float64Array(0);
  /** Last raw value of a counter (rates are computed from it); NaN when none. */
  lastRaw = new Float64Array(0);
  kinds = new Uint8Array(0);
  /** Samples scored (for warm-up display). */
  samples = new Float64Array(0);
  /** Event time of the last point written to the metric sink; -Infinity when none (not checkpointed). */
  lastSinkTs = new Float64Array(0);
  /** Tags of the series' metric-sink points, built on its first point. */
  sinkTags: (Record<string, string> | undefined)[] = [];
  /** Samples-topic partition the series arrives on; -1 when unknown. */
  partitions = new Int32Array(0);
  /** Event time of the forecast breach the series is in (NaN: none; not checkpointed). */
  breachStart = new Float64Array(0);
  /** What the metric catalogue says of the series (role, direction, saturation). */
  infos: (MetricInfo | undefined)[] = [];

  get size(): number {
    return this.slotOf.size;
  }

  get(key: string): number | undefined {
    return this.slotOf.get(key);
  }

  /** Series held for `host`. */
  hostCount(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  /** Bind `slot` (fresh from the engine) to a series. */
  bind(slot: number, key: string, labels: Labels, host: string, kind: MetricKind, partition = -1, info?: MetricInfo): void {
    this.ensure(slot + 1);
    if (this.keys[slot] !== undefined) this.release(slot);
    this.slotOf.set(key, slot);
    this.perHost.set(host, (this.perHost.get(host) ?? 0) + 1);
    this.keys[slot] = key;
    this.labels[slot] = labels;
    this.hosts[slot] = host;
    this.kinds[slot] = kind;
    this.lastTs[slot] = -Infinity;
    this.lastRaw[slot] = NaN;
    this.samples[slot] = 0;
    this.lastSinkTs[slot] = -Infinity;
    this.breachStart[slot] = NaN;
    this.sinkTags[slot] = undefined;
    this.partitions[slot] = partition;
    this.infos[slot] = info;
  }

  release(slot: number): void {
    const key = this.keys[slot];
    if (key !== undefined) {
      this.slotOf.delete(key);
      const host = this.hosts[slot];
      const n = (this.perHost.get(host) ?? 0) - 1;
      if (n > 0) this.perHost.set(host, n);
      else this.perHost.delete(host);
    }
    this.keys[slot] = undefined;
    this.labels[slot] = undefined;
    this.hosts[slot] = '';
    this.sinkTags[slot] = undefined;
    this.partitions[slot] = -1;
    this.infos[slot] = undefined;
  }

  /** Slots of the series that arrive on `partition`, in insertion order. */
  slotsOf(partition: number): number[] {
    const out: number[] = [];
    for (const slot of this.slotOf.values()) if (this.partitions[slot] === partition) out.push(slot);
    return out;
  }

  isCounter(slot: number): boolean {
    return this.kinds[slot] === KIND_COUNTER;
  }

  /** Slots in use, in key order of insertion. */
  slots(): IterableIterator<number> {
    return this.slotOf.values();
  }

  private ensure(n: number): void {
    if (n <= this.lastTs.length) return;
    const cap = Math.ceil(n / GROW) * GROW;
    this.lastTs = grow(this.lastTs, cap);
    this.lastRaw = grow(this.lastRaw, cap);
    this.samples = grow(this.samples, cap);
    this.lastSinkTs = grow(this.lastSinkTs, cap);
    this.breachStart = grow(this.breachStart, cap);
    const k = new Uint8Array(cap);
    k.set(this.kinds);
    this.kinds = k;
    const p = new Int32Array(cap).fill(-1);
    p.set(this.partitions);
    this.partitions = p;
  }
}

function grow(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}
