import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors/index.js';
import {
  formatLineProtocol,
  parseLineProtocol,
  type FieldType,
  type FieldValue,
  type LineProtocolError,
  type LineProtocolPoint,
  type Precision,
} from './line-protocol.js';

interface Parsed {
  measurement: string;
  tags: [string, string][];
  fields: Record<string, [FieldType, FieldValue]>;
  /** Field keys in line order (a record would put integer-like keys first). */
  keys: string[];
  timestampMs: number | null;
  line: number;
}

function parse(body: string, precision: Precision = 'ns'): { points: Parsed[]; errors: LineProtocolError[] } {
  const points: Parsed[] = [];
  const r = parseLineProtocol(body, precision, (p: LineProtocolPoint) => {
    const fields: Record<string, [FieldType, FieldValue]> = {};
    for (let i = 0; i < p.fieldKeys.length; i++) fields[p.fieldKeys[i]] = [p.fieldTypes[i], p.fieldValues[i]];
    points.push({ measurement: p.measurement, tags: p.tags.map(([k, v]) => [k, v]), fields, keys: [...p.fieldKeys], timestampMs: p.timestampMs, line: p.line });
  });
  expect(r.points).toBe(points.length);
  return { points, errors: r.errors };
}

function one(body: string, precision: Precision = 'ns'): Parsed {
  const { points, errors } = parse(body, precision);
  expect(errors).toEqual([]);
  expect(points.length).toBe(1);
  return points[0];
}

function errorOf(body: string, precision: Precision = 'ns'): string {
  const { points, errors } = parse(body, precision);
  expect(points).toEqual([]);
  expect(errors.length).toBe(1);
  return errors[0].message;
}

