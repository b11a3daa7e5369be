// Ingest stage, step two: remote-write bodies and line-protocol points become normalised series
// (sorted labels, canonical key, host, counter or gauge) grouped by host, encoded as sample
// batches for the "samples" topic.
//
// Hot path: a remote-write series seen before is recognised by the bytes of its labels as
// sent (hash, then a byte comparison), so it costs no string, no label object and no UTF-8
// encoding; its samples go into flat typed columns, and its identity (key, host, labels) is
// copied into the sample batch as bytes encoded once, when the series was first seen.

import type { DecodeWriteRequestOptions, LineProtocolPoint, RemoteWriteMetadata, RequestLimits, SampleBatchColumns, WriteRequestTotals, WriteRequestVisitor } from '../../shared/codecs/index.js';
import { BytesMap, decodeLabels, encodeSampleBatchColumns, encodeSeriesHead, isStaleMarker, labelLimitBroken, scanWriteRequest } from '../../shared/codecs/index.js';
import type { Catalogue } from '../../shared/catalogue/index.js';
import { KIND_COUNTER, KIND_GAUGE, seriesKey, sortedLabels, type Labels, type MetricKind } from '../../shared/model/index.js';

export interface NormaliseOptions {
  /** Labels tried in order for a series' host. */
  hostLabels: readonly string[];
  /** Name suffixes that mark a counter. */
  counterSuffixes: readonly string[];
  /**
   * The metric catalogue: a metric it calls a counter is one even without type metadata or a
   * counter suffix (Telegraf's counters have neither). Metadata still wins.
   */
  catalogue?: Catalogue;
  /** Series identities kept (and entries of each lookup cache in front of them). Default 1_000_000. */
  cacheSize?: number;
  /**
   * Per-series limits: remote-write series over them are skipped without counting (the
   * receiver refused and counted them; the body it queued still holds them). Default: none.
   */
  limits?: RequestLimits;
  /** Hash of a series' label bytes. Replaceable so tests can force collisions. */
  hashLabelBytes?: (buf: Uint8Array, start: number, end: number) => number;
}

/** Drop reasons counted by normalisation; the caller exports them. */
export type DropReason = 'nan' | 'string_field' | 'no_name' | 'empty_series';

/** A normalised series: one object per canonical key. */
interface Identity {
  readonly key: string;
  readonly labels: Labels;
  readonly host: string;
  readonly kind: MetricKind;
  /** key, host and labels as a sample batch carries them (encodeSeriesHead). */
  readonly head: Uint8Array;
  /** Batch generation it last got a sample or stale marker in, and its index in that batch. */
  gen: number;
  slot: number;
  /** Evicted from the identity map: lookup caches still pointing here must resolve again. */
  dead: boolean;
}

/** What a remote-write label set resolves to. */
const RESOLVED = 0;
const REFUSED = 1;
const NO_NAME = 2;

/** What a remote-write label set (as sent) means. */
interface Resolution {
  readonly state: number;
  readonly id: Identity | null;
}

/**
 * The series of one `take()`: hosts in the order their first series arrived, each host's
 * series in arrival order, encoded on demand per group of hosts (one message per partition).
 */
export class NormalisedBatch {
  constructor(
    /** Hosts with at least one series, in arrival order. */
    readonly hosts: readonly string[],
    /** Series of host h: `order[hostStart[h], hostStart[h + 1])`. */
    private readonly hostStart: Int32Array,
    private readonly order: Int32Array,
    private readonly cols: SampleBatchColumns,
    /** Series in the batch. */
    readonly series: number,
  ) {}

  /** One sample-batch message with the series of the given hosts (indices into `hosts`), host by host. */
  encode(hostIndices: readonly number[]): Uint8Array {
    const { hostStart, order } = this;
    if (hostIndices.length === this.hosts.length) {
      let inOrder = true;
      for (let i = 0; i < hostIndices.length; i++) if (hostIndices[i] !== i) inOrder = false;
      if (inOrder) return encodeSampleBatchColumns(this.cols, order, this.series);
    }
    let n = 0;
    for (const h of hostIndices) n += hostStart[h + 1] - hostStart[h];
    const pick = new Int32Array(n);
    let k = 0;
    for (const h of hostIndices) for (let i = hostStart[h]; i < hostStart[h + 1]; i++) pick[k++] = order[i];
    return encodeSampleBatchColumns(this.cols, pick, n);
  }
}

