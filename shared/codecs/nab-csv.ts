// NAB file formats, for the NAB benchmark and `foreshock replay --nab`: data CSVs
// (`timestamp,value`), results CSVs (`timestamp,value,anomaly_score,label`) and the labelled
// windows of labels/combined_windows.json. Parsing and formatting are pure; the few file
// helpers at the end only add fs around them.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BadRequestError } from '../errors/index.js';

/** One NAB series: rows in file order, time in ms since the epoch (UTC). */
export interface NabSeries {
  readonly timestampsMs: Float64Array;
  readonly values: Float64Array;
}

/** A NAB results file: the series plus one anomaly score in [0, 1] and one label per row. */
export interface NabResults extends NabSeries {
  readonly scores: Float64Array;
  /** 1 inside a labelled window, else 0 (as written by NAB). */
  readonly labels: Uint8Array;
}

/** A labelled anomaly window, both ends inclusive, in ms since the epoch (UTC). */
export interface NabWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Windows per data file, keyed by the path relative to data/, e.g. `realTweets/Twitter_volume_KO.csv`. */
export type NabWindowsByFile = ReadonlyMap<string, readonly NabWindow[]>;

export const NAB_RESULTS_HEADER = 'timestamp,value,anomaly_score,label';

/**
 * Significant digits of the anomaly scores in NAB's published results files (Python 2 wrote
 * floats with str(), i.e. %.12g). Near 1 this precision decides ties, and so the optimised
 * threshold: score a detector's output rounded the same way to compare it with those files.
 */
export const NAB_SCORE_DIGITS = 12;

/** Scores rounded to `digits` significant digits, as NAB's results files hold them (new array). */
export function roundNabScores(scores: Float64Array, digits = NAB_SCORE_DIGITS): Float64Array {
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = Number(scores[i].toPrecision(digits));
  return out;
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * Parse a NAB timestamp `YYYY-MM-DD HH:MM:SS` (an optional `.ffffff`, as in the label files) as
 * UTC and return ms since the epoch, or NaN when the text is not of that form.
 */
export function parseNabTimestamp(text: string): number {
  const m = TIMESTAMP_RE.exec(text);
  if (m === null) return NaN;
  const ms = m[7] === undefined ? 0 : Math.floor(Number(m[7].padEnd(6, '0')) / 1000);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const t = Date.UTC(Number(m[1]), month - 1, day, Number(m[4]), Number(m[5]), Number(m[6]), ms);
  // Date.UTC rolls 2015-02-30 over into March; NAB's parser rejects it, and so do we.
  const d = new Date(t);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return NaN;
  return t;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** Format ms since the epoch as a NAB timestamp `YYYY-MM-DD HH:MM:SS` (UTC, whole seconds). */
export function formatNabTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    d.getUTCFullYear() +
    '-' + pad2(d.getUTCMonth() + 1) +
    '-' + pad2(d.getUTCDate()) +
    ' ' + pad2(d.getUTCHours()) +
    ':' + pad2(d.getUTCMinutes()) +
    ':' + pad2(d.getUTCSeconds())
  );
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function columnIndex(header: string[], name: string, source: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new BadRequestError('FS_NAB_CSV', `${source}: header has no "${name}" column`);
  return i;
}

function parseColumns(
  text: string,
  source: string,
  names: readonly string[],
): { rows: number; cols: Float64Array[] } {
  const lines = splitLines(text);
  if (lines.length === 0) throw new BadRequestError('FS_NAB_CSV', `${source}: empty file`);
  const header = lines[0].split(',').map((h) => h.trim());
  const idx = names.map((n) => columnIndex(header, n, source));
  const rows = lines.length - 1;
  const cols = names.map(() => new Float64Array(rows));
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',');
    for (let c = 0; c < idx.length; c++) {
      const cell = cells[idx[c]];
      const v = cell === undefined ? NaN : c === 0 ? parseNabTimestamp(cell.trim()) : Number(cell);
      if (Number.isNaN(v) || (c > 0 && cell.trim() === '')) {
        throw new BadRequestError(
          'FS_NAB_CSV',
          `${source}: line ${r + 2}: bad ${names[c]} ${describeValue(cell ?? '')}`,
        );
      }
      cols[c][r] = v;
    }
  }
  return { rows, cols };
}

/** Parse a NAB data CSV (`timestamp,value`, header first; other columns are ignored). */
export function parseNabDataCsv(text: string, source = 'data'): NabSeries {
  const { cols } = parseColumns(text, source, ['timestamp', 'value']);
  return { timestampsMs: cols[0], values: cols[1] };
}