describe('line protocol: the documented examples', () => {
  it('reads the syntax example', () => {
    expect(one('myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000')).toEqual({
      keys: ['fieldKey'],
      measurement: 'myMeasurement',
      tags: [
        ['tag1', 'value1'],
        ['tag2', 'value2'],
      ],
      fields: { fieldKey: ['string', 'fieldValue'] },
      timestampMs: 1556813561098,
      line: 1,
    });
  });

  it('reads every field type', () => {
    const p = one('m f1=1.0,f2=1,f3=-1.234456e+78,f4=1.e+78,f5=1.E+78,i=123i,u=123u,s="x",b=t 0');
    expect(p.fields).toEqual({
      f1: ['float', 1],
      f2: ['float', 1],
      f3: ['float', -1.234456e78],
      f4: ['float', 1e78],
      f5: ['float', 1e78],
      i: ['integer', 123],
      u: ['uinteger', 123],
      s: ['string', 'x'],
      b: ['boolean', true],
    });
    expect(p.timestampMs).toBe(0);
  });

  it('reads floats in every notation, exactly as Number() would', () => {
    const cases: [string, number][] = [
      ['-1.5e3', -1500],
      ['1e5', 1e5],
      ['.5', 0.5],
      ['5.', 5],
      ['-0', -0],
      ['0.1', 0.1],
      ['1E-7', 1e-7],
      ['123456789012345678', 123456789012345678],
      ['0.30000000000000004', 0.30000000000000004],
      ['2.2250738585072014e-308', 2.2250738585072014e-308],
      ['1.7976931348623157e308', 1.7976931348623157e308],
      ['4.9e-324', 5e-324],
      ['-12.000000000000001', -12.000000000000001],
      ['1e+22', 1e22],
      ['9007199254740993', 9007199254740992],
    ];
    for (const [text, want] of cases) {
      const v = one(`m field=${text}`).fields.field;
      expect(v[0]).toBe('float');
      expect(Object.is(v[1], want), `${text} -> ${String(v[1])}`).toBe(true);
    }
  });

  it('reads integers and uintegers at their limits', () => {
    expect(one('m a=9223372036854775807i,b=-9223372036854775808i,c=0i,d=-0i').fields).toEqual({
      a: ['integer', 9223372036854775807],
      b: ['integer', -9223372036854775808],
      c: ['integer', 0],
      d: ['integer', -0],
    });
    expect(one('m a=18446744073709551615u,b=0u').fields).toEqual({ a: ['uinteger', 18446744073709551615], b: ['uinteger', 0] });
    expect(errorOf('m a=9223372036854775808i')).toBe('line 1: invalid field value for "a": "9223372036854775808i" (out of int64 range)');
    expect(errorOf('m a=-9223372036854775809i')).toBe('line 1: invalid field value for "a": "-9223372036854775809i" (out of int64 range)');
    expect(errorOf('m a=18446744073709551616u')).toBe('line 1: invalid field value for "a": "18446744073709551616u" (out of uint64 range)');
    expect(errorOf('m a=-1u')).toBe('line 1: invalid field value for "a": "-1u"');
    expect(errorOf('m a=1.5i')).toBe('line 1: invalid field value for "a": "1.5i"');
    expect(errorOf('m a=+1i')).toBe('line 1: invalid field value for "a": "+1i"');
  });

  it('reads booleans in all ten spellings and nothing else', () => {
    const words = ['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE'];
    for (const w of words) expect(one(`m b=${w}`).fields.b).toEqual(['boolean', w.toLowerCase().startsWith('t')]);
    for (const w of ['tRUE', 'yes', 'truee', 'fals']) expect(errorOf(`m b=${w}`)).toBe(`line 1: invalid field value for "b": "${w}"`);
  });

  it('unescapes measurements: comma and space', () => {
    expect(one('my\\ Measurement fieldKey="string value"').measurement).toBe('my Measurement');
    expect(one('my\\,Measurement f=1').measurement).toBe('my,Measurement');
    // '=' needs no escape in a measurement, and "\=" stays as written.
    expect(one('a=b f=1').measurement).toBe('a=b');
    expect(one('a\\=b f=1').measurement).toBe('a\\=b');
  });

  it('unescapes tag keys, tag values and field keys: comma, equals, space', () => {
    const p = one('myMeasurement,tag\\ Key1=tag\\ Value1,tag\\,Key2=tag\\,Value2,tag\\=Key3=tag\\=Value3 field\\ Key="v",field\\,Key2=2,field\\=Key3=3');
    expect(p.tags).toEqual([
      ['tag Key1', 'tag Value1'],
      ['tag,Key2', 'tag,Value2'],
      ['tag=Key3', 'tag=Value3'],
    ]);
    expect(Object.keys(p.fields)).toEqual(['field Key', 'field,Key2', 'field=Key3']);
  });

  it('reads string field values with escaped quotes and backslashes, and commas, equals and spaces as is', () => {
    expect(one('m s="too hot, \\"cool\\" = fine"').fields.s).toEqual(['string', 'too hot, "cool" = fine']);
    expect(one('m s="C:\\\\Windows\\\\"').fields.s).toEqual(['string', 'C:\\Windows\\']);
    // A backslash before anything else is a literal backslash.
    expect(one('m s="a\\tb\\n"').fields.s).toEqual(['string', 'a\\tb\\n']);
    expect(one('m s=""').fields.s).toEqual(['string', '']);
    expect(one('m s="\\\\"').fields.s).toEqual(['string', '\\']);
  });

  it('handles the documented backslash example', () => {
    // Measurement with literal backslashes, escaped = in a tag value, escaped \ and " in a string.
    const p = one('air\\\\\\\\\\Sensor,sensor_id=TLM\\=0201 desc="\\\\\\"==My data==\\\\"');
    expect(p.measurement).toBe('air\\\\\\Sensor');
    expect(p.tags).toEqual([['sensor_id', 'TLM=0201']]);
    expect(p.fields.desc).toEqual(['string', '\\"==My data==\\']);
    const q = one('airSensor,sensor_id=TLM\\=0201 desc="\\=My data==\\\\"');
    expect(q.fields.desc).toEqual(['string', '\\=My data==\\']);
  });

  it('reads unicode everywhere', () => {
    const p = one('温度,地点=北京 値=25.5,說明="☀️ sunny" 1');
    expect(p.measurement).toBe('温度');
    expect(p.tags).toEqual([['地点', '北京']]);
    expect(p.fields).toEqual({ 値: ['float', 25.5], 說明: ['string', '☀️ sunny'] });
  });

  it('keeps raw newlines inside strings and counts them as lines', () => {
    const body = 'm,host=a s="first\nsecond = x, y",v=1 1\nm v=2 2\n';
    const { points, errors } = parse(body);
    expect(errors).toEqual([]);
    expect(points.map((p) => [p.line, p.fields.s?.[1] ?? p.fields.v[1]])).toEqual([
      [1, 'first\nsecond = x, y'],
      [3, 2],
    ]);
    expect(points[0].fields.v).toEqual(['float', 1]);
  });

  it('skips comments and blank lines, tolerates CRLF, leading and trailing whitespace', () => {
    const body = '# a comment\r\n\r\n   \ncpu,host=a usage=1 10\r\n  # indented comment\n  cpu,host=b usage=2   \n\ncpu usage=3 30   \r\n';
    const { points, errors } = parse(body, 's');
    expect(errors).toEqual([]);
    expect(points.map((p) => [p.line, p.tags, p.fields.usage[1], p.timestampMs])).toEqual([
      [4, [['host', 'a']], 1, 10_000],
      [6, [['host', 'b']], 2, null],
      [8, [], 3, 30_000],
    ]);
  });

  it('has no timestamp when none is given', () => {
    expect(one('m f=1').timestampMs).toBeNull();
    expect(one('m f=1 ').timestampMs).toBeNull();
    expect(one('m f="a b" ').timestampMs).toBeNull();
  });

  it('keeps the last value of a field repeated with the same type, like InfluxDB', () => {
    expect(one('m a=1,b=2,a=3').fields).toEqual({ a: ['float', 3], b: ['float', 2] });
    expect(errorOf('m a=1,a="x"')).toBe('line 1: field "a" appears twice with different types (float, string)');
    expect(errorOf('m,t=1,t=2 a=1')).toBe('line 1: duplicate tag "t"');
  });

  it('reuses the point object between calls (documented: copy what you keep)', () => {
    const seen: LineProtocolPoint[] = [];
    parseLineProtocol('a,t=1 f=1\nb f=2,g=3', 'ns', (p) => seen.push(p));
    expect(seen[0]).toBe(seen[1]);
    expect(seen[1].measurement).toBe('b');
    expect(seen[1].tags).toEqual([]);
    expect(seen[1].fieldKeys).toEqual(['f', 'g']);
  });
});

