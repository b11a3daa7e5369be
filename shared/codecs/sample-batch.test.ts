import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors/index.js';
import { seriesKey, sortedLabels } from '../model/labels.js';
import { KIND_COUNTER, KIND_GAUGE, type SampleBatch, type SeriesSamples } from '../model/samples.js';
import { STALE_NAN, isStaleMarker } from './remote-write.js';
import { decodeSampleBatch, decodeSeriesHead, encodeSampleBatch, encodeSampleBatchColumns, encodeSeriesHead, scanSampleBatch } from './sample-batch.js';

function f64(values: number[]): Float64Array {
  const a = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) a[i] = values[i];
  return a;
}

function bits(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

const text = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'é', '✓', '\u0000', '"', '{'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 20 });
const seriesArb: fc.Arbitrary<SeriesSamples> = fc
  .record({
    labels: fc.array(fc.tuple(fc.oneof(fc.constantFrom('__name__', 'host', 'le'), text), text), { maxLength: 6 }),
    host: text,
    kind: fc.constantFrom(KIND_GAUGE, KIND_COUNTER),
    stale: fc.boolean(),
    samples: fc.array(fc.tuple(fc.double(), fc.oneof(fc.double(), fc.constant(STALE_NAN))), { maxLength: 20 }),
  })
  .map(({ labels, host, kind, stale, samples }) => {
    const l = sortedLabels(labels);
    return {
      key: seriesKey(l),
      labels: l,
      host,
      kind,
      stale,
      timestamps: f64(samples.map((s) => s[0])),
      values: f64(samples.map((s) => s[1])),
    };
  });

function expectSameBatch(got: SampleBatch, want: SampleBatch): void {
  expect(got.series.length).toBe(want.series.length);
  for (let i = 0; i < want.series.length; i++) {
    const g = got.series[i];
    const w = want.series[i];
    expect({ key: g.key, host: g.host, kind: g.kind, stale: g.stale }).toEqual({ key: w.key, host: w.host, kind: w.kind, stale: w.stale });
    expect(Object.entries(g.labels)).toEqual(Object.entries(w.labels));
    expect(Object.isFrozen(g.labels)).toBe(true);
    // Bit for bit, NaN payloads (stale markers) included.
    expect(bits(g.timestamps)).toBe(bits(w.timestamps));
    expect(bits(g.values)).toBe(bits(w.values));
  }
}

function batchError(buf: Uint8Array): string {
  try {
    decodeSampleBatch(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).code).toBe('FS_BATCH');
    return (e as Error).message;
  }
  throw new Error('expected a sample batch error');
}