const EMPTY_BATCH = new NormalisedBatch([], new Int32Array(1), new Int32Array(0), {
  heads: [], kinds: new Uint8Array(0), stale: new Uint8Array(0), start: new Int32Array(0), count: new Int32Array(0),
  timestamps: new Float64Array(0), values: new Float64Array(0),
}, 0);

/**
 * Turns decoded payloads into per-host sample batches. Keeps bounded caches of series
 * identities (by label bytes for remote-write, by tag signature for line protocol) and the
 * metric types that remote-write metadata announced.
 */
export class Normaliser {
  private readonly cacheSize: number;
  private readonly limits: RequestLimits | null;
  private readonly metadataTypes = new Map<string, RemoteWriteMetadata['type']>();
  /** Canonical identities by series key (FIFO-bounded; evictions happen in take()). */
  private readonly identities = new Map<string, Identity>();
  /** Remote-write label bytes → identity. */
  private readonly byteCache: BytesMap<Resolution>;
  /** Line-protocol tag signature + field → identity. */
  private readonly lineCache = new Map<string, Identity>();
  readonly dropped: Record<DropReason, number> = { nan: 0, string_field: 0, no_name: 0, empty_series: 0 };
  accepted = 0;

  // The batch being accumulated: series in arrival order, and one entry per sample (or stale
  // marker: slot stored as ~slot) in flat columns.
  private gen = 1;
  private active: Identity[] = [];
  private evSlot = new Int32Array(4096);
  private evTs = new Float64Array(4096);
  private evV = new Float64Array(4096);
  private nEv = 0;

  // Remote-write scan state: the series being visited.
  private cur: Identity | null = null;
  private curState = RESOLVED;
  private maxLabels = Infinity;
  private readonly pairs: [string, string][] = [];
  /** While a body is added: what to take back should it turn out malformed. */
  private undo: { metadata: [string, RemoteWriteMetadata['type'] | undefined][]; created: Identity[] } | null = null;
  private readonly visitor: WriteRequestVisitor = {
    metadata: (list) => this.learnMetadata(list),
    series: (buf, start, end, contiguous) => this.beginSeries(buf, start, end, contiguous),
    sample: (ts, v) => this.addRwSample(ts, v),
  };

  constructor(private readonly options: NormaliseOptions) {
    this.cacheSize = options.cacheSize ?? 1_000_000;
    this.byteCache = new BytesMap({ maxEntries: this.cacheSize, hash: options.hashLabelBytes });
    this.limits = options.limits ?? null;
  }

  /** Remember metric types from remote-write metadata (bounded). */
  learnMetadata(metadata: readonly RemoteWriteMetadata[]): void {
    for (const m of metadata) {
      if (this.metadataTypes.size >= 100_000 && !this.metadataTypes.has(m.family)) continue;
      this.undo?.metadata.push([m.family, this.metadataTypes.get(m.family)]);
      this.metadataTypes.set(m.family, m.type);
    }
  }

  /**
   * Add a snappy-decompressed remote-write body. On a malformed body nothing of it is kept
   * and the decoder's error is thrown. `decode` bounds the request as the receiver did; keep
   * it the same for the life of the normaliser (cached label sets were read under it).
   */
  addRemoteWrite(body: Uint8Array, decode?: DecodeWriteRequestOptions): WriteRequestTotals {
    this.maxLabels = decode?.maxLabelsPerSeries ?? Infinity;
    const markEv = this.nEv;
    const markActive = this.active.length;
    const markAccepted = this.accepted;
    const markNan = this.dropped.nan;
    const markNoName = this.dropped.no_name;
    const undo: NonNullable<Normaliser['undo']> = { metadata: [], created: [] };
    this.undo = undo;
    try {
      return scanWriteRequest(body, decode, this.visitor);
    } catch (err) {
      // Undo the series visited before the faulty field, the metadata learnt from the body
      // and the identities made for it (their kind may have come from that metadata).
      for (let i = undo.metadata.length - 1; i >= 0; i--) {
        const [family, type] = undo.metadata[i];
        if (type === undefined) this.metadataTypes.delete(family);
        else this.metadataTypes.set(family, type);
      }
      for (const id of undo.created) {
        id.dead = true;
        this.identities.delete(id.key);
      }
      for (let i = markActive; i < this.active.length; i++) this.active[i].gen = 0;
      this.active.length = markActive;
      this.nEv = markEv;
      this.accepted = markAccepted;
      this.dropped.nan = markNan;
      this.dropped.no_name = markNoName;
      throw err;
    } finally {
      this.cur = null;
      this.undo = null;
    }
  }

