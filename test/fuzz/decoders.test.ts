// Fuzz suite for every decoder on a path hostile bytes can reach: remote-write (snappy,
// protobuf), line protocol, raw envelopes, sample batches, NAB files, config (YAML and env)
// and the Kafka compression codecs. Each runs hand-made hostile inputs, then seeded random
// mutations of a real corpus, and must only ever answer with a coded error, in bounded time
// and memory. The seed is printed; replay a run with FORESHOCK_FUZZ_SEED=<seed>, run longer
// with FORESHOCK_FUZZ_CASES=<total cases>.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeRawPayload, decodeSampleBatch, decodeWriteRequest, parseCombinedWindows, parseLineProtocol, parseNabDataCsv,
  parseNabResultsCsv, snappyCompress, snappyDecompress, type Precision,
} from '../../shared/codecs/index.js';
import { lz4FrameDecompress } from '../../shared/codecs/lz4-frame.js';
import { xerialSnappyDecompress } from '../../shared/codecs/xerial-snappy.js';
import { zstdDecompress } from '../../shared/codecs/zstd.js';
import { loadConfig } from '../../shared/config/index.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  MAX_DECODED, REMOTE_WRITE_CAPTURES, configYamlAdversarial, configYamlCorpus, lineProtocolAdversarial, lineProtocolCorpus,
  nabAdversarial, nabDataCorpus, nabResultsCorpus, nabWindowsCorpus, rawEnvelopeCorpus, remoteWriteAdversarial,
  sampleBatchAdversarial, sampleBatchCorpus, snappyAdversarial, snappyCorpus, writeRequestCorpus,
} from './corpus.js';
import { fuzzCases, fuzzSeed, runFuzz, type FuzzReport, type FuzzTarget } from './harness.js';
import { BYTE_MUTATORS, TEXT_MUTATORS, concat, varint } from './mutate.js';

const SEED = fuzzSeed();
/** The default limits, as the receiver applies them. */
const LIMITS = loadConfig({ env: {} }).config.limits;
const RW_LIMITS = { maxSeries: LIMITS.seriesPerRequest, maxSamples: LIMITS.samplesPerRequest, maxLabelsPerSeries: LIMITS.labelsPerSeries };
/** Mutated cases over all decoders (adversarial inputs come on top). */
const TOTAL = fuzzCases(12_000);
console.log(`decoder fuzz: seed ${SEED}, ${TOTAL} mutated cases (replay: FORESHOCK_FUZZ_SEED=${SEED} FORESHOCK_FUZZ_CASES=${TOTAL})`);

const WEIGHTS = {
  snappy: 1500, protobuf: 2000, remoteWrite: 800, lineProtocol: 2500, rawEnvelope: 300, sampleBatch: 1200,
  nabData: 500, nabResults: 300, nabWindows: 400, configYaml: 500, configEnv: 400, xerial: 500, lz4: 550, zstd: 550,
};
const WEIGHT_SUM = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
const cases = (k: keyof typeof WEIGHTS) => Math.max(1, Math.round((TOTAL * WEIGHTS[k]) / WEIGHT_SUM));