describe('sample batch encoding', () => {
  it('round-trips random batches bit for bit', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 10 }), (series) => {
        const batch = { series };
        const buf = encodeSampleBatch(batch);
        expectSameBatch(decodeSampleBatch(buf), batch);
        expectSameBatch(decodeSampleBatch(buf, { alias: true }), batch);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps stale markers and a labels object that reads like the original', () => {
    const labels = sortedLabels([
      ['__name__', 'node_load1'],
      ['instance', 'web-1:9100'],
    ]);
    const batch: SampleBatch = {
      series: [{ key: seriesKey(labels), labels, host: 'web-1', kind: KIND_GAUGE, stale: true, timestamps: f64([1, 2]), values: f64([0.5, STALE_NAN]) }],
    };
    const got = decodeSampleBatch(encodeSampleBatch(batch)).series[0];
    expect(got.labels).toEqual({ __name__: 'node_load1', instance: 'web-1:9100' });
    expect(got.key).toBe('node_load1{instance="web-1:9100"}');
    expect(isStaleMarker(got.values[1])).toBe(true);
    expect(got.stale).toBe(true);
  });

  it('puts the float columns on 8-byte boundaries, so aligned buffers decode to views', () => {
    const labels = sortedLabels([['__name__', 'x'.repeat(13)]]);
    const s = { key: seriesKey(labels), labels, host: 'h', kind: KIND_COUNTER, stale: false, timestamps: f64([1, 2, 3]), values: f64([4, 5, 6]) } as const;
    const buf = encodeSampleBatch({ series: [s, s] });
    const views = decodeSampleBatch(buf, { alias: true }).series;
    for (const v of views) {
      expect(v.timestamps.buffer).toBe(buf.buffer);
      expect(v.timestamps.byteOffset % 8).toBe(0);
      expect(Array.from(v.values)).toEqual([4, 5, 6]);
    }
    // Copies by default: the decoded batch does not alias the message.
    expect(decodeSampleBatch(buf).series[0].timestamps.buffer).not.toBe(buf.buffer);
    // A message at an odd offset inside a larger buffer (as a Kafka client hands it over) still decodes.
    const shifted = new Uint8Array(buf.length + 3);
    shifted.set(buf, 3);
    const odd = decodeSampleBatch(shifted.subarray(3), { alias: true }).series;
    expect(Array.from(odd[1].timestamps)).toEqual([1, 2, 3]);
  });

  it('handles empty batches and series without samples', () => {
    expect(decodeSampleBatch(encodeSampleBatch({ series: [] }))).toEqual({ series: [] });
    const labels = sortedLabels([['__name__', 'gone']]);
    const batch: SampleBatch = { series: [{ key: 'gone{}', labels, host: '', kind: KIND_GAUGE, stale: true, timestamps: f64([]), values: f64([]) }] };
    expectSameBatch(decodeSampleBatch(encodeSampleBatch(batch)), batch);
  });

  it('rejects corrupt messages with a coded error', () => {
    const labels = sortedLabels([['__name__', 'up']]);
    const good = encodeSampleBatch({
      series: [{ key: 'up{}', labels, host: 'h', kind: KIND_GAUGE, stale: false, timestamps: f64([1, 2]), values: f64([1, 1]) }],
    });
    expect(batchError(new Uint8Array(3))).toMatch(/shorter than the 8-byte header/);
    const v2 = good.slice();
    v2[0] = 2;
    expect(batchError(v2)).toMatch(/unsupported version 2/);
    const many = good.slice();
    new DataView(many.buffer).setUint32(4, 1_000_000, true);
    expect(batchError(many)).toMatch(/1000000 series cannot fit/);
    const kind = good.slice();
    kind[8] = 9;
    expect(batchError(kind)).toMatch(/unknown kind 9/);
    const flags = good.slice();
    flags[9] = 4;
    expect(batchError(flags)).toMatch(/unknown flags 4/);
    for (let cut = 8; cut < good.length; cut++) batchError(good.subarray(0, cut));
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    expect(batchError(trailing)).toMatch(/1 unexpected bytes after the last series/);
    expect(() => encodeSampleBatch({ series: [{ key: 'k', labels, host: '', kind: KIND_GAUGE, stale: false, timestamps: f64([1]), values: f64([]) }] })).toThrow(
      BadRequestError,
    );
  });

  it('never throws anything but a coded error on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          decodeSampleBatch(junk);
        } catch (e) {
          expect((e as BadRequestError).code).toBe('FS_BATCH');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sample batch from columns (identities encoded once)', () => {
  it('writes the bytes encodeSampleBatch writes, in any series order', () => {
    fc.assert(
      fc.property(fc.array(seriesArb.filter((s) => !s.values.some((v) => v !== v)), { maxLength: 10 }), fc.integer(), (series, seed) => {
        // The columns: series in one order, samples of all series in one pair of arrays.
        const total = series.reduce((n, s) => n + s.values.length, 0);
        const timestamps = new Float64Array(total);
        const values = new Float64Array(total);
        const start = new Int32Array(series.length);
        const count = new Int32Array(series.length);
        let at = 0;
        series.forEach((s, i) => {
          start[i] = at;
          count[i] = s.values.length;
          timestamps.set(s.timestamps, at);
          values.set(s.values, at);
          at += s.values.length;
        });
        const cols = {
          heads: series.map((s) => encodeSeriesHead(s.key, s.host, s.labels)),
          kinds: Uint8Array.from(series, (s) => s.kind),
          stale: Uint8Array.from(series, (s) => (s.stale ? 1 : 0)),
          start, count, timestamps, values,
        };
        const order = series.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.abs(seed + i * 7919) % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        const want = encodeSampleBatch({ series: order.map((i) => series[i]) });
        expect(Buffer.from(encodeSampleBatchColumns(cols, Int32Array.from(order))).toString('hex')).toBe(Buffer.from(want).toString('hex'));
        // A prefix of the order: the first n series only.
        const n = order.length >> 1;
        expect(Buffer.from(encodeSampleBatchColumns(cols, order, n)).toString('hex')).toBe(Buffer.from(encodeSampleBatch({ series: order.slice(0, n).map((i) => series[i]) })).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('pins the layout of one series', () => {
    const labels = sortedLabels([['__name__', 'up'], ['host', 'a"b']]);
    const head = encodeSeriesHead(seriesKey(labels), 'a"b', labels);
    const cols = { heads: [head], kinds: Uint8Array.of(KIND_COUNTER), stale: Uint8Array.of(1), start: Int32Array.of(0), count: Int32Array.of(1), timestamps: f64([1000]), values: f64([2.5]) };
    const hex = Buffer.from(encodeSampleBatchColumns(cols, [0])).toString('hex');
    // header | kind 1, stale | key up{host="a\"b"} | host | 2 labels | 1 sample, padding | ts 1000 | 2.5
    expect(hex).toBe(
      '0100000001000000' + '0101' + '0f' + Buffer.from('up{host="a\\"b"}').toString('hex') + '03' + Buffer.from('a"b').toString('hex') + '02'
        + '08' + Buffer.from('__name__').toString('hex') + '02' + Buffer.from('up').toString('hex') + '04' + Buffer.from('host').toString('hex') + '03' + Buffer.from('a"b').toString('hex')
        + '01' + '000000' + '0000000000408f40' + '0000000000000440',
    );
    expect(hex).toBe(Buffer.from(encodeSampleBatch({ series: [{ key: seriesKey(labels), labels, host: 'a"b', kind: KIND_COUNTER, stale: true, timestamps: f64([1000]), values: f64([2.5]) }] })).toString('hex'));
  });
});

describe('sample batch scan (the decoder without building series)', () => {
  function scan(buf: Uint8Array): SeriesSamples[] {
    const out: SeriesSamples[] = [];
    scanSampleBatch(buf, {
      series: (b, hs, he, kind, stale, cols, at, n) => {
        const { key, host, labels } = decodeSeriesHead(b, hs, he);
        // The head bytes are the ones encodeSeriesHead makes for the series.
        expect(Buffer.from(b.subarray(hs, he)).equals(Buffer.from(encodeSeriesHead(key, host, labels)))).toBe(true);
        out.push({ key, host, labels, kind, stale, timestamps: cols.slice(at, at + n), values: cols.slice(at + n, at + 2 * n) });
      },
    });
    return out;
  }

  it('sees what decodeSampleBatch decodes, bit for bit, aligned in memory or not', () => {
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 10 }), fc.integer({ min: 0, max: 7 }), (series, shift) => {
        const buf = encodeSampleBatch({ series });
        const moved = new Uint8Array(buf.length + shift).subarray(shift);
        moved.set(buf);
        expectSameBatch({ series: scan(moved) }, decodeSampleBatch(buf));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what decodeSampleBatch refuses, with the same message, before visiting anything', () => {
    const good = encodeSampleBatch({ series: [{ key: 'up{}', labels: sortedLabels([['__name__', 'up']]), host: 'h', kind: KIND_GAUGE, stale: false, timestamps: f64([1, 2]), values: f64([3, 4]) }] });
    const cases = [good.subarray(0, good.length - 1), good.subarray(0, 12), Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0)];
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (junk) => void cases.push(Uint8Array.of(1, 0, 0, 0, ...junk))), { numRuns: 2000 });
    for (const c of cases) {
      let want = 'ok';
      try {
        decodeSampleBatch(c);
      } catch (e) {
        want = (e as Error).message;
      }
      let visited = 0;
      let got = 'ok';
      try {
        scanSampleBatch(c, { series: () => void visited++ });
      } catch (e) {
        expect(e).toBeInstanceOf(BadRequestError);
        got = (e as Error).message;
      }
      expect(got).toBe(want);
      if (got !== 'ok') expect(visited).toBe(0);
    }
  });
});
