// Seed corpus of the decoder fuzz suite: real captures (Prometheus remote-write, Kafka
// compression fixtures), line-protocol spec cases including the nasty ones, and small valid
// inputs of every binary format, plus hand-made hostile inputs per decoder.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  RAW_FORMAT_LINE_PROTOCOL, RAW_FORMAT_REMOTE_WRITE, encodeRawPayload, encodeSampleBatch, encodeWriteRequest,
  snappyCompress, snappyDecompress,
} from '../../shared/codecs/index.js';
import { KIND_COUNTER, KIND_GAUGE } from '../../shared/model/samples.js';
import { concat, varint } from './mutate.js';

const fixture = (rel: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url))));
const text = (s: string) => new TextEncoder().encode(s);
const bytes = (...xs: (number | Uint8Array)[]) => concat(...xs.map((x) => (typeof x === 'number' ? Uint8Array.of(x) : x)));
const repeat = (part: Uint8Array, n: number) => {
  const out = new Uint8Array(part.length * n);
  for (let i = 0; i < n; i++) out.set(part, i * part.length);
  return out;
};

export const MAX_DECODED = 256 * 1024 * 1024;

export const REMOTE_WRITE_CAPTURES = ['many-series', 'stale-markers', 'target-down', 'metadata-only'].map((n) => fixture(`remote-write/${n}.snappy`));

const t0 = 1_700_000_000_000;
const SMALL_WRITE_REQUESTS = [
  encodeWriteRequest({ series: [{ labels: [['__name__', 'up'], ['instance', 'h:9100'], ['job', 'node']], timestamps: [t0], values: [1] }] }),
  encodeWriteRequest({
    series: [
      { labels: [['__name__', 'node_cpu_seconds_total'], ['cpu', '0'], ['mode', 'idle']], timestamps: [t0, t0 + 15_000, t0 + 30_000], values: [1.5, NaN, -0] },
      { labels: [['__name__', 'é'], ['a', '']], timestamps: [-1, 2 ** 53], values: [Infinity, -Infinity] },
    ],
    metadata: [{ type: 'counter', family: 'node_cpu_seconds_total', help: 'Seconds the CPUs spent in each mode.', unit: 'seconds' }],
  }),
  encodeWriteRequest({ series: [], metadata: [{ type: 'histogram', family: 'h', help: '', unit: '' }] }),
  // Exemplar (field 3), histogram (field 4) and an unknown field (9) the decoder skips.
  bytes(0x0a, 0x12, 0x0a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x1a, 0x02, 0x09, 0x00, 0x22, 0x02, 0x08, 0x01, 0x48, 0x05),
];

export function writeRequestCorpus(): Uint8Array[] {
  return [...REMOTE_WRITE_CAPTURES.map((c) => snappyDecompress(c, MAX_DECODED)), ...SMALL_WRITE_REQUESTS];
}

export function snappyCorpus(): Uint8Array[] {
  return [
    ...REMOTE_WRITE_CAPTURES,
    ...SMALL_WRITE_REQUESTS.map((r) => snappyCompress(r)),
    snappyCompress(text('node_cpu_seconds_total'.repeat(200))),
    snappyCompress(new Uint8Array(5000)),
    snappyCompress(text('a')),
    snappyCompress(new Uint8Array(0)),
  ];
}

