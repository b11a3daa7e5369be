import { describe, expect, it } from 'vitest';
import { BadRequestError, PayloadTooLargeError } from '../errors/index.js';
import { describeLabelLimit, labelLimitBroken, linePointLimitBroken, type RequestLimits } from './limits.js';
import { MAX_LINE_ERRORS, parseLineProtocol, type LineProtocolPoint } from './line-protocol.js';
import { decodeWriteRequest, encodeWriteRequest } from './remote-write.js';

const LIMITS: RequestLimits = { samplesPerRequest: 10, seriesPerRequest: 3, labelsPerSeries: 3, labelNameLength: 8, labelValueLength: 12 };

function request(series: number, samplesEach: number, labels: [string, string][] = [['__name__', 'm']]): Uint8Array {
  return encodeWriteRequest({
    series: Array.from({ length: series }, (_, i) => ({
      labels: [...labels, ['i', String(i)]],
      timestamps: Array.from({ length: samplesEach }, (_, k) => 1000 + k),
      values: Array.from({ length: samplesEach }, (_, k) => k),
    })),
  });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

describe('decodeWriteRequest limits', () => {
  it('refuses more series or samples than allowed with 413, before building them', () => {
    const opts = { maxSeries: 3, maxSamples: 10 };
    expect(decodeWriteRequest(request(3, 3), opts).samples).toBe(9);
    expect(thrown(() => decodeWriteRequest(request(4, 1), opts))).toMatchObject({ code: 'FS_LIMIT_SERIES', status: 413 });
    const e = thrown(() => decodeWriteRequest(request(2, 6), opts));
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    expect((e as PayloadTooLargeError).message).toMatch(/more than 10 samples \(limits\.samplesPerRequest\)/);
  });

  it('keeps at most maxLabelsPerSeries labels but counts them all', () => {
    const wide = request(1, 1, [['__name__', 'm'], ['a', '1'], ['b', '2'], ['c', '3']]);
    const s = decodeWriteRequest(wide, { maxLabelsPerSeries: 3 }).series[0];
    expect(s.labels.length).toBe(3);
    expect(s.labelCount).toBe(5);
    expect(labelLimitBroken(s.labels, s.labelCount, LIMITS)).toBe('labels_per_series');
    expect(describeLabelLimit('labels_per_series', s.labels, s.labelCount, LIMITS)).toBe('series "m" has 5 labels, more than 3 (limits.labelsPerSeries)');
  });

  it('refuses deeply nested groups with a coded error instead of overflowing the stack', () => {
    const deep = new Uint8Array(20_000);
    deep.fill(0x2b, 0, 10_000);
    deep.fill(0x2c, 10_000);
    const e = thrown(() => decodeWriteRequest(deep));
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).message).toMatch(/groups nested deeper than 100/);
    // 100 levels are still skipped.
    const ok = new Uint8Array(200);
    ok.fill(0x2b, 0, 100);
    ok.fill(0x2c, 100);
    expect(decodeWriteRequest(ok).series).toEqual([]);
  });
});

describe('line protocol under hostile input', () => {
  it('keeps the first MAX_LINE_ERRORS errors and counts every bad line', () => {
    const r = parseLineProtocol('x\n'.repeat(5000) + 'm v=1', 'ns', () => undefined);
    expect(r.points).toBe(1);
    expect(r.badLines).toBe(5000);
    expect(r.errors.length).toBe(MAX_LINE_ERRORS);
    expect(r.errors[0].message).toBe('line 1: missing fields');
  });

  it('parses lines with tens of thousands of tags or fields in linear time, still finding duplicates', () => {
    const n = 50_000;
    let tags = 'm';
    let fields = 'm ';
    for (let i = 0; i < n; i++) {
      tags += `,t${i}=v`;
      fields += `${i ? ',' : ''}f${i}=${i}`;
    }
    const t0 = performance.now();
    const f30000: unknown[] = [];
    parseLineProtocol(`${tags} f=1\n${fields}\n${tags},t7=dup f=1\n${fields},f20000="s"\n${fields},f30000=-1`, 'ns', (p) => {
      f30000.push(p.fieldKeys.length === n ? p.fieldValues[30000] : p.tags.length);
    });
    const r = parseLineProtocol(`${tags},t7=dup f=1\n${fields},f20000="s"`, 'ns', () => undefined);
    expect(performance.now() - t0).toBeLessThan(3000);
    // Line 1 (all tags), line 2 (all fields), line 5 (a repeated field: the last value wins).
    expect(f30000).toEqual([n, 30000, -1]);
    expect(r.errors.map((e) => e.message)).toEqual(['line 1: duplicate tag "t7"', 'line 2: field "f20000" appears twice with different types (float, string)']);
  });

  it('quotes at most 100 characters of the input in a message', () => {
    const r = parseLineProtocol(`m f=${'9'.repeat(10_000)}x`, 'ns', () => undefined);
    expect(r.errors[0].message.length).toBeLessThan(200);
    expect(r.errors[0].message).toMatch(/\.\.\. \(10001 characters\)/);
  });

  it('finds points over the per-series limits', () => {
    const broken: (string | null)[] = [];
    parseLineProtocol('m,a=1,b=2 v=1\nm,a=1,b=2,c=3 v=1\nm,longlongname=1 v=1\nm,a=0123456789abc v=1\nmeasurement veryl=1\nm,__name__=x,a=1,b=2 v=1', 'ns', (p: LineProtocolPoint) => {
      broken.push(linePointLimitBroken(p, LIMITS));
    });
    expect(broken).toEqual([null, 'labels_per_series', 'label_name_length', 'label_value_length', 'label_value_length', null]);
  });
});
