// NAB benchmark (`npm run bench:nab`): runs a detector over every file of the NAB dev half,
// scores it with our port of NAB's scorer and, in the same run, rescores the published
// reference detectors, printing one JSON line per detector and profile.
//
//   npm run bench:nab -- [--detector foreshock|zscore] [--nab-dir DIR] [--out DIR] [--full-precision]

import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import {
  createDetector,
  DETECTOR_NAMES,
  listResultDetectors,
  loadDetectorResults,
  loadNabCorpus,
  NAB_DIR_ENV,
  NAB_SCORE_DIGITS,
  resolveNabDir,
  resultsPath,
  roundNabScores,
  scoreDetector,
  windowLabels,
  writeNabResultsFile,
  type NabCorpus,
  type NabDetector,
  type ScoredSeries,
} from './nab/index.js';

const USAGE = `usage: npm run bench:nab -- [options]
  --detector NAME     ${DETECTOR_NAMES.join('|')} (default: foreshock when the engine is wired, else zscore)
  --nab-dir DIR       NAB folder (default: $${NAB_DIR_ENV}, else ../shared/nab beside the repo)
  --out DIR           also write NAB results files to DIR/<detector>/<category>/<detector>_<file>.csv
  --full-precision    score the detector's scores as they are, not rounded to ${NAB_SCORE_DIGITS} digits
                      like NAB's published results files (the reference rows always are)
  --no-reference      skip rescoring the published detectors under results/`;

interface DetectorRun {
  readonly series: ScoredSeries[];
  readonly rows: number;
  readonly detectMs: number;
}

/** Run the detector over each file, one fresh series per file, rows in order. */
function runDetector(detector: NabDetector, corpus: NabCorpus, digits: number | null): DetectorRun {
  const series: ScoredSeries[] = [];
  let rows = 0;
  let detectMs = 0;
  for (const f of corpus.files) {
    const t0 = performance.now();
    const raw = detector.run(f.series.timestampsMs, f.series.values);
    detectMs += performance.now() - t0;
    if (raw.length !== f.series.values.length) {
      throw new RangeError(`${detector.name} returned ${raw.length} scores for ${f.path} (${f.series.values.length} rows)`);
    }
    for (let i = 0; i < raw.length; i++) {
      if (!(raw[i] >= 0 && raw[i] <= 1)) throw new RangeError(`${detector.name}: ${f.path}: row ${i + 1}: score ${raw[i]} not in [0, 1]`);
    }
    rows += raw.length;
    const scores = digits === null ? raw : roundNabScores(raw, digits);
    series.push({ name: f.path, timestampsMs: f.series.timestampsMs, scores, windows: f.windows });
  }
  return { series, rows, detectMs };
}

async function writeResults(outDir: string, detector: string, corpus: NabCorpus, run: DetectorRun): Promise<void> {
  for (let k = 0; k < corpus.files.length; k++) {
    const f = corpus.files[k];
    const path = resultsPath(outDir, detector, f.path);
    await writeNabResultsFile(path, f.series, run.series[k].scores, windowLabels(f.series.timestampsMs, f.windows));
  }
}

function round(x: number, digits: number): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

function printScores(detector: string, source: string, series: ScoredSeries[], corpus: NabCorpus, digits: number | null): void {
  for (const r of scoreDetector(series, corpus.profiles)) {
    const line = {
      case: 'nab',
      detector,
      source,
      profile: r.profile,
      score: round(r.score, 3),
      threshold: r.threshold,
      raw_score: round(r.raw, 4),
      null_raw_score: r.nullRaw,
      perfect_raw_score: r.perfect,
      files: series.length,
      score_digits: digits,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

async function main(): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      detector: { type: 'string' },
      'nab-dir': { type: 'string' },
      out: { type: 'string' },
      'full-precision': { type: 'boolean', default: false },
      'no-reference': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const corpus = await loadNabCorpus(resolveNabDir(opts['nab-dir']));
  const detector = await createDetector(opts.detector);
  const digits = opts['full-precision'] ? null : NAB_SCORE_DIGITS;

  const run = runDetector(detector, corpus, digits);
  if (opts.out !== undefined) await writeResults(opts.out, detector.name, corpus, run);
  const cpu = cpus();
  process.stdout.write(
    JSON.stringify({
      case: 'nab_detect',
      detector: detector.name,
      files: corpus.files.length,
      rows: run.rows,
      detect_ms: round(run.detectMs, 1),
      ns_per_row: round((run.detectMs * 1e6) / run.rows, 1),
      machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memory_gib: round(totalmem() / 2 ** 30, 1), node: process.version },
    }) + '\n',
  );
  printScores(detector.name, 'run', run.series, corpus, digits);

  if (!opts['no-reference']) {
    for (const ref of await listResultDetectors(corpus.dir)) {
      if (ref === 'null') continue; // 0 by definition; the normalisation already uses it
      printScores(ref, 'results', await loadDetectorResults(corpus, ref), corpus, NAB_SCORE_DIGITS);
    }
  }
}

main().catch((err: unknown) => {
  const usage = (err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') === true;
  process.stderr.write(`bench:nab: ${err instanceof Error ? err.message : String(err)}\n${usage ? USAGE + '\n' : ''}`);
  process.exitCode = 1;
});
