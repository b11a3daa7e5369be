import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors/index.js';
import { ProtoWriter, WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_START_GROUP, WIRE_END_GROUP, WIRE_VARINT } from './protobuf.js';
import {
  decodeLabels,
  decodeWriteRequest,
  encodeWriteRequest,
  scanWriteRequest,
  isStaleMarker,
  labelsWithinBytes,
  METRIC_TYPES,
  STALE_NAN,
  STALE_NAN_BITS,
  type DecodeWriteRequestOptions,
  type RemoteWriteMetadata,
  type WriteRequest,
} from './remote-write.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { labelLimitBroken } from './limits.js';

function bitsOf(v: number): bigint {
  // Not `new Float64Array([v])`: V8 sets the quiet bit of a signalling NaN stored in a JS array.
  const f = new Float64Array(1);
  f[0] = v;
  return new BigUint64Array(f.buffer)[0];
}

function protoError(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).code).toBe('FS_RW_PROTO');
    return e as BadRequestError;
  }
  throw new Error('expected a protobuf error');
}

const labelName = fc.oneof(fc.constantFrom('__name__', 'job', 'instance', 'le', 'quantile'), fc.string({ minLength: 1, maxLength: 12 }));
const labelValue = fc.oneof(fc.constantFrom('', 'node', '127.0.0.1:9100', 'Ünïcødé ✓', '+Inf'), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const sampleValue = fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, STALE_NAN, 1e308, 5e-324));
const timestamp = fc.oneof(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }));

const seriesArb = fc
  .record({
    labels: fc.array(fc.tuple(labelName, labelValue), { maxLength: 8 }),
    samples: fc.array(fc.tuple(timestamp, sampleValue), { maxLength: 6 }),
  })
  .map(({ labels, samples }) => ({
    labels: labels as [string, string][],
    timestamps: samples.map((s) => s[0]),
    values: samples.map((s) => s[1]),
  }));

const metadataArb: fc.Arbitrary<RemoteWriteMetadata> = fc.record({
  type: fc.constantFrom(...METRIC_TYPES),
  family: fc.string({ maxLength: 30 }),
  help: fc.string({ unit: 'grapheme', maxLength: 60 }),
  unit: fc.constantFrom('', 'seconds', 'bytes'),
});