export function remoteWriteAdversarial(): { name: string; input: Uint8Array }[] {
  const emptySeries = bytes(0x0a, 0x00);
  const emptyLabel = bytes(0x0a, 0x00);
  const manyLabels = repeat(emptyLabel, 200_000);
  return [
    { name: 'length 2^32-1', input: bytes(0x0a, varint(2n ** 32n - 1n), 0x0a, 0x00) },
    { name: 'length past the end', input: bytes(0x0a, 0x7f, 0x0a, 0x00) },
    { name: '11-byte varint tag', input: bytes(new Uint8Array(10).fill(0xff), 0x01) },
    { name: 'field number 0', input: bytes(0x02, 0x00) },
    { name: 'wire type 7', input: bytes(0x0f, 0x00) },
    { name: 'groups nested 200k deep', input: concat(repeat(bytes(0x2b), 200_000), repeat(bytes(0x2c), 200_000)) },
    { name: 'unclosed group', input: repeat(bytes(0x2b), 1000) },
    { name: 'group closed by another field', input: bytes(0x2b, 0x34) },
    { name: '1M empty series', input: repeat(emptySeries, 1_000_000) },
    { name: 'one series with 200k empty labels', input: bytes(0x0a, varint(BigInt(manyLabels.length)), manyLabels) },
    { name: 'sample with a 10-byte timestamp', input: bytes(0x0a, 0x0d, 0x12, 0x0b, 0x10, new Uint8Array(9).fill(0xff), 0x01) },
    { name: 'sample with an overlong timestamp', input: bytes(0x0a, 0x0e, 0x12, 0x0c, 0x10, new Uint8Array(11).fill(0xff)) },
    { name: 'metadata type 2^32-1', input: bytes(0x1a, 0x06, 0x08, varint(2n ** 32n - 1n)) },
  ];
}

export function snappyAdversarial(): { name: string; input: Uint8Array }[] {
  // A valid block of 1 MiB of zeros: the densest snappy gets (about 21x).
  const dense = snappyCompress(new Uint8Array(1 << 20));
  return [
    { name: 'preamble claims 4 GiB, no body', input: varint(2n ** 32n - 1n) },
    { name: 'preamble claims 255 MiB, 10 bytes of body', input: bytes(varint(255n * 1024n * 1024n), 0x24, ...text('abcdefghij')) },
    { name: 'preamble claims 255 MiB, copies till the end', input: bytes(varint(255n * 1024n * 1024n), 0x00, 0x61, repeat(bytes(0xfe, 0x01, 0x00), 3000)) },
    { name: 'preamble past 32 bits', input: bytes(0xff, 0xff, 0xff, 0xff, 0x1f) },
    { name: 'literal length 2^32-1', input: bytes(0x05, 0xfc, 0xff, 0xff, 0xff, 0xff) },
    { name: 'copy offset 0', input: bytes(0x08, 0x00, 0x61, 0x01, 0x00) },
    { name: 'copy before the start', input: bytes(0x08, 0x00, 0x61, 0x01, 0x05) },
    { name: 'dense valid block (1 MiB of zeros)', input: dense },
  ];
}

const LP_SPEC_CASES = [
  'myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000',
  'myMeasurement fieldKey="fieldValue"',
  'm f=1.5,i=-3i,u=42u,s="str",b=true,B=F 1',
  'm f=1e10,g=-1.5E-3,h=.5,j=5.,k=-0',
  'm i=9223372036854775807i,j=-9223372036854775808i,u=18446744073709551615u',
  'm i=9223372036854775808i',
  'my\\ Measurement fieldKey="string value"',
  'my\\,Measurement f=1',
  'myMeasurement,tag\\ Key1=tag\\ Value1,tag\\,Key2=tag\\,Value2,tag\\=Key3=tag\\=Value3 field\\ Key="v",field\\,Key2=2,field\\=Key3=3',
  'm s="too hot, \\"cool\\" = fine"',
  'm s="C:\\\\Windows\\\\"',
  'air\\\\\\\\\\Sensor,sensor_id=TLM\\=0201 desc="\\\\\\"==My data==\\\\"',
  '温度,地点=北京 値=25.5,說明="☀️ sunny" 1',
  'm,host=a s="first\nsecond = x, y",v=1 1\nm v=2 2\n',
  '# a comment\r\n\r\n   \ncpu,host=a usage=1 10\r\n  # indented comment\n  cpu,host=b usage=2   \n\ncpu usage=3 30   \r\n',
  'm a=1,b=2,a=3',
  'm a=1,a="x"',
  'm,t=1,t=2 f=1',
  'm f=1 -1',
  'm f=1 9223372036854775807',
  'm f=1 9223372036854775808',
  'm f=1 1.5',
  'm f=NaN',
  'm f=Inf',
  'm b=tRUE',
  'm',
  'm,',
  'm,t',
  'm,t=',
  'm f',
  'm f=',
  'm f="unterminated',
  'm f="a"x',
  ',t=1 f=1',
  'm\\ f=1',
  'm f=1 1 2',
  'cpu,host=web-001,cluster=c1 usage_user=91.9,usage_system=4.4 1700000015000000000',
  'disk,device=sda1,fstype=ext4,host=h1,mode=rw,path=/ free=1234567i,inodes_free=98765i,total=9999999999i,used_percent=42.5 1700000000000000000',
];

