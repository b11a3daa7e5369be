// Loads the NAB corpus (data, windows, profiles, published results) from the NAB folder at
// run time for the NAB benchmark and its scorer test. Nothing of NAB is copied into the repo.

import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadRequestError, NotFoundError } from '../../shared/errors/index.js';
import {
  readCombinedWindows,
  readNabDataFile,
  readNabResultsFile,
  type NabSeries,
  type NabWindow,
} from '../../shared/codecs/nab-csv.js';
import type { CostMatrix, ScoredSeries } from './scorer.js';

/** The repository root (this file sits in benchmarks/nab/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Environment variable naming the NAB folder. */
export const NAB_DIR_ENV = 'FORESHOCK_NAB_DIR';

/**
 * The NAB folder: `--nab-dir` if given, else $FORESHOCK_NAB_DIR, else `../shared/nab` next to
 * the repository. Relative paths resolve against the current directory.
 */
export function resolveNabDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return resolve(flag);
  const fromEnv = env[NAB_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return resolve(REPO_ROOT, '..', 'shared', 'nab');
}

/** True when `dir` looks like a NAB folder (data/ and labels/combined_windows.json). */
export async function isNabDir(dir: string): Promise<boolean> {
  try {
    const [d, w] = await Promise.all([stat(join(dir, 'data')), stat(join(dir, 'labels', 'combined_windows.json'))]);
    return d.isDirectory() && w.isFile();
  } catch {
    return false;
  }
}

/** One data file of the corpus. */
export interface NabDataFile {
  /** Path relative to data/, with `/`: `realTweets/Twitter_volume_KO.csv`. */
  readonly path: string;
  readonly category: string;
  readonly series: NabSeries;
  readonly windows: readonly NabWindow[];
}

export interface NabCorpus {
  readonly dir: string;
  /** Data files sorted by path. */
  readonly files: readonly NabDataFile[];
  /** Profiles from config/profiles.json, in file order. */
  readonly profiles: Readonly<Record<string, CostMatrix>>;
}

/** Parse config/profiles.json: `{ name: { CostMatrix: { tpWeight, fpWeight, fnWeight, … } } }`. */
export function parseProfiles(json: string, source = 'profiles.json'): Record<string, CostMatrix> {
  const raw = JSON.parse(json) as Record<string, { CostMatrix?: Record<string, unknown> }>;
  const out: Record<string, CostMatrix> = {};
  for (const [name, p] of Object.entries(raw)) {
    const m = p?.CostMatrix;
    const tpWeight = m?.tpWeight;
    const fpWeight = m?.fpWeight;
    const fnWeight = m?.fnWeight;
    if (typeof tpWeight !== 'number' || typeof fpWeight !== 'number' || typeof fnWeight !== 'number') {
      throw new BadRequestError('FS_NAB_PROFILES', `${source}: ${name}: CostMatrix needs tpWeight, fpWeight, fnWeight`);
    }
    out[name] = { tpWeight, fpWeight, fnWeight };
  }
  return out;
}

async function listCsv(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const category of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory())) {
    for (const f of await readdir(join(dir, category.name))) {
      if (f.endsWith('.csv') && !f.startsWith('.')) out.push(category.name + '/' + f);
    }
  }
  return out.sort();
}

/** Load every data file of the NAB folder with its windows, and the profiles. */
export async function loadNabCorpus(dir: string): Promise<NabCorpus> {
  if (!(await isNabDir(dir))) {
    throw new NotFoundError('FS_NAB_DIR', `${dir}: not a NAB folder (needs data/ and labels/combined_windows.json)`);
  }
  const windows = await readCombinedWindows(join(dir, 'labels', 'combined_windows.json'));
  const profiles = parseProfiles(await readFile(join(dir, 'config', 'profiles.json'), 'utf8'));
  const paths = await listCsv(join(dir, 'data'));
  const files = await Promise.all(
    paths.map(async (path): Promise<NabDataFile> => {
      const w = windows.get(path);
      if (w === undefined) throw new BadRequestError('FS_NAB_WINDOWS', `combined_windows.json has no entry for ${path}`);
      const series = await readNabDataFile(join(dir, 'data', path));
      return { path, category: path.slice(0, path.indexOf('/')), series, windows: w };
    }),
  );
  return { dir, files, profiles };
}

/**
 * Path of a detector's results file for a data file, NAB's layout under a results folder
 * (the NAB folder's results/, or a benchmark's --out): <det>/<category>/<det>_<file>.
 */
export function resultsPath(resultsDir: string, detector: string, dataPath: string): string {
  const slash = dataPath.indexOf('/');
  return join(resultsDir, detector, dataPath.slice(0, slash), detector + '_' + dataPath.slice(slash + 1));
}

/** Detectors with a folder under results/, sorted. */
export async function listResultDetectors(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(join(dir, 'results'), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/**
 * A detector's results for every corpus file (by default the published ones under the NAB
 * folder's results/), checked row by row against the data file's timestamps, ready for the scorer.
 */
export async function loadDetectorResults(
  corpus: NabCorpus,
  detector: string,
  resultsDir = join(corpus.dir, 'results'),
): Promise<ScoredSeries[]> {
  return Promise.all(
    corpus.files.map(async (f): Promise<ScoredSeries> => {
      const path = resultsPath(resultsDir, detector, f.path);
      const r = await readNabResultsFile(path);
      const ts = f.series.timestampsMs;
      if (r.timestampsMs.length !== ts.length) {
        throw new BadRequestError('FS_NAB_RESULTS', `${path}: ${r.timestampsMs.length} rows, data has ${ts.length}`);
      }
      for (let i = 0; i < ts.length; i++) {
        if (r.timestampsMs[i] !== ts[i]) {
          throw new BadRequestError('FS_NAB_RESULTS', `${path}: row ${i + 1}: timestamp differs from the data file`);
        }
      }
      return { name: f.path, timestampsMs: ts, scores: r.scores, windows: f.windows };
    }),
  );
}