describe('remote-write WriteRequest', () => {
  it('round-trips series, samples and metadata, NaN payloads included', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 12 }), fc.array(metadataArb, { maxLength: 4 }), (series, metadata) => {
        const req = decodeWriteRequest(encodeWriteRequest({ series, metadata }));
        expect(req.series.length).toBe(series.length);
        expect(req.metadata).toEqual(metadata);
        let samples = 0;
        for (let i = 0; i < series.length; i++) {
          const got = req.series[i];
          expect(got.labels).toEqual(series[i].labels);
          expect(Array.from(got.timestamps)).toEqual(series[i].timestamps);
          expect(got.values.length).toBe(series[i].values.length);
          for (let j = 0; j < got.values.length; j++) {
            const sent = series[i].values[j];
            // Stale markers go out with Prometheus's exact bits; every other value bit for bit.
            expect(bitsOf(got.values[j])).toBe(isStaleMarker(sent) ? STALE_NAN_BITS : bitsOf(sent));
          }
          expect(got.exemplars).toBe(0);
          expect(got.histograms).toBe(0);
          samples += got.values.length;
        }
        expect(req.samples).toBe(samples);
      }),
      { numRuns: 300 },
    );
  });

  it('survives snappy on the way, as on the wire', () => {
    const series = Array.from({ length: 500 }, (_, i) => ({
      labels: [['__name__', 'node_cpu_seconds_total'], ['cpu', String(i % 8)], ['instance', 'host-' + (i >> 3)], ['mode', 'idle']] as [string, string][],
      timestamps: [1_700_000_000_000 + i],
      values: [i * 0.25],
    }));
    const body = snappyCompress(encodeWriteRequest({ series }));
    const req = decodeWriteRequest(snappyDecompress(body, 1 << 24));
    expect(req.series.length).toBe(500);
    expect(req.samples).toBe(500);
    expect(req.series[499].labels[2]).toEqual(['instance', 'host-62']);
    expect(req.series[499].values[0]).toBe(124.75);
  });

  it('recognises the stale marker by its bits, and no other NaN', () => {
    expect(bitsOf(STALE_NAN)).toBe(STALE_NAN_BITS);
    expect(isStaleMarker(STALE_NAN)).toBe(true);
    expect(isStaleMarker(NaN)).toBe(false);
    expect(isStaleMarker(0)).toBe(false);
    expect(isStaleMarker(Infinity)).toBe(false);
    const nanWithBits = (b: bigint) => new Float64Array(new BigUint64Array([b]).buffer)[0];
    expect(isStaleMarker(nanWithBits(0x7ff0000000000001n))).toBe(false);
    expect(isStaleMarker(nanWithBits(0xfff0000000000002n))).toBe(false);
    // V8 sets the quiet bit when the marker passes through a JS array; it still counts.
    const quieted = [STALE_NAN][0];
    expect(bitsOf(quieted)).toBe(0x7ff8000000000002n);
    expect(isStaleMarker(quieted)).toBe(true);
    const req = decodeWriteRequest(
      encodeWriteRequest({ series: [{ labels: [['__name__', 'up']], timestamps: [1, 2, 3], values: [1, STALE_NAN, NaN] }] }),
    );
    const v = req.series[0].values;
    expect([isStaleMarker(v[0]), isStaleMarker(v[1]), isStaleMarker(v[2])]).toEqual([false, true, false]);
    // The encoder writes Prometheus's exact bits even for a quieted marker.
    expect(bitsOf(v[1])).toBe(STALE_NAN_BITS);
  });

  it('accepts a request with metadata only, and an empty request', () => {
    const metadata: RemoteWriteMetadata[] = [
      { type: 'counter', family: 'node_cpu_seconds_total', help: 'Seconds the CPUs spent in each mode.', unit: '' },
      { type: 'gaugehistogram', family: 'x', help: '', unit: 'bytes' },
    ];
    const req = decodeWriteRequest(encodeWriteRequest({ series: [], metadata }));
    expect(req.series).toEqual([]);
    expect(req.samples).toBe(0);
    expect(req.metadata).toEqual(metadata);
    expect(decodeWriteRequest(new Uint8Array(0))).toEqual({ series: [], metadata: [], samples: 0, exemplars: 0, histograms: 0 });
  });

  it('counts exemplars and native histograms without decoding them, and skips unknown fields', () => {
    const w = new ProtoWriter();
    w.fork(); // TimeSeries
    w.fork().tag(1, WIRE_LEN).string('__name__').tag(2, WIRE_LEN).string('http_request_duration_seconds').join(1);
    w.fork().tag(1, WIRE_FIXED64).double(0.5).tag(2, WIRE_VARINT).int64(1000).tag(7, WIRE_FIXED32).uint32(1).uint32(2).uint32(3).uint32(4).join(2);
    // Exemplar {labels: [trace_id], value, timestamp}
    w.fork().fork().tag(1, WIRE_LEN).string('trace_id').tag(2, WIRE_LEN).string('abc').join(1).tag(2, WIRE_FIXED64).double(0.3).tag(3, WIRE_VARINT).int64(999).join(3);
    w.fork().tag(2, WIRE_FIXED64).double(1).join(3);
    // Histogram with a few fields of its own.
    w.fork().tag(1, WIRE_VARINT).uint32(10).tag(3, WIRE_FIXED64).double(12.5).tag(4, WIRE_VARINT).int64(-3).join(4);
    w.tag(99, WIRE_START_GROUP).tag(1, WIRE_VARINT).uint32(1).tag(99, WIRE_END_GROUP);
    w.fork().tag(1, WIRE_LEN).string('job').tag(2, WIRE_LEN).string('api').tag(3, WIRE_VARINT).uint32(5).join(1);
    w.join(1);
    w.tag(2, WIRE_LEN).string('a Cortex-only field'); // WriteRequest field 2 is reserved
    w.tag(15, WIRE_FIXED32).uint32(0).uint32(0).uint32(0).uint32(0);
    const req = decodeWriteRequest(w.finish());
    expect(req.series.length).toBe(1);
    const s = req.series[0];
    expect(s.labels).toEqual([
      ['__name__', 'http_request_duration_seconds'],
      ['job', 'api'],
    ]);
    expect(Array.from(s.values)).toEqual([0.5]);
    expect(Array.from(s.timestamps)).toEqual([1000]);
    expect([s.exemplars, s.histograms]).toEqual([2, 1]);
    expect([req.samples, req.exemplars, req.histograms]).toEqual([1, 2, 1]);
  });

  it('reads defaults for absent fields and unknown metadata types as unknown', () => {
    const w = new ProtoWriter();
    w.fork().fork().join(1).fork().join(2).join(1);
    w.fork().tag(1, WIRE_VARINT).uint32(42).join(3);
    const req = decodeWriteRequest(w.finish());
    expect(req.series[0].labels).toEqual([['', '']]);
    expect(Array.from(req.series[0].values)).toEqual([0]);
    expect(Array.from(req.series[0].timestamps)).toEqual([0]);
    expect(req.metadata).toEqual([{ type: 'unknown', family: '', help: '', unit: '' }]);
  });

  it('rejects truncated and malformed input with a coded error naming the byte', () => {
    const good = encodeWriteRequest({ series: [{ labels: [['__name__', 'up']], timestamps: [1_700_000_000_000], values: [1] }] });
    for (let cut = 1; cut < good.length; cut++) {
      const e = protoError(() => decodeWriteRequest(good.subarray(0, cut)));
      expect(e.message).toMatch(/^protobuf: truncated .* at byte \d+$/);
    }
    expect(protoError(() => decodeWriteRequest(Uint8Array.from([0x0a, 0x05, 0x0a]))).message).toBe(
      'protobuf: truncated length-delimited field (5 bytes announced) at byte 1',
    );
    expect(protoError(() => decodeWriteRequest(Uint8Array.from([0x08, 0x01]))).message).toBe('protobuf: WriteRequest.timeseries has wire type 0 at byte 0');
    expect(protoError(() => decodeWriteRequest(Uint8Array.from([0x00]))).message).toBe('protobuf: invalid field number 0 at byte 0');
    // Sample.value sent as a varint.
    const w = new ProtoWriter();
    w.fork().fork().tag(1, WIRE_VARINT).uint32(1).join(2).join(1);
    expect(protoError(() => decodeWriteRequest(w.finish())).message).toBe('protobuf: Sample.value has wire type 0 at byte 4');
  });

  it('never throws anything but a coded error on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          decodeWriteRequest(junk);
        } catch (e) {
          expect(e).toBeInstanceOf(BadRequestError);
          expect((e as BadRequestError).code).toBe('FS_RW_PROTO');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('encodes a request Go would: proto3 defaults left out, negative timestamps as ten bytes', () => {
    const bytes = encodeWriteRequest({ series: [{ labels: [['a', '']], timestamps: [0, -1], values: [0, -0] }] });
    // TimeSeries{ Label{name:"a"}, Sample{}, Sample{value:-0, timestamp:-1} }
    expect(Buffer.from(bytes).toString('hex')).toBe('0a1d' + '0a030a0161' + '1200' + '1214' + '090000000000000080' + '10ffffffffffffffffff01');
    expect(() => encodeWriteRequest({ series: [{ labels: [], timestamps: [1], values: [] }] })).toThrow(/1 timestamps but 0 values/);
  });
});

