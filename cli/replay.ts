// `foreshock replay FILE.csv`: runs one timestamp,value CSV through the production detector
// engine on the file's own timestamps, and writes scores (NAB's results format with --nab).

import { basename, dirname, relative, resolve } from 'node:path';
import type { ForeshockConfig } from '../shared/config/index.js';
import {
  DetectorEngine, EVENT_OPENED, EVENT_RESOLVED, NAB_PARAMS, nabScores, paramsFromConfig,
} from '../services/detector/engine/index.js';
import {
  findWindowsForFile, formatNabTimestamp, readCombinedWindows, readNabDataFile, windowLabels, writeNabResultsFile,
} from '../shared/codecs/index.js';

import { ProgressBar } from './progress.js';

export interface ReplayOptions {
  file: string;
  nab: boolean;
  out?: string;
  nabDir?: string;
  config: ForeshockConfig;
}

export async function runReplay(o: ReplayOptions): Promise<number> {
  const series = await readNabDataFile(o.file);
  const n = series.values.length;
  const bar = new ProgressBar(process.stderr, n, `replay ${basename(o.file)}`);
  let opened = 0;
  const events: string[] = [];
  let scores: Float64Array;
  if (o.nab) {
    // NAB: the engine with the NAB profile, through the same function bench:nab scores.
    scores = nabScores(series.timestampsMs, series.values, NAB_PARAMS, (i) => bar.update(i));
    for (let i = 0; i < n; i++) if (scores[i] > 0) opened++;
  } else {
    scores = new Float64Array(n);
    opened = replayProduction(o, series.timestampsMs, series.values, scores, events, bar);
  }
  bar.done(n);


  let labels: Uint8Array | undefined;
  if (o.nab) {
    // NAB's labels sit beside its data/ folder; by default the file's own NAB checkout.
    const nabDir = o.nabDir ?? resolve(dirname(o.file), '..', '..');
    const windows = await readCombinedWindows(resolve(nabDir, 'labels', 'combined_windows.json'));
    // NAB names files by their path under data/, e.g. realKnownCause/nyc_taxi.csv.
    const rel = relative(resolve(nabDir, 'data'), resolve(o.file));
    const key = rel.startsWith('..') ? `${basename(dirname(o.file))}/${basename(o.file)}` : rel;
    const w = findWindowsForFile(windows, key);
    labels = w ? windowLabels(series.timestampsMs, w) : new Uint8Array(n);
  }
  if (o.out) {
    await writeNabResultsFile(o.out, series, scores, labels);
    process.stderr.write(`wrote ${n} rows to ${o.out}\n`);
  } else {
    for (const e of events) process.stdout.write(e + '\n');
  }
  process.stderr.write(`${n} samples, ${opened} anomalies opened\n`);
  return 0;
}

/** Without --nab: the production profile from the config; scores per row, events listed. Returns anomalies opened. */
function replayProduction(
  o: ReplayOptions, ts: Float64Array, values: Float64Array, scores: Float64Array, events: string[], bar: ProgressBar,
): number {
  const engine = new DetectorEngine([paramsFromConfig(o.config.detector)], { chunkShift: 0 });
  const slot = engine.allocSlot(0);
  let opened = 0;
  for (let i = 0; i < values.length; i++) {
    const code = engine.update(slot, ts[i], values[i]);
    scores[i] = engine.outScore;
    if (code === EVENT_OPENED) {
      opened++;
      events.push(`${formatNabTimestamp(ts[i])} opened  score=${engine.outScore.toFixed(3)}`);
    } else if (code === EVENT_RESOLVED) {
      events.push(`${formatNabTimestamp(ts[i])} resolved`);
    }
    if ((i & 1023) === 0) bar.update(i);
  }
  return opened;
}