describe('line protocol: timestamps', () => {
  it('converts every precision to ms without losing the ns digits past 2^53', () => {
    expect(one('m f=1 1556813561098000000', 'ns').timestampMs).toBe(1556813561098);
    expect(one('m f=1 1556813561098123456', 'ns').timestampMs).toBeCloseTo(1556813561098.123456, 3);
    expect(one('m f=1 1556813561098123', 'us').timestampMs).toBe(1556813561098.123);
    expect(one('m f=1 1556813561098', 'ms').timestampMs).toBe(1556813561098);
    expect(one('m f=1 1556813561', 's').timestampMs).toBe(1556813561000);
    expect(one('m f=1 999', 'ns').timestampMs).toBe(0.000999);
    expect(one('m f=1 0', 'ns').timestampMs).toBe(0);
  });

  it('allows negative timestamps (before 1970)', () => {
    expect(one('m f=1 -1556813561098000000').timestampMs).toBe(-1556813561098);
    expect(one('m f=1 -5', 's').timestampMs).toBe(-5000);
  });

  it('accepts the int64 ns range and rejects beyond it', () => {
    expect(one('m f=1 9223372036854775807').timestampMs).toBeCloseTo(9223372036854.775, 2);
    expect(one('m f=1 -9223372036854775808').timestampMs).toBeCloseTo(-9223372036854.775, 2);
    expect(one('m f=1 0000000009223372036854775807').timestampMs).toBeCloseTo(9223372036854.775, 2);
    expect(errorOf('m f=1 9223372036854775808')).toBe('line 1: timestamp out of range "9223372036854775808"');
    expect(errorOf('m f=1 99999999999999999999')).toBe('line 1: timestamp out of range "99999999999999999999"');
    expect(errorOf('m f=1 9223372037', 's')).toBe('line 1: timestamp out of range "9223372037"');
  });

  it('rejects timestamps that are not integers', () => {
    expect(errorOf('m f=1 abc')).toBe('line 1: invalid timestamp "abc"');
    expect(errorOf('m f=1 1.5')).toBe('line 1: invalid timestamp "1.5"');
    expect(errorOf('m f=1 -')).toBe('line 1: invalid timestamp "-"');
    expect(errorOf('m f=1 12e3')).toBe('line 1: invalid timestamp "12e3"');
    expect(errorOf('m f=1 1 2')).toBe('line 1: unexpected text after the timestamp: "2"');
  });

  it('refuses an unknown precision with a coded error', () => {
    expect(() => parseLineProtocol('m f=1', 'h' as Precision, () => {})).toThrow(BadRequestError);
  });
});