/** What scanWriteRequest reports, rebuilt into decodeWriteRequest's shape (labels through decodeLabels). */
type ScannedSeries = { labels: [string, string][]; labelCount: number; timestamps: number[]; values: number[]; bits: bigint[]; contiguous: boolean };

function scanned(buf: Uint8Array, options?: DecodeWriteRequestOptions): { req: Omit<WriteRequest, 'series'> & { series: ScannedSeries[] } } {
  const series: ScannedSeries[] = [];
  let metadata: RemoteWriteMetadata[] = [];
  const totals = scanWriteRequest(buf, options, {
    metadata: (list) => {
      expect(series.length).toBe(0);
      metadata = list;
    },
    series: (b, start, end, contiguous) => {
      const labels: [string, string][] = [];
      const labelCount = decodeLabels(b, start, end, options?.maxLabelsPerSeries ?? Infinity, labels);
      series.push({ labels, labelCount, timestamps: [], values: [], bits: [], contiguous });
    },
    sample: (ts, v) => {
      series[series.length - 1].timestamps.push(ts);
      // Bits taken here: a NaN stored in a JS array may get its quiet bit set.
      series[series.length - 1].values.push(v);
      series[series.length - 1].bits.push(bitsOf(v));
    },
  });
  expect(totals.series).toBe(series.length);
  expect(totals.metadata).toBe(metadata.length);
  return { req: { series, metadata, samples: totals.samples, exemplars: totals.exemplars, histograms: totals.histograms } };
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return `${(e as BadRequestError).code}`;
  }
}

