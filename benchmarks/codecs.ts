// Throughput of the wire codecs on the ingest path: remote-write decode (snappy + protobuf),
// line-protocol parsing, sample-batch encode/decode, and the hot paths built on them (ingest's
// normaliser, the detector's sample-batch scan) next to the object-building decoders. One JSON object per case on stdout.
//
//   npx tsx benchmarks/codecs.ts [--seconds 2]

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import {
  BytesMap,
  decodeSampleBatch,
  decodeSeriesHead,
  decodeWriteRequest,
  encodeSampleBatch,
  encodeWriteRequest,
  parseLineProtocol,
  scanSampleBatch,
  snappyCompress,
  snappyDecompress,
  type LineProtocolPoint,
} from '../shared/codecs/index.js';
import { seriesKey, sortedLabels } from '../shared/model/labels.js';
import { KIND_GAUGE, type SeriesSamples } from '../shared/model/samples.js';
import { Normaliser } from '../services/ingest/normalise.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 2);
const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
const LIMIT = 64 << 20;

/** Runs `fn` repeatedly for about `seconds` (after a warm-up) and returns iterations per second. */
function measure(fn: () => number): { perSecond: number; iterations: number; check: number } {
  let check = 0;
  const warm = performance.now();
  while (performance.now() - warm < 300) check += fn();
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    check += fn();
    iterations++;
    elapsed = performance.now() - start;
  } while (elapsed < seconds * 1000);
  return { perSecond: (iterations * 1000) / elapsed, iterations, check };
}

function report(fields: Record<string, string | number>): void {
  console.log(JSON.stringify({ ...fields, ...machine }));
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

// --- remote-write -----------------------------------------------------------------------

function remoteWriteCase(name: string, body: Uint8Array): void {
  const raw = snappyDecompress(body, LIMIT);
  const samplesPerRequest = decodeWriteRequest(raw).samples;
  const full = measure(() => decodeWriteRequest(snappyDecompress(body, LIMIT)).samples);
  report({
    case: `remote-write decode (snappy + protobuf), ${name}`,
    series: decodeWriteRequest(raw).series.length,
    compressed_bytes: body.length,
    uncompressed_bytes: raw.length,
    requests_per_s: round(full.perSecond),
    compressed_mb_per_s: round((full.perSecond * body.length) / 1e6),
    uncompressed_mb_per_s: round((full.perSecond * raw.length) / 1e6),
    samples_per_s: Math.round(full.perSecond * samplesPerRequest),
    ns_per_sample: round(1e9 / (full.perSecond * samplesPerRequest)),
  });
  const snappy = measure(() => snappyDecompress(body, LIMIT).length);
  report({ case: `snappy decompress, ${name}`, uncompressed_mb_per_s: round((snappy.perSecond * raw.length) / 1e6) });
  const proto = measure(() => decodeWriteRequest(raw).samples);
  report({ case: `protobuf decode only, ${name}`, uncompressed_mb_per_s: round((proto.perSecond * raw.length) / 1e6), samples_per_s: Math.round(proto.perSecond * samplesPerRequest) });
}

const fixture = new Uint8Array(readFileSync(new URL('../test/fixtures/remote-write/many-series.snappy', import.meta.url)));
remoteWriteCase('real Prometheus fixture many-series', fixture);

// 10k series as Prometheus sends them: one sample per TimeSeries, node-exporter-like label sets.
const modes = ['idle', 'user', 'system', 'iowait', 'irq', 'softirq', 'steal', 'nice'];
const synthetic = encodeWriteRequest({
  series: Array.from({ length: 10_000 }, (_, i) => ({
    labels: [
      ['__name__', i % 3 === 0 ? 'node_cpu_seconds_total' : i % 3 === 1 ? 'node_network_receive_bytes_total' : 'node_filesystem_avail_bytes'],
      ['cluster', `prod-eu-${i % 65}`],
      ['cpu', String(i % 32)],
      ['env', 'production'],
      ['instance', `host-${(i >> 5) % 400}.trading.example:9100`],
      ['job', 'node'],
      ['mode', modes[i % 8]],
      ['service', `svc-${i % 120}`],
    ] as [string, string][],
    timestamps: [1_700_000_000_000 + (i % 15) * 1000],
    values: [Math.random() * 1e6],
  })),
});
const syntheticBody = snappyCompress(synthetic);
remoteWriteCase('synthetic 10k series', syntheticBody);

{
  const c = measure(() => snappyCompress(synthetic).length);
  report({
    case: 'snappy compress, synthetic 10k series',
    uncompressed_mb_per_s: round((c.perSecond * synthetic.length) / 1e6),
    ratio: round(synthetic.length / syntheticBody.length, 2),
  });
}

// --- line protocol -------------------------------------------------------------------------

function telegrafBody(lines: number): string {
  const out: string[] = [];
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < lines; i++) {
    const host = `host-${i % 500}`;
    const common = `cluster=prod-eu-${i % 65},dc=fra${i % 3},env=production,host=${host},region=eu-central-1`;
    const t = (ts += 1_000_000n);
    switch (i % 3) {
      case 0:
        out.push(
          `cpu,cpu=cpu${i % 32},${common} usage_guest=0,usage_guest_nice=0,usage_idle=${(90 + (i % 97) / 10).toFixed(13)},usage_iowait=0.100502512562814,usage_irq=0,usage_nice=0,usage_softirq=0.0502512562814070,usage_steal=0,usage_system=${(1 + (i % 13) / 7).toFixed(15)},usage_user=${(3 + (i % 29) / 3).toFixed(14)} ${t}`,
        );
        break;
      case 1:
        out.push(
          `mem,${common},service=svc-${i % 120} active=${4_000_000_000 + i}i,available=${12_000_000_000 + i * 7}i,available_percent=${(70 + (i % 300) / 11).toFixed(14)},buffered=${200_000_000 + i}i,cached=${3_000_000_000 + i}i,free=${8_000_000_000 - i}i,total=16777216000i,used=${5_000_000_000 + i}i,used_percent=${(30 - (i % 300) / 11).toFixed(14)} ${t}`,
        );
        break;
      default:
        out.push(
          `disk,device=nvme0n1p${i % 4},fstype=ext4,mode=rw,path=/var/lib/data${i % 4},${common} free=${900_000_000_000 - i}i,inodes_free=${60_000_000 - i}u,inodes_total=61054976u,inodes_used=${1_000_000 + i}u,total=1000204886016i,used=${100_000_000_000 + i}i,used_percent=${(10 + (i % 500) / 13).toFixed(14)} ${t}`,
        );
    }
  }
  return out.join('\n') + '\n';
}

