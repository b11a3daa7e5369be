// The normaliser's fast path (series recognised by their label bytes, identities encoded once)
// must produce the very bytes of the straightforward path: decode the request, sort the labels,
// build the key, group by host, encodeSampleBatch. The reference below is that path.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  STALE_NAN, decodeSampleBatch, decodeWriteRequest, encodeSampleBatch, encodeWriteRequest, isStaleMarker, labelLimitBroken,
  type DecodeWriteRequestOptions, type RequestLimits,
} from '../../shared/codecs/index.js';
import { KIND_COUNTER, KIND_GAUGE, seriesKey, sortedLabels, type Labels, type MetricKind, type SeriesSamples } from '../../shared/model/index.js';
import { Normaliser, type NormaliseOptions } from './normalise.js';

const HOST_LABELS = ['host', 'instance'];
const SUFFIXES = ['_total'];
const LIMITS: RequestLimits = { samplesPerRequest: 1e9, seriesPerRequest: 1e9, labelsPerSeries: 5, labelNameLength: 12, labelValueLength: 30 };
const DECODE: DecodeWriteRequestOptions = { maxLabelsPerSeries: LIMITS.labelsPerSeries };

/** The plain path, as ingest did it before the fast path: one batch per call. */
class Reference {
  private readonly types = new Map<string, string>();
  private pending = new Map<string, { key: string; labels: Labels; host: string; kind: MetricKind; ts: number[]; vs: number[]; stale: boolean }>();
  private readonly kinds = new Map<string, MetricKind>();
  dropped = { nan: 0, no_name: 0, empty_series: 0 };
  accepted = 0;

  add(body: Uint8Array): void {
    let req;
    try {
      req = decodeWriteRequest(body, DECODE);
    } catch {
      return;
    }
    for (const m of req.metadata) this.types.set(m.family, m.type);
    for (const s of req.series) {
      if (labelLimitBroken(s.labels, s.labelCount, LIMITS) !== null) continue;
      const labels = sortedLabels(s.labels);
      const name = labels.__name__;
      if (!name) {
        this.dropped.no_name += s.values.length;
        continue;
      }
      const key = seriesKey(labels);
      let kind = this.kinds.get(key);
      if (kind === undefined) {
        const t = this.types.get(name);
        kind = t === 'counter' ? KIND_COUNTER : t === 'gauge' ? KIND_GAUGE : SUFFIXES.some((x) => name.endsWith(x)) ? KIND_COUNTER : KIND_GAUGE;
        this.kinds.set(key, kind);
      }
      let host = '';
      for (const h of HOST_LABELS) if (!host && labels[h]) host = labels[h];
      let p = this.pending.get(key);
      if (p === undefined) this.pending.set(key, (p = { key, labels, host, kind, ts: [], vs: [], stale: false }));
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (Number.isFinite(v)) {
          p.ts.push(s.timestamps[i]);
          p.vs.push(v);
          this.accepted++;
        } else if (isStaleMarker(v)) p.stale = true;
        else this.dropped.nan++;
      }
    }
  }

  take(): Uint8Array | null {
    const byHost = new Map<string, SeriesSamples[]>();
    for (const p of this.pending.values()) {
      if (p.vs.length === 0 && !p.stale) {
        this.dropped.empty_series++;
        continue;
      }
      let list = byHost.get(p.host);
      if (list === undefined) byHost.set(p.host, (list = []));
      list.push({ key: p.key, labels: p.labels, host: p.host, kind: p.kind, timestamps: Float64Array.from(p.ts), values: Float64Array.from(p.vs), stale: p.stale });
    }
    this.pending = new Map();
    if (byHost.size === 0) return null;
    return encodeSampleBatch({ series: [...byHost.values()].flat() });
  }
}

function hex(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b).toString('hex');
}

/** Runs the same batches of bodies through both; every batch must encode to the same bytes. */
function expectSameAsReference(batches: Uint8Array[][], options: Partial<NormaliseOptions> = {}): void {
  const n = new Normaliser({ hostLabels: HOST_LABELS, counterSuffixes: SUFFIXES, limits: LIMITS, ...options });
  const ref = new Reference();
  for (const bodies of batches) {
    for (const b of bodies) {
      ref.add(b);
      try {
        n.addRemoteWrite(b, DECODE);
      } catch {
        // Refused as a whole, as the reference does.
      }
    }
    const batch = n.take();
    const got = batch.hosts.length === 0 ? null : batch.encode(batch.hosts.map((_, i) => i));
    expect(hex(got)).toBe(hex(ref.take()));
    expect(n.accepted).toBe(ref.accepted);
    expect({ nan: n.dropped.nan, no_name: n.dropped.no_name, empty_series: n.dropped.empty_series }).toEqual(ref.dropped);
  }
}