  private beginSeries(buf: Uint8Array, start: number, end: number, contiguous: boolean): void {
    if (!contiguous) {
      this.resolve(buf, start, end);
      return;
    }
    const known = this.byteCache.get(buf, start, end);
    if (known !== undefined && (known.id === null || !known.id.dead)) {
      this.cur = known.id;
      this.curState = known.state;
      // In the batch even without samples (then counted as an empty series).
      if (known.id !== null) this.slotOf(known.id);
      return;
    }
    this.resolve(buf, start, end);
    this.byteCache.set(buf, start, end, { state: this.curState, id: this.cur });
  }

  /** The slow path: decode the labels and find (or make) their identity. */
  private resolve(buf: Uint8Array, start: number, end: number): void {
    const pairs = this.pairs;
    const count = decodeLabels(buf, start, end, this.maxLabels, pairs);
    this.cur = null;
    if (this.limits !== null && labelLimitBroken(pairs, count, this.limits) !== null) {
      this.curState = REFUSED;
      return;
    }
    const id = this.identity(pairs);
    this.curState = id === null ? NO_NAME : RESOLVED;
    this.cur = id;
    if (id !== null) this.slotOf(id);
  }

  private addRwSample(ts: number, v: number): void {
    const id = this.cur;
    if (id === null) {
      if (this.curState === NO_NAME) this.dropped.no_name++;
      return;
    }
    if (Number.isFinite(v)) this.push(id, ts, v);
    else if (isStaleMarker(v)) this.pushStale(id);
    else this.dropped.nan++;
  }

  /** One line-protocol point: each numeric or boolean field becomes series `measurement_field`. */
  addLinePoint(p: LineProtocolPoint, defaultTimeMs: number): void {
    const ts = p.timestampMs ?? defaultTimeMs;
    let tagSig = p.measurement + '\u0002';
    for (let i = 0; i < p.tags.length; i++) tagSig += p.tags[i][0] + '\u0000' + p.tags[i][1] + '\u0001';
    for (let f = 0; f < p.fieldKeys.length; f++) {
      const type = p.fieldTypes[f];
      let v: number;
      if (type === 'string') {
        this.dropped.string_field++;
        continue;
      } else if (type === 'boolean') {
        v = p.fieldValues[f] ? 1 : 0;
      } else {
        v = p.fieldValues[f] as number;
      }
      const sig = tagSig + p.fieldKeys[f];
      let id = this.lineCache.get(sig);
      if (id === undefined || id.dead) {
        const labels: [string, string][] = [['__name__', `${p.measurement}_${p.fieldKeys[f]}`]];
        for (const [k, val] of p.tags) if (k !== '__name__') labels.push([k, val]);
        id = this.identity(labels)!;
        if (this.lineCache.size >= this.cacheSize) {
          // Drop the oldest entry (Map keeps insertion order): a cheap FIFO bound.
          const first = this.lineCache.keys().next();
          if (!first.done) this.lineCache.delete(first.value);
        }
        this.lineCache.set(sig, id);
      }
      if (!Number.isFinite(v)) {
        this.dropped.nan++;
        continue;
      }
      this.push(id, ts, v);
    }
  }

  private slotOf(id: Identity): number {
    if (id.gen !== this.gen) {
      id.gen = this.gen;
      id.slot = this.active.length;
      this.active.push(id);
    }
    return id.slot;
  }

  private push(id: Identity, ts: number, v: number): void {
    const slot = this.slotOf(id);
    const n = this.nEv;
    if (n === this.evSlot.length) this.grow();
    this.evSlot[n] = slot;
    this.evTs[n] = ts;
    this.evV[n] = v;
    this.nEv = n + 1;
    this.accepted++;
  }

  private pushStale(id: Identity): void {
    const slot = this.slotOf(id);
    const n = this.nEv;
    if (n === this.evSlot.length) this.grow();
    this.evSlot[n] = ~slot;
    this.nEv = n + 1;
  }

  private grow(): void {
    const cap = this.evSlot.length * 2;
    const s = new Int32Array(cap);
    s.set(this.evSlot);
    const t = new Float64Array(cap);
    t.set(this.evTs);
    const v = new Float64Array(cap);
    v.set(this.evV);
    this.evSlot = s;
    this.evTs = t;
    this.evV = v;
  }