const ALL_BYTES = { ...BYTE_MUTATORS };
const ALL_TEXT = { ...BYTE_MUTATORS, ...TEXT_MUTATORS };
const utf8 = new TextDecoder();
const PRECISIONS: Precision[] = ['ns', 'us', 'ms', 's'];
const kafkaFixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/kafka-compression/${name}`, import.meta.url))));

const reports: FuzzReport[] = [];
let checkedCases = 0;

function fuzz(target: FuzzTarget): void {
  const report = runFuzz(target, SEED);
  reports.push(report);
  checkedCases += report.cases;
  const failures = report.failures.map((f) => `  case ${f.case} [${f.ops.join(', ')}]: ${f.reason}\n    input saved to ${f.file}`).join('\n');
  expect(report.failures, `${target.name} (FORESHOCK_FUZZ_SEED=${SEED}):\n${failures}`).toEqual([]);
}

afterAll(() => {
  for (const r of reports) {
    console.log(JSON.stringify({ fuzz: r.name, seed: r.seed, cases: r.cases, accepted: r.accepted, rejected: r.rejected, max_ms: Math.round(r.maxMs), max_growth_mb: Math.round(r.maxGrowthBytes / 1e5) / 10 }));
  }
});

describe(`decoder fuzz (seed ${SEED})`, () => {
  it('snappy block decoder', () => {
    fuzz({
      name: 'snappy',
      run: (x) => snappyDecompress(x, MAX_DECODED),
      corpus: snappyCorpus(),
      mutators: ALL_BYTES,
      adversarial: snappyAdversarial(),
      cases: cases('snappy'),
      bytesPerInputByte: 24,
      check: (out, x) => ((out as Uint8Array).length > 22 * x.length + 64 ? `decoded ${(out as Uint8Array).length} bytes from ${x.length}` : null),
    });
  });

  it('protobuf WriteRequest decoder', () => {
    fuzz({
      name: 'protobuf WriteRequest',
      run: (x) => decodeWriteRequest(x),
      corpus: writeRequestCorpus(),
      mutators: ALL_BYTES,
      adversarial: remoteWriteAdversarial(),
      cases: cases('protobuf'),
    });
  });

  it('remote-write body (snappy, then protobuf with the default limits)', () => {
    fuzz({
      name: 'remote-write body',
      run: (x) => decodeWriteRequest(snappyDecompress(x, MAX_DECODED), RW_LIMITS),
      corpus: [...REMOTE_WRITE_CAPTURES, ...snappyCorpus()],
      mutators: ALL_BYTES,
      adversarial: remoteWriteAdversarial().map((a) => ({ name: a.name, input: snappyCompress(a.input) })),
      cases: cases('remoteWrite'),
    });
  });

  it('line protocol parser', () => {
    fuzz({
      name: 'line protocol',
      run: (x) => {
        let fields = 0;
        const r = parseLineProtocol(utf8.decode(x), PRECISIONS[x.length & 3], (p) => {
          fields += p.fieldKeys.length + p.tags.length;
        });
        return { r, fields };
      },
      corpus: lineProtocolCorpus(),
      mutators: ALL_TEXT,
      adversarial: lineProtocolAdversarial(),
      cases: cases('lineProtocol'),
      // Good lines reuse one point object: what a parse keeps is the first errors only.
      bytesPerInputByte: 48,
    });
  });

  it('raw payload envelope', () => {
    fuzz({ name: 'raw envelope', run: (x) => decodeRawPayload(x), corpus: rawEnvelopeCorpus(), mutators: ALL_BYTES, cases: cases('rawEnvelope') });
  });

  it('sample batch decoder (copying and aliasing)', () => {
    fuzz({
      name: 'sample batch',
      run: (x) => decodeSampleBatch(x, { alias: (x.length & 1) === 0 }),
      corpus: sampleBatchCorpus(),
      mutators: ALL_BYTES,
      adversarial: sampleBatchAdversarial(),
      cases: cases('sampleBatch'),
    });
  });

  it('NAB data CSV, results CSV and label windows', () => {
    const adversarial = nabAdversarial();
    fuzz({ name: 'NAB data CSV', run: (x) => parseNabDataCsv(utf8.decode(x)), corpus: nabDataCorpus(), mutators: ALL_TEXT, adversarial: adversarial.filter((a) => a.name.startsWith('csv')), cases: cases('nabData') });
    fuzz({ name: 'NAB results CSV', run: (x) => parseNabResultsCsv(utf8.decode(x)), corpus: nabResultsCorpus(), mutators: ALL_TEXT, cases: cases('nabResults') });
    fuzz({ name: 'NAB windows JSON', run: (x) => parseCombinedWindows(utf8.decode(x)), corpus: nabWindowsCorpus(), mutators: ALL_TEXT, adversarial: adversarial.filter((a) => a.name.startsWith('windows')), cases: cases('nabWindows') });
  });

  describe('config loading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'foreshock-fuzz-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'foreshock.yaml');

    it('YAML file', () => {
      fuzz({
        name: 'config YAML',
        run: (x) => {
          writeFileSync(file, x);
          return loadConfig({ file, env: {} });
        },
        corpus: configYamlCorpus(),
        mutators: ALL_TEXT,
        adversarial: configYamlAdversarial(),
        cases: cases('configYaml'),
        statuses: [500],
        // The YAML library builds a document tree before our checks: nodes cost more than bytes.
        bytesPerInputByte: 400,
      });
    });

    it('FORESHOCK_* environment', () => {
      const envText = (x: Uint8Array) => {
        const env: Record<string, string> = {};
        for (const line of utf8.decode(x).split('\n')) {
          const eq = line.indexOf('=');
          if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
        }
        return env;
      };
      const enc = (s: string) => new TextEncoder().encode(s);
      const deepJson = '['.repeat(50_000) + ']'.repeat(50_000);
      fuzz({
        name: 'config env',
        run: (x) => loadConfig({ env: envText(x) }),
        corpus: [
          enc('FORESHOCK_SERVER_PORT=9741\nFORESHOCK_ALERTMANAGER_URL=http://a:9093, http://b:9093\nFORESHOCK_DETECTOR_MIN_DURATION=1m30s\nFORESHOCK_LOG_LEVEL=warn'),
          enc('FORESHOCK_INGEST_HOST_LABELS=host,instance\nFORESHOCK_DETECTOR_OPEN_SCORE=0.95\nFORESHOCK_SERVER_MAX_BODY_BYTES=65536'),
          enc('FORESHOCK_PAGERDUTY_ROUTES=[{"name":"p","routingKey":"k","match":{"severity":"critical"}}]'),
        ],
        mutators: ALL_TEXT,
        adversarial: [
          { name: 'routes as JSON nested 50k deep', input: enc(`FORESHOCK_PAGERDUTY_ROUTES=${deepJson}`) },
          { name: 'runbook rules as JSON nested 50k deep', input: enc(`FORESHOCK_RUNBOOKS_RULES=[{"id":"a","url":${deepJson}}]`) },
          { name: '1 MiB duration', input: enc(`FORESHOCK_DETECTOR_MIN_DURATION=${'1h'.repeat(1 << 19)}`) },
          { name: '1 MiB number', input: enc(`FORESHOCK_SERVER_PORT=${'9'.repeat(1 << 20)}`) },
        ],
        cases: cases('configEnv'),
        statuses: [500],
        bytesPerInputByte: 400,
      });
    });
  });

  describe('Kafka compression codecs', () => {
    it('xerial / bare snappy', () => {
      fuzz({
        name: 'xerial snappy',
        run: (x) => xerialSnappyDecompress(x, MAX_DECODED),
        corpus: [kafkaFixture('lines.xerial-snappy'), kafkaFixture('lines.snappy'), ...snappyCorpus().slice(4)],
        mutators: ALL_BYTES,
        adversarial: [
          { name: 'block length 2^31-1', input: concat(Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff), new Uint8Array(16)) },
          { name: 'block claiming 255 MiB', input: concat(Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 6), varint(255n << 20n), Uint8Array.of(0, 0x61)) },
        ],
        cases: cases('xerial'),
        bytesPerInputByte: 24,
      });
    });

    it('lz4 frames', () => {
      fuzz({
        name: 'lz4 frame',
        run: (x) => lz4FrameDecompress(x, MAX_DECODED),
        corpus: [kafkaFixture('lines.lz4'), kafkaFixture('lines-blockchecksum-linked.lz4'), kafkaFixture('lines-hc.lz4')],
        mutators: ALL_BYTES,
        cases: cases('lz4'),
        // LZ4 expands at most 255x; checksums make a mutated frame that expands that far rare.
        bytesPerInputByte: 300,
      });
    });

    it('zstd frames', () => {
      // Frame header: magic, descriptor with a window descriptor byte, then one raw block.
      const frame = (descriptor: number[], block: number[]) => Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, ...descriptor, ...block);
      fuzz({
        name: 'zstd',
        run: (x) => zstdDecompress(x, MAX_DECODED),
        corpus: [kafkaFixture('lines.zst'), kafkaFixture('lines-stream.zst')],
        mutators: ALL_BYTES,
        adversarial: [
          { name: 'window 2 GiB, tiny block', input: frame([0x00, 0xf8], [0x09, 0x00, 0x00, 0x61]) },
          { name: 'content size 2^40, tiny block', input: frame([0xc0, 0, 0, 0, 0, 0, 1, 0, 0], [0x09, 0x00, 0x00, 0x61]) },
          { name: 'RLE block of 2 MiB - 1', input: frame([0x00, 0x58], [0xfb, 0xff, 0x3f, 0x61]) },
          // fzstd allocates the announced window up front: 10 bytes asking for 1 GiB must be refused first.
          { name: 'window 1 GiB, tiny block', input: frame([0x00, 0xa0], [0x09, 0x00, 0x00, 0x61]) },
          { name: 'single segment of 1 GiB, tiny block', input: frame([0xa0, 0x00, 0x00, 0x00, 0x40], [0x09, 0x00, 0x00, 0x61]) },
          { name: 'second frame with a 1 GiB window', input: concat(frame([0x00, 0x58], [0x09, 0x00, 0x00, 0x61]), frame([0x00, 0xa0], [0x09, 0x00, 0x00, 0x61])) },
        ],
        cases: cases('zstd'),
        // fzstd allocates a window per frame and decodes at a few MB/s: concatenated frames
        // (the `repeat` mutation) cost time and garbage per output byte, bounded by maxOutput.
        outputBytes: (r) => (r as Uint8Array).length,
        bytesPerOutputByte: 64,
        bytesPerInputByte: 1000,
      });
    });
  });

  it(`ran at least the requested ${TOTAL} mutated cases`, () => {
    expect(checkedCases).toBeGreaterThanOrEqual(TOTAL);
  });
});