describe('line protocol: bad lines', () => {
  it('reports each bad line with its number and keeps the good ones', () => {
    const body = [
      'cpu,host=a usage=1 1', // 1
      'cpu,host=a usage=2 2', // 2
      'cpu,host=a', // 3
      'cpu,host=a usage=12 abc', // 4
      'cpu s="multi', // 5
      'line" 5', // 6 (inside the string)
      'cpu,host=a usage=12x', // 7
      '', // 8
      'cpu s="never closed', // 9
      'cpu usage=4 4', // 10: swallowed by the unterminated string
    ].join('\n');
    const { points, errors } = parse(body, 's');
    expect(points.map((p) => [p.line, p.fields.usage?.[1] ?? p.fields.s[1]])).toEqual([
      [1, 1],
      [2, 2],
      [5, 'multi\nline'],
    ]);
    expect(errors).toEqual([
      { line: 3, message: 'line 3: missing fields' },
      { line: 4, message: 'line 4: invalid timestamp "abc"' },
      { line: 7, message: 'line 7: invalid field value for "usage": "12x"' },
      { line: 9, message: 'line 9: unterminated string for field "s"' },
    ]);
  });

  it('finds the end of a bad line that has a string with newlines in it', () => {
    const { points, errors } = parse('cpu bad=1x,s="a\nb\nc" 1\ncpu good=1 1');
    expect(errors).toEqual([{ line: 1, message: 'line 1: invalid field value for "bad": "1x"' }]);
    expect(points.map((p) => p.line)).toEqual([4]);
  });

  it('names what is missing', () => {
    expect(errorOf('cpu')).toBe('line 1: missing fields');
    expect(errorOf('cpu ')).toBe('line 1: missing fields');
    expect(errorOf(',host=a f=1')).toBe('line 1: missing measurement');
    expect(errorOf('cpu,host f=1')).toBe('line 1: missing tag value for "host"');
    expect(errorOf('cpu,host= f=1')).toBe('line 1: missing tag value for "host"');
    expect(errorOf('cpu,=a f=1')).toBe('line 1: missing tag key');
    expect(errorOf('cpu f')).toBe('line 1: invalid field format: "f" has no value');
    expect(errorOf('cpu f=')).toBe('line 1: missing field value for "f"');
    expect(errorOf('cpu f=,g=1')).toBe('line 1: missing field value for "f"');
    expect(errorOf('cpu =1')).toBe('line 1: missing field key');
    expect(errorOf('cpu f=1,')).toBe('line 1: missing field key');
    expect(errorOf('cpu f="a"b')).toBe('line 1: invalid field value for "f": unexpected text after the closing quote: "b"');
  });

  it('rejects NaN, Inf and other non-numbers as float values', () => {
    for (const v of ['NaN', 'Inf', '-Inf', 'Infinity', '0x10', '1e', '1e+', '.', '-', '1.2.3', '1_000', '1e400', '--1']) {
      expect(errorOf(`m v=${v}`)).toBe(`line 1: invalid field value for "v": "${v}"`);
    }
  });

  it('never throws on arbitrary input, and counts lines the same with or without errors', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '=', ',', ' ', '"', '\\', '\n', '\r', '#', '1', 'i', '.', 'e', '-', 't') }), (body) => {
        const r = parseLineProtocol(body, 'ns', (p) => {
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.fieldKeys.length).toBeGreaterThan(0);
        });
        const lines = body.split('\n').length;
        for (const e of r.errors) {
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(lines);
          expect(e.message.startsWith(`line ${e.line}: `)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('line protocol: writer', () => {
  it('escapes each element as the parser reads it', () => {
    const line = formatLineProtocol(
      {
        measurement: 'my meas,ure=ment\\',
        tags: [
          ['host name', 'a,b=c\\'],
          ['empty', ''],
        ],
        fieldKeys: ['f ,=', 's', 'i', 'u', 'b', 'nan'],
        fieldTypes: ['float', 'string', 'integer', 'uinteger', 'boolean', 'float'],
        fieldValues: [1.5, 'say "hi"\\\nnext', -42, 42, false, NaN],
        timestampMs: 1556813561098,
      },
      'ns',
    );
    expect(line).toBe(
      'my\\ meas\\,ure=ment\\\\,host\\ name=a\\,b\\=c\\\\ f\\ \\,\\==1.5,s="say \\"hi\\"\\\\\nnext",i=-42i,u=42u,b=false 1556813561098000000',
    );
    const p = one(line);
    expect(p.measurement).toBe('my meas,ure=ment\\');
    expect(p.tags).toEqual([['host name', 'a,b=c\\']]);
    expect(p.fields['s']).toEqual(['string', 'say "hi"\\\nnext']);
  });

  it('writes timestamps in the requested precision and drops what line protocol cannot carry', () => {
    const base = { measurement: 'm', fieldKeys: ['v'], fieldTypes: ['float' as const], fieldValues: [1] };
    expect(formatLineProtocol({ ...base, timestampMs: 1500.25 }, 'us')).toBe('m v=1 1500250');
    expect(formatLineProtocol({ ...base, timestampMs: -1.5 }, 'ns')).toBe('m v=1 -1500000');
    expect(formatLineProtocol({ ...base, timestampMs: 1_700_000_000_000 }, 's')).toBe('m v=1 1700000000');
    expect(formatLineProtocol({ ...base, timestampMs: 12 }, 'ms')).toBe('m v=1 12');
    expect(formatLineProtocol({ ...base, timestampMs: null })).toBe('m v=1');
    expect(formatLineProtocol({ ...base, fieldValues: [Infinity] })).toBe('');
    expect(formatLineProtocol({ ...base, fieldValues: [-0] })).toBe('m v=-0');
    expect(formatLineProtocol({ ...base, fieldTypes: ['integer'], fieldValues: [2 ** 70] })).toBe('m v=9223372036854775807i');
    expect(() => formatLineProtocol({ ...base, measurement: '#m' })).toThrow(BadRequestError);
    expect(() => formatLineProtocol({ ...base, measurement: '\tm' })).toThrow(/tab/);
    expect(formatLineProtocol({ ...base, measurement: ' m' })).toBe('\\ m v=1');
    expect(one(formatLineProtocol({ ...base, measurement: ' m' })).measurement).toBe(' m');
    expect(() => formatLineProtocol({ ...base, measurement: '' })).toThrow(BadRequestError);
    expect(() => formatLineProtocol({ ...base, tags: [['t', 'a\nb']] })).toThrow(/line break/);
  });

  const name = fc
    .string({ unit: fc.oneof(fc.constantFrom(' ', ',', '=', '\\', '"', '#', '\t', 'é', '✓'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
    .filter((s) => !/[\r\n]/.test(s));
  const fieldArb = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ['float', v] as [FieldType, FieldValue]),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map((v) => ['integer', v] as [FieldType, FieldValue]),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }).map((v) => ['uinteger', v] as [FieldType, FieldValue]),
    fc.boolean().map((v) => ['boolean', v] as [FieldType, FieldValue]),
    fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', ' ', ',', '='), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 20 }).map((v) => ['string', v] as [FieldType, FieldValue]),
  );

  it('round-trips random points through the parser, in every precision', () => {
    fc.assert(
      fc.property(
        name.filter((m) => !m.startsWith('#') && !m.startsWith('\t')),
        fc.uniqueArray(fc.tuple(name, name), { selector: (t) => t[0], maxLength: 5 }),
        fc.uniqueArray(fc.tuple(name, fieldArb), { selector: (t) => t[0], minLength: 1, maxLength: 6 }),
        fc.option(fc.integer({ min: -(2 ** 33), max: 2 ** 33 })),
        fc.constantFrom<Precision>('ns', 'us', 'ms', 's'),
        (measurement, tags, fields, ts, precision) => {
          const timestampMs = ts === null ? null : precision === 's' ? ts * 1000 : ts;
          const line = formatLineProtocol(
            {
              measurement,
              tags,
              fieldKeys: fields.map((f) => f[0]),
              fieldTypes: fields.map((f) => f[1][0]),
              fieldValues: fields.map((f) => f[1][1]),
              timestampMs,
            },
            precision,
          );
          // Two points per body, the second on the line after any newlines in the first.
          const body = line + '\n' + line + '\n';
          const { points, errors } = parse(body, precision);
          expect(errors).toEqual([]);
          expect(points.length).toBe(2);
          const p = points[1];
          expect(p.line).toBe(2 + (line.match(/\n/g)?.length ?? 0));
          expect(p.measurement).toBe(measurement);
          expect(p.tags).toEqual(tags);
          expect(p.timestampMs).toBe(timestampMs);
          expect(p.keys).toEqual(fields.map((f) => f[0]));
          for (const [k, [type, v]] of fields) {
            expect(p.fields[k][0]).toBe(type);
            expect(Object.is(p.fields[k][1], v) || (v === 0 && p.fields[k][1] === 0 && type !== 'float')).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