export function lineProtocolCorpus(): Uint8Array[] {
  const telegraf = new TextDecoder().decode(fixture('kafka-compression/lines.txt'));
  return [...LP_SPEC_CASES.map(text), text(LP_SPEC_CASES.join('\n')), text(telegraf.slice(0, 8000)), text(telegraf)];
}

export function lineProtocolAdversarial(): { name: string; input: Uint8Array }[] {
  const n = 200_000;
  let tags = 'm';
  for (let i = 0; i < n; i++) tags += `,t${i}=v`;
  let fields = 'm ';
  for (let i = 0; i < n; i++) fields += `${i === 0 ? '' : ','}f${i}=1`;
  return [
    { name: `${n} distinct tags on one line`, input: text(tags + ' f=1 1') },
    { name: `${n} distinct fields on one line`, input: text(fields + ' 1') },
    { name: '500k bad lines', input: text('x\n'.repeat(500_000)) },
    { name: '1 MiB of backslashes', input: text('\\'.repeat(1 << 20)) },
    { name: 'unterminated string over 100k lines', input: text('m s="' + 'a\n'.repeat(100_000)) },
    { name: '1 MiB measurement', input: text('m'.repeat(1 << 20) + ' f=1') },
    { name: 'very long number', input: text('m f=' + '9'.repeat(1 << 20)) },
    { name: 'huge exponent', input: text('m f=1e' + '9'.repeat(100_000)) },
    { name: 'bad timestamps on many lines', input: text('m f=1 x\n'.repeat(100_000)) },
  ];
}

export function rawEnvelopeCorpus(): Uint8Array[] {
  return [
    encodeRawPayload(RAW_FORMAT_REMOTE_WRITE, 'ms', t0, REMOTE_WRITE_CAPTURES[2]),
    encodeRawPayload(RAW_FORMAT_LINE_PROTOCOL, 'ns', t0, text(LP_SPEC_CASES[0])),
    encodeRawPayload(RAW_FORMAT_LINE_PROTOCOL, 's', -1, new Uint8Array(0)),
  ];
}

export function sampleBatchCorpus(): Uint8Array[] {
  const s = (key: string, n: number, kind: 0 | 1 = KIND_GAUGE) => ({
    key,
    labels: Object.freeze({ __name__: key, host: 'h1', job: 'node' }),
    host: 'h1',
    kind,
    timestamps: Float64Array.from({ length: n }, (_, i) => t0 + i * 15_000),
    values: Float64Array.from({ length: n }, (_, i) => Math.sin(i)),
    stale: n === 0,
  });
  return [
    encodeSampleBatch({ series: [s('a', 3), s('b_total', 1, KIND_COUNTER)] }),
    encodeSampleBatch({ series: [s('é', 0)] }),
    encodeSampleBatch({ series: Array.from({ length: 50 }, (_, i) => s(`m${i}`, i % 7)) }),
    encodeSampleBatch({ series: [] }),
  ];
}

export function sampleBatchAdversarial(): { name: string; input: Uint8Array }[] {
  const header = (count: number) => {
    const h = new Uint8Array(8);
    h[0] = 1;
    new DataView(h.buffer).setUint32(4, count, true);
    return h;
  };
  return [
    { name: 'series count 2^32-1', input: concat(header(0xffffffff), new Uint8Array(64)) },
    { name: 'label count 2^28', input: concat(header(1), bytes(0, 0, 0, 0, varint(2n ** 28n)), new Uint8Array(64)) },
    { name: 'sample count 2^32-1', input: concat(header(1), bytes(0, 0, 0, 0, 0, varint(2n ** 32n - 1n)), new Uint8Array(64)) },
    { name: 'string length 2^32-1', input: concat(header(1), bytes(0, 0, varint(2n ** 32n - 1n)), new Uint8Array(64)) },
    { name: 'label named __proto__', input: encodeSampleBatch({ series: [{ key: 'k', labels: JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>, host: '', kind: KIND_GAUGE, timestamps: new Float64Array(1), values: new Float64Array(1), stale: false }] }) },
  ];
}