// Label sets that normalise alike or almost: order, escaping, empty values, duplicates, no name.
const name = fc.constantFrom('__name__', 'host', 'instance', 'job', 'a', 'le', 'é', 'x'.repeat(13), '0');
const value = fc.constantFrom('', 'up', 'req_total', 'h1', 'h2', 'a"b', 'back\\slash', 'new\nline', 'Ünï ✓', '{x="y"}', 'v'.repeat(31));
const labelSet = fc.array(fc.tuple(name, value), { maxLength: 6 });
const sampleValue = fc.oneof({ weight: 6, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) }, fc.constantFrom(NaN, STALE_NAN, Infinity));

function bodiesArb(pool: [string, string][][]) {
  const series = fc.record({
    set: fc.nat(pool.length - 1),
    shuffle: fc.boolean(),
    samples: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 41 }), sampleValue), { maxLength: 3 }),
  });
  return fc.array(fc.array(series, { maxLength: 8 }), { minLength: 1, maxLength: 3 }).map((requests) =>
    requests.map((req) => encodeWriteRequest({
      series: req.map((s) => ({
        labels: s.shuffle ? [...pool[s.set]].reverse() : pool[s.set],
        timestamps: s.samples.map((x) => x[0]),
        values: s.samples.map((x) => x[1]),
      })),
    })));
}

const scenario = fc.array(labelSet, { minLength: 1, maxLength: 8 }).chain((pool) => fc.array(bodiesArb(pool), { minLength: 1, maxLength: 4 }));

describe('normaliser fast path', () => {
  it('encodes the same batches as decoding, sorting and keying every series', () => {
    fc.assert(fc.property(scenario, (batches) => expectSameAsReference(batches)), { numRuns: 300 });
  });

  it('stays exact when every label set hashes alike', () => {
    fc.assert(fc.property(scenario, (batches) => expectSameAsReference(batches, { hashLabelBytes: () => 7 })), { numRuns: 200 });
  });

  it('stays exact when its caches hold fewer series than it sees', () => {
    fc.assert(fc.property(scenario, (batches) => expectSameAsReference(batches, { cacheSize: 2, hashLabelBytes: (b, s, e) => (e - s) & 3 })), { numRuns: 200 });
  });

  it('keeps nothing of a body that turns out malformed, and counts kinds from metadata sent with the series', () => {
    const good = encodeWriteRequest({
      series: [{ labels: [['__name__', 'http_requests'], ['host', 'h1']], timestamps: [1000], values: [5] }],
      metadata: [{ type: 'counter', family: 'http_requests', help: '', unit: '' }],
    });
    const bad = new Uint8Array(good.length + 2);
    bad.set(good);
    bad.set([0x0a, 0x05], good.length); // a timeseries announcing 5 bytes that are not there
    expectSameAsReference([[bad], [good, bad, good]]);
    const n = new Normaliser({ hostLabels: HOST_LABELS, counterSuffixes: SUFFIXES });
    expect(() => n.addRemoteWrite(bad)).toThrow(/truncated/);
    expect(n.take().hosts).toEqual([]);
    n.addRemoteWrite(good);
    const batch = n.take();
    const [s] = decodeSampleBatch(batch.encode([0])).series;
    expect(s).toMatchObject({ key: 'http_requests{host="h1"}', host: 'h1', kind: KIND_COUNTER });
  });

  it('gives labels interleaved with samples the identity of the same labels sent in one run', () => {
    const n = new Normaliser({ hostLabels: HOST_LABELS, counterSuffixes: SUFFIXES });
    n.addRemoteWrite(encodeWriteRequest({ series: [{ labels: [['__name__', 'up'], ['host', 'h']], timestamps: [1], values: [1] }] }));
    // TimeSeries { Label __name__, Sample, Label host } written by hand.
    const label = (k: string, v: string) => {
      const kb = new TextEncoder().encode(k);
      const vb = new TextEncoder().encode(v);
      return [0x0a, kb.length + vb.length + 4, 0x0a, kb.length, ...kb, 0x12, vb.length, ...vb];
    };
    const sample = [0x12, 11, 0x09, ...new Uint8Array(Float64Array.of(2).buffer), 0x10, 2];
    const ts = [...label('__name__', 'up'), ...sample, ...label('host', 'h')];
    n.addRemoteWrite(Uint8Array.from([0x0a, ts.length, ...ts]));
    const batch = n.take();
    const series = decodeSampleBatch(batch.encode([0])).series;
    expect(series.length).toBe(1);
    expect(Array.from(series[0].values)).toEqual([1, 2]);
  });
});