/** Parse a NAB results CSV (`timestamp,value,anomaly_score,label`). */
export function parseNabResultsCsv(text: string, source = 'results'): NabResults {
  const { rows, cols } = parseColumns(text, source, ['timestamp', 'value', 'anomaly_score', 'label']);
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) labels[i] = cols[3][i] !== 0 ? 1 : 0;
  return { timestampsMs: cols[0], values: cols[1], scores: cols[2], labels };
}

/**
 * Format a NAB results CSV: the series' rows in order with `anomaly_score` from `scores` and
 * `label` from `labels` (all 0 when omitted). Ends with a newline.
 */
export function formatNabResultsCsv(series: NabSeries, scores: Float64Array, labels?: Uint8Array): string {
  const n = series.timestampsMs.length;
  if (scores.length !== n || (labels !== undefined && labels.length !== n)) {
    throw new RangeError(`formatNabResultsCsv: ${n} rows but ${scores.length} scores and ${labels?.length ?? n} labels`);
  }
  const out: string[] = new Array(n + 1);
  out[0] = NAB_RESULTS_HEADER;
  for (let i = 0; i < n; i++) {
    out[i + 1] =
      formatNabTimestamp(series.timestampsMs[i]) + ',' + series.values[i] + ',' + scores[i] + ',' +
      (labels === undefined ? 0 : labels[i]);
  }
  return out.join('\n') + '\n';
}

/** A value from an untrusted file, for an error message: short, and never a recursive walk (deep nesting). */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v === null || typeof v !== 'object') return String(v);
  return 'an object';
}

/** Parse labels/combined_windows.json: `{ "<category>/<file>.csv": [[start, end], …] }`. */
export function parseCombinedWindows(json: string, source = 'combined_windows.json'): Map<string, NabWindow[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new BadRequestError('FS_NAB_WINDOWS', `${source}: not JSON`, { cause: err });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BadRequestError('FS_NAB_WINDOWS', `${source}: expected an object keyed by file`);
  }
  const out = new Map<string, NabWindow[]>();
  for (const [file, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw new BadRequestError('FS_NAB_WINDOWS', `${source}: ${describeValue(file)}: expected a list`);
    const windows: NabWindow[] = [];
    for (const pair of list) {
      const startMs = Array.isArray(pair) && typeof pair[0] === 'string' ? parseNabTimestamp(pair[0]) : NaN;
      const endMs = Array.isArray(pair) && typeof pair[1] === 'string' ? parseNabTimestamp(pair[1]) : NaN;
      if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs < startMs) {
        const shown = Array.isArray(pair) ? `[${pair.slice(0, 3).map(describeValue).join(', ')}${pair.length > 3 ? ', ...' : ''}]` : describeValue(pair);
        throw new BadRequestError('FS_NAB_WINDOWS', `${source}: ${describeValue(file)}: bad window ${shown}`);
      }
      windows.push({ startMs, endMs });
    }
    windows.sort((a, b) => a.startMs - b.startMs);
    out.set(file, windows);
  }
  return out;
}

/**
 * The windows of a data file given by any path to it (`…/data/realTweets/Twitter_volume_KO.csv`
 * finds the key `realTweets/Twitter_volume_KO.csv`), or undefined when the file has no entry.
 */
export function findWindowsForFile(windows: NabWindowsByFile, filePath: string): readonly NabWindow[] | undefined {
  const path = filePath.replace(/\\/g, '/');
  const exact = windows.get(path);
  if (exact !== undefined) return exact;
  for (const [key, list] of windows) if (path.endsWith('/' + key)) return list;
  return undefined;
}

/** Labels as NAB's labeler writes them: 1 where start ≤ t ≤ end for some window, else 0. */
export function windowLabels(timestampsMs: Float64Array, windows: readonly NabWindow[]): Uint8Array {
  const labels = new Uint8Array(timestampsMs.length);
  for (const w of windows) {
    for (let i = 0; i < timestampsMs.length; i++) {
      const t = timestampsMs[i];
      if (t >= w.startMs && t <= w.endMs) labels[i] = 1;
    }
  }
  return labels;
}

/** Read and parse a NAB data CSV. */
export async function readNabDataFile(path: string): Promise<NabSeries> {
  return parseNabDataCsv(await readFile(path, 'utf8'), path);
}

/** Read and parse a NAB results CSV. */
export async function readNabResultsFile(path: string): Promise<NabResults> {
  return parseNabResultsCsv(await readFile(path, 'utf8'), path);
}

/** Read and parse labels/combined_windows.json. */
export async function readCombinedWindows(path: string): Promise<Map<string, NabWindow[]>> {
  return parseCombinedWindows(await readFile(path, 'utf8'), path);
}

/** Write a NAB results CSV, creating its folder; labels all 0 when omitted. */
export async function writeNabResultsFile(
  path: string,
  series: NabSeries,
  scores: Float64Array,
  labels?: Uint8Array,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, formatNabResultsCsv(series, scores, labels));
}