  /**
   * Series accumulated since the last call, grouped by host; resets the accumulator. The
   * result owns its data (later adds do not change it).
   */
  take(): NormalisedBatch {
    const active = this.active;
    const nA = active.length;
    const nEv = this.nEv;
    this.gen++;
    this.active = [];
    this.nEv = 0;
    if (nA === 0) {
      this.evict();
      return EMPTY_BATCH;
    }
    const count = new Int32Array(nA);
    const stale = new Uint8Array(nA);
    const evSlot = this.evSlot;
    let samples = 0;
    for (let e = 0; e < nEv; e++) {
      const s = evSlot[e];
      if (s >= 0) {
        count[s]++;
        samples++;
      } else stale[~s] = 1;
    }
    // Hosts in the order of their first series with something to send.
    const hostIndex = new Map<string, number>();
    const hosts: string[] = [];
    const hostOf = new Int32Array(nA);
    let hostCounts = new Int32Array(16);
    let kept = 0;
    for (let s = 0; s < nA; s++) {
      if (count[s] === 0 && stale[s] === 0) {
        this.dropped.empty_series++;
        hostOf[s] = -1;
        continue;
      }
      const host = active[s].host;
      let h = hostIndex.get(host);
      if (h === undefined) {
        h = hosts.length;
        hostIndex.set(host, h);
        hosts.push(host);
        if (h === hostCounts.length) {
          const grown = new Int32Array(h * 2);
          grown.set(hostCounts);
          hostCounts = grown;
        }
      }
      hostOf[s] = h;
      hostCounts[h]++;
      kept++;
    }
    const hostStart = new Int32Array(hosts.length + 1);
    for (let h = 0; h < hosts.length; h++) hostStart[h + 1] = hostStart[h] + hostCounts[h];
    const order = new Int32Array(kept);
    const fill = hostStart.slice(0, hosts.length);
    for (let s = 0; s < nA; s++) if (hostOf[s] >= 0) order[fill[hostOf[s]]++] = s;
    // Samples of each series together, in arrival order (a counting sort of the flat columns).
    const start = new Int32Array(nA);
    for (let s = 1; s < nA; s++) start[s] = start[s - 1] + count[s - 1];
    const cursor = start.slice();
    const timestamps = new Float64Array(samples);
    const values = new Float64Array(samples);
    const evTs = this.evTs;
    const evV = this.evV;
    for (let e = 0; e < nEv; e++) {
      const s = evSlot[e];
      if (s < 0) continue;
      const at = cursor[s]++;
      timestamps[at] = evTs[e];
      values[at] = evV[e];
    }
    const heads = new Array<Uint8Array>(nA);
    const kinds = new Uint8Array(nA);
    for (let s = 0; s < nA; s++) {
      heads[s] = active[s].head;
      kinds[s] = active[s].kind;
    }
    this.evict();
    return new NormalisedBatch(hosts, hostStart, order, { heads, kinds, stale, start, count, timestamps, values }, kept);
  }

  /** Bound the identity map (between batches, so no key has two live identities in one batch). */
  private evict(): void {
    const ids = this.identities;
    while (ids.size > this.cacheSize) {
      const first = ids.entries().next();
      if (first.done) break;
      first.value[1].dead = true;
      ids.delete(first.value[0]);
    }
  }

  /** The identity of a label set (null without a name): the existing one for its key, or a new one. */
  private identity(pairs: readonly (readonly [string, string])[]): Identity | null {
    const labels = sortedLabels(pairs);
    const name = labels.__name__;
    if (!name) return null;
    const key = seriesKey(labels);
    const known = this.identities.get(key);
    if (known !== undefined) return known;
    let host = '';
    for (const h of this.options.hostLabels) {
      const v = labels[h];
      if (v) {
        host = v;
        break;
      }
    }
    const id: Identity = { key, labels, host, kind: this.kindOf(name), head: encodeSeriesHead(key, host, labels), gen: 0, slot: 0, dead: false };
    this.identities.set(key, id);
    this.undo?.created.push(id);
    return id;
  }

  private kindOf(name: string): MetricKind {
    const t = this.metadataTypes.get(name);
    if (t === 'counter') return KIND_COUNTER;
    if (t === 'gauge') return KIND_GAUGE;
    if (this.options.catalogue?.lookup(name).kind === 'counter') return KIND_COUNTER;
    for (const suffix of this.options.counterSuffixes) if (name.endsWith(suffix)) return KIND_COUNTER;
    return KIND_GAUGE;
  }
}