{
  const lines = 30_000;
  const body = telegrafBody(lines);
  const bytes = Buffer.byteLength(body);
  let fields = 0;
  const onPoint = (p: LineProtocolPoint) => {
    fields += p.fieldKeys.length;
  };
  const r = measure(() => {
    const res = parseLineProtocol(body, 'ns', onPoint);
    if (res.errors.length > 0) throw new Error(res.errors[0].message);
    return res.points;
  });
  report({
    case: 'line-protocol parse, synthetic Telegraf cpu/mem/disk (7-10 tags, 7-10 fields)',
    lines_per_body: lines,
    body_bytes: bytes,
    lines_per_s: Math.round(r.perSecond * lines),
    mb_per_s: round((r.perSecond * bytes) / 1e6),
    fields_per_s: Math.round((fields / (r.iterations + 1)) * r.perSecond),
    ns_per_line: round(1e9 / (r.perSecond * lines)),
  });
}

// --- sample batches ------------------------------------------------------------------------

{
  const series: SeriesSamples[] = [];
  for (let i = 0; i < 2000; i++) {
    const labels = sortedLabels([
      ['__name__', 'node_cpu_seconds_total'],
      ['cpu', String(i % 32)],
      ['instance', `host-${i >> 5}:9100`],
      ['mode', modes[i % 8]],
    ]);
    const n = 10;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      ts[k] = 1_700_000_000_000 + k * 15_000;
      vs[k] = i * 100 + k;
    }
    series.push({ key: seriesKey(labels), labels, host: `host-${i >> 5}`, kind: KIND_GAUGE, stale: false, timestamps: ts, values: vs });
  }
  const samples = series.length * 10;
  const batch = { series };
  const encoded = encodeSampleBatch(batch);
  const enc = measure(() => encodeSampleBatch(batch).length);
  report({ case: 'sample-batch encode, 2000 series x 10 samples', bytes: encoded.length, samples_per_s: Math.round(enc.perSecond * samples), mb_per_s: round((enc.perSecond * encoded.length) / 1e6) });
  const dec = measure(() => decodeSampleBatch(encoded).series.length);
  report({ case: 'sample-batch decode (copy), 2000 series x 10 samples', samples_per_s: Math.round(dec.perSecond * samples), mb_per_s: round((dec.perSecond * encoded.length) / 1e6) });
}

// --- hot paths, one sample per series (as Prometheus sends) --------------------------------

{
  // The e2e fleet's shape: 2000 series per request, 4 labels, seen again every tick.
  const fleet = Array.from({ length: 2000 }, (_, i) => [
    ['__name__', `node_metric_${i % 25}`], ['cluster', `c${String(i >> 7).padStart(3, '0')}`], ['host', `c${String(i >> 7).padStart(3, '0')}-h${(i >> 5) & 3}`], ['job', 'node'],
  ] as [string, string][]);
  const body = encodeWriteRequest({ series: fleet.map((labels, i) => ({ labels, timestamps: [1_700_000_000_000], values: [i] })) });
  const n = fleet.length;
  const normaliser = new Normaliser({ hostLabels: ['host'], counterSuffixes: ['_total'] });
  let sent = 0;
  const fast = measure(() => {
    normaliser.addRemoteWrite(body);
    const batch = normaliser.take();
    sent = batch.encode(batch.hosts.map((_, h) => h)).length;
    return sent;
  });
  report({ case: 'ingest: remote-write body -> sample batch, Normaliser (label-bytes cache, encoded identities), 2000 series x 1 sample', samples_per_s: Math.round(fast.perSecond * n), ns_per_sample: round(1e9 / (fast.perSecond * n)) });
  normaliser.addRemoteWrite(body);
  const once = normaliser.take();
  const encoded = once.encode(once.hosts.map((_, h) => h));
  const heads = new BytesMap<{ key: string; host: string }>();
  const scan = measure(() => {
    let sum = 0;
    scanSampleBatch(encoded, {
      series: (buf, hs, he, _kind, _stale, cols, at, k) => {
        let id = heads.get(buf, hs, he);
        if (id === undefined) heads.set(buf, hs, he, (id = decodeSeriesHead(buf, hs, he)));
        for (let j = 0; j < k; j++) sum += cols[at + k + j];
      },
    });
    return sum;
  });
  report({ case: 'detector: sample batch -> series, scanSampleBatch + identity cache, 2000 series x 1 sample', bytes: encoded.length, samples_per_s: Math.round(scan.perSecond * n), ns_per_sample: round(1e9 / (scan.perSecond * n)) });
  const dec = measure(() => decodeSampleBatch(encoded).series.length);
  report({ case: 'detector: sample batch -> series, decodeSampleBatch (objects), 2000 series x 1 sample', samples_per_s: Math.round(dec.perSecond * n), ns_per_sample: round(1e9 / (dec.perSecond * n)) });
}
