// Ingest stage, step two: decoded remote-write series and line-protocol points become
// normalised series (sorted labels, canonical key, host, counter or gauge) grouped by host,
// ready to be encoded as sample batches for the "samples" topic.

import type { LineProtocolPoint, RemoteWriteMetadata, WriteRequest } from '../../shared/codecs/index.js';
import { isStaleMarker } from '../../shared/codecs/index.js';
import { KIND_COUNTER, KIND_GAUGE, seriesKey, sortedLabels, type Labels, type MetricKind, type SeriesSamples } from '../../shared/model/index.js';

export interface NormaliseOptions {
  /** Labels tried in order for a series' host. */
  hostLabels: readonly string[];
  /** Name suffixes that mark a counter. */
  counterSuffixes: readonly string[];
  /** Identity cache entries kept (raw label signature → normalised identity). */
  cacheSize?: number;
}

/** Drop reasons counted by normalisation; the caller exports them. */
export type DropReason = 'nan' | 'string_field' | 'no_name' | 'empty_series';

interface Identity {
  key: string;
  labels: Labels;
  host: string;
  kind: MetricKind;
}

interface Pending {
  id: Identity;
  ts: number[];
  vs: number[];
  stale: boolean;
}

/**
 * Turns decoded payloads into per-host series batches. Keeps a bounded cache of series
 * identities so that a series seen before costs one map lookup, and the metric types that
 * remote-write metadata announced.
 */
export class Normaliser {
  private readonly cache = new Map<string, Identity>();
  private readonly cacheSize: number;
  private readonly metadataTypes = new Map<string, RemoteWriteMetadata['type']>();
  private pending = new Map<string, Pending>();
  readonly dropped: Record<DropReason, number> = { nan: 0, string_field: 0, no_name: 0, empty_series: 0 };
  accepted = 0;

  constructor(private readonly options: NormaliseOptions) {
    this.cacheSize = options.cacheSize ?? 1_000_000;
  }

  /** Remember metric types from remote-write metadata (bounded). */
  learnMetadata(metadata: readonly RemoteWriteMetadata[]): void {
    for (const m of metadata) {
      if (this.metadataTypes.size >= 100_000 && !this.metadataTypes.has(m.family)) continue;
      this.metadataTypes.set(m.family, m.type);
    }
  }

  addWriteRequest(req: WriteRequest): void {
    this.learnMetadata(req.metadata);
    for (const s of req.series) {
      let sig = '';
      for (let i = 0; i < s.labels.length; i++) sig += s.labels[i][0] + '\u0000' + s.labels[i][1] + '\u0001';
      let id = this.cache.get(sig);
      if (id === undefined) {
        const made = this.identity(s.labels);
        if (made === null) {
          this.dropped.no_name += s.values.length;
          continue;
        }
        id = this.remember(sig, made);
      }
      const p = this.pendingFor(id);
      const { timestamps, values } = s;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (Number.isFinite(v)) {
          p.ts.push(timestamps[i]);
          p.vs.push(v);
          this.accepted++;
        } else if (isStaleMarker(v)) {
          p.stale = true;
        } else {
          this.dropped.nan++;
        }
      }
    }
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
      let id = this.cache.get(sig);
      if (id === undefined) {
        const labels: [string, string][] = [['__name__', `${p.measurement}_${p.fieldKeys[f]}`]];
        for (const [k, val] of p.tags) if (k !== '__name__') labels.push([k, val]);
        id = this.remember(sig, this.identity(labels)!);
      }
      if (!Number.isFinite(v)) {
        this.dropped.nan++;
        continue;
      }
      const pend = this.pendingFor(id);
      pend.ts.push(ts);
      pend.vs.push(v);
      this.accepted++;
    }
  }

  /** Series accumulated since the last call, grouped by host; resets the accumulator. */
  take(): Map<string, SeriesSamples[]> {
    const byHost = new Map<string, SeriesSamples[]>();
    for (const p of this.pending.values()) {
      if (p.vs.length === 0 && !p.stale) {
        this.dropped.empty_series++;
        continue;
      }
      const s: SeriesSamples = {
        key: p.id.key,
        labels: p.id.labels,
        host: p.id.host,
        kind: p.id.kind,
        timestamps: Float64Array.from(p.ts),
        values: Float64Array.from(p.vs),
        stale: p.stale,
      };
      let list = byHost.get(s.host);
      if (list === undefined) byHost.set(s.host, (list = []));
      list.push(s);
    }
    this.pending = new Map();
    return byHost;
  }

  private pendingFor(id: Identity): Pending {
    // One series may repeat within a request: its samples merge into one entry.
    let p = this.pending.get(id.key);
    if (p === undefined) this.pending.set(id.key, (p = { id, ts: [], vs: [], stale: false }));
    return p;
  }

  private remember(sig: string, id: Identity): Identity {
    if (this.cache.size >= this.cacheSize) {
      // Drop the oldest entry (Map keeps insertion order): a cheap FIFO bound.
      const first = this.cache.keys().next();
      if (!first.done) this.cache.delete(first.value);
    }
    this.cache.set(sig, id);
    return id;
  }

  private identity(pairs: readonly (readonly [string, string])[]): Identity | null {
    const labels = sortedLabels(pairs);
    const name = labels.__name__;
    if (!name) return null;
    let host = '';
    for (const h of this.options.hostLabels) {
      const v = labels[h];
      if (v) {
        host = v;
        break;
      }
    }
    return { key: seriesKey(labels), labels, host, kind: this.kindOf(name) };
  }

  private kindOf(name: string): MetricKind {
    const t = this.metadataTypes.get(name);
    if (t === 'counter') return KIND_COUNTER;
    if (t === 'gauge') return KIND_GAUGE;
    for (const suffix of this.options.counterSuffixes) if (name.endsWith(suffix)) return KIND_COUNTER;
    return KIND_GAUGE;
  }
}