export function nabDataCorpus(): Uint8Array[] {
  return [
    text('timestamp,value\n2015-02-26 21:42:53,3.1\n2015-02-26 21:47:53,4\n2015-02-26 21:52:53,-1e3\n'),
    text('value,timestamp,extra\n5,2014-04-10 00:00:00.123456,x\r\n6,2014-04-10 00:05:00,y\r\n'),
    text('timestamp,value\n'),
  ];
}

export function nabResultsCorpus(): Uint8Array[] {
  return [
    text('timestamp,value,anomaly_score,label\n2015-02-26 21:42:53,3.1,0.5,0\n2015-02-26 21:47:53,4,0.999999999999,1\n'),
    text('timestamp,value,anomaly_score,label\n2015-02-28 00:00:00,1,0,0\n'),
  ];
}

export function nabWindowsCorpus(): Uint8Array[] {
  return [
    text('{"realTweets/Twitter_volume_KO.csv": [["2015-03-05 19:47:53.000000", "2015-03-07 08:47:53.000000"]], "a/b.csv": []}'),
    text('{}'),
  ];
}

export function nabAdversarial(): { name: string; input: Uint8Array }[] {
  const deep = 100_000;
  return [
    { name: 'windows: arrays nested 100k deep', input: text(`{"a.csv": [${'['.repeat(deep)}${']'.repeat(deep)}]}`) },
    { name: 'windows: objects nested 100k deep', input: text(`{"a.csv": ${'{"x":'.repeat(deep)}1${'}'.repeat(deep)}}`) },
    { name: 'windows: 1 MiB file name', input: text(`{"${'a'.repeat(1 << 20)}": 1}`) },
    { name: 'csv: 200k columns', input: text('timestamp,value' + ',x'.repeat(200_000) + '\n2015-02-26 21:42:53,1\n') },
    { name: 'csv: 1 MiB cell', input: text('timestamp,value\n2015-02-26 21:42:53,' + '1'.repeat(1 << 20) + '\n') },
  ];
}

export const CONFIG_YAML = `server:
  host: 127.0.0.1
  port: 9741
  maxBodyBytes: 1048576
log:
  level: warn
ingest:
  hostLabels: [host, instance]
  defaultPrecision: ms
detector:
  window: 32
  minDuration: 1m30s
  openScore: 0.9
  closeScore: 0.5
alertmanager:
  url:
    - http://127.0.0.1:9093
  resendInterval: 1m
bus:
  partitions: 4
`;

export function configYamlCorpus(): Uint8Array[] {
  return [text(CONFIG_YAML), text('detector: {window: 16}\n'), text('# empty\n'), text('server:\n  port: "9740"\nsink:\n  kind: none\n')];
}

export function configYamlAdversarial(): { name: string; input: Uint8Array }[] {
  const deep = 50_000;
  let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 1; i < 12; i++) bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${new Array(10).fill('*' + String.fromCharCode(96 + i)).join(',')}]\n`;
  return [
    { name: 'flow sequences nested 50k deep', input: text('detector: ' + '['.repeat(deep) + ']'.repeat(deep) + '\n') },
    { name: 'mappings nested 50k deep', input: text('server: ' + '{a: '.repeat(deep) + '1' + '}'.repeat(deep) + '\n') },
    { name: 'alias expansion bomb', input: text(bomb + 'server:\n  host: *l\n') },
    { name: 'list value nested 20k deep', input: text('alertmanager:\n  url: ' + '['.repeat(20_000) + ']'.repeat(20_000) + '\n') },
    { name: 'objects leaf nested 20k deep', input: text('pagerduty:\n  routes: ' + '['.repeat(20_000) + ']'.repeat(20_000) + '\n') },
    { name: '1 MiB key', input: text('x'.repeat(1 << 20) + ': 1\n') },
  ];
}