describe('remote-write scan (the decoder without building the request)', () => {
  it('sees what decodeWriteRequest decodes: label sets, samples bit for bit, metadata, totals', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 12 }), fc.array(metadataArb, { maxLength: 4 }), fc.integer({ min: 1, max: 10 }), (series, metadata, maxLabels) => {
        const buf = encodeWriteRequest({ series, metadata });
        const want = decodeWriteRequest(buf, { maxLabelsPerSeries: maxLabels });
        const { req } = scanned(buf, { maxLabelsPerSeries: maxLabels });
        expect(req.metadata).toEqual(want.metadata);
        expect([req.samples, req.exemplars, req.histograms]).toEqual([want.samples, want.exemplars, want.histograms]);
        expect(req.series.length).toBe(want.series.length);
        for (let i = 0; i < want.series.length; i++) {
          const g = req.series[i];
          const w = want.series[i];
          expect(g.contiguous).toBe(true);
          expect(g.labels).toEqual(w.labels);
          expect(g.labelCount).toBe(w.labelCount);
          expect(g.timestamps).toEqual(Array.from(w.timestamps));
          expect(g.bits).toEqual(Array.from(w.values, bitsOf));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same label bytes for the same series sent again, and the whole series when labels are interleaved', () => {
    const one = { labels: [['__name__', 'up'], ['job', 'node']] as [string, string][], timestamps: [1], values: [1] };
    const buf = encodeWriteRequest({ series: [one, { ...one, timestamps: [2], values: [2] }] });
    const ranges: string[] = [];
    scanWriteRequest(buf, undefined, { metadata: () => undefined, series: (b, s, e) => void ranges.push(Buffer.from(b.subarray(s, e)).toString('hex')), sample: () => undefined });
    expect(ranges[0]).toBe(ranges[1]);
    expect(ranges[0]).toBe(Buffer.from(encodeWriteRequest({ series: [{ labels: one.labels, timestamps: [], values: [] }] }).subarray(2)).toString('hex'));
    // TimeSeries { Label, Sample, Label }: not one run of labels.
    const w = new ProtoWriter();
    w.fork();
    w.fork().tag(1, WIRE_LEN).string('__name__').tag(2, WIRE_LEN).string('up').join(1);
    w.fork().tag(1, WIRE_FIXED64).double(5).join(2);
    w.fork().tag(1, WIRE_LEN).string('job').tag(2, WIRE_LEN).string('x').join(1);
    w.join(1);
    const { req } = scanned(w.finish());
    expect(req.series[0]).toMatchObject({ contiguous: false, labels: [['__name__', 'up'], ['job', 'x']], values: [5] });
  });

  it('refuses what decodeWriteRequest refuses, with the same kind of error', () => {
    const good = encodeWriteRequest({
      series: [{ labels: [['__name__', 'up'], ['job', 'node']], timestamps: [1_700_000_000_000, 1_700_000_015_000], values: [1, 2] }],
      metadata: [{ type: 'gauge', family: 'up', help: 'h', unit: '' }],
    });
    for (let cut = 1; cut < good.length; cut++) {
      const b = good.subarray(0, cut);
      expect(outcome(() => scanned(b))).toBe(outcome(() => decodeWriteRequest(b)));
    }
    const limits = { maxSeries: 1, maxSamples: 1 };
    expect(outcome(() => scanned(encodeWriteRequest({ series: [{ labels: [], timestamps: [], values: [] }, { labels: [], timestamps: [], values: [] }] }), limits))).toBe('FS_LIMIT_SERIES');
    expect(outcome(() => scanned(good, limits))).toBe('FS_LIMIT_SAMPLES');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        const want = outcome(() => decodeWriteRequest(junk));
        const got = outcome(() => scanned(junk));
        // Bytes with several faults may be refused for another of them: refusal itself must agree.
        expect(got === 'ok').toBe(want === 'ok');
        if (got !== 'ok') expect(got).toBe('FS_RW_PROTO');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('labelsWithinBytes (the receiver\'s limit check without strings)', () => {
  it('says within only for label sets no per-series limit refuses, and never misses one in plain ASCII', () => {
    fc.assert(
      fc.property(seriesArb, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 40 }), (series, maxLabels, maxName, maxValue) => {
        const buf = encodeWriteRequest({ series: [series] });
        const start = 2 + (buf[1] >= 0x80 ? 1 : 0);
        const within = labelsWithinBytes(buf, start, buf.length, maxLabels, maxName, maxValue);
        const pairs: [string, string][] = [];
        const count = decodeLabels(buf, start, buf.length, maxLabels, pairs);
        const limits = { samplesPerRequest: 1e9, seriesPerRequest: 1e9, labelsPerSeries: maxLabels, labelNameLength: maxName, labelValueLength: maxValue };
        const broken = labelLimitBroken(pairs, count, limits);
        if (within) expect(broken).toBeNull();
        const ascii = series.labels.every(([k, v]) => /^[\x00-\x7f]*$/.test(k + v));
        if (ascii) expect(within).toBe(broken === null);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses malformed labels as decodeLabels does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (junk) => {
        const a = outcome(() => labelsWithinBytes(junk, 0, junk.length, 100, 1000, 1000));
        const b = outcome(() => decodeLabels(junk, 0, junk.length, 100, []));
        expect(a).toBe(b);
      }),
      { numRuns: 3000 },
    );
  });
});
