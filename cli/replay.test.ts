// `foreshock replay FILE.csv --nab --out OUT.csv` on a real NAB data file: NAB's results format,
// one row per data row, labels from the file's windows, and exactly the scores bench:nab scores.

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nabDirForTests } from '../benchmarks/nab/nab-dir.js';
import { loadConfig } from '../shared/config/index.js';
import { readNabDataFile } from '../shared/codecs/index.js';
import { nabScores } from '../services/detector/engine/index.js';
import { runReplay } from './replay.js';

const nab = await nabDirForTests();

describe.skipIf(!nab.available && !nab.required)('foreshock replay --nab', () => {
  it('writes timestamp,value,anomaly_score,label for every row of a NAB file', async () => {
    if (!nab.available) throw new Error(nab.missingMessage);
    // the smallest realKnownCause file (every one of them has labelled windows)
    const category = 'realKnownCause';
    const names = (await readdir(join(nab.dir, 'data', category))).filter((f) => f.endsWith('.csv'));
    expect(names.length).toBeGreaterThan(0);
    const sized = await Promise.all(names.map(async (f) => ({ f, size: (await stat(join(nab.dir, 'data', category, f))).size })));
    sized.sort((a, b) => a.size - b.size || a.f.localeCompare(b.f));
    const file = join(nab.dir, 'data', category, sized[0].f);
    const dir = await mkdtemp(join(tmpdir(), 'foreshock-replay-'));
    try {
      const out = join(dir, 'out.csv');
      const { config } = loadConfig({ env: {} });
      expect(await runReplay({ file, nab: true, out, nabDir: nab.dir, config })).toBe(0);
      const lines = (await readFile(out, 'utf8')).trim().split('\n');
      const series = await readNabDataFile(file);
      expect(lines[0]).toBe('timestamp,value,anomaly_score,label');
      expect(lines.length - 1).toBe(series.values.length);
      const expected = nabScores(series.timestampsMs, series.values);
      let labelled = 0;
      let detections = 0;
      const bad: string[] = [];
      for (let i = 1; i < lines.length; i++) {
        const [ts, value, score, label] = lines[i].split(',');
        const s = Number(score);
        if (
          !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(ts) || Math.abs(Number(value) - series.values[i - 1]) > 1e-6 * Math.max(1, Math.abs(series.values[i - 1])) ||
          !(s >= 0 && s <= 1) || Math.abs(s - expected[i - 1]) > 1e-9 || (label !== '0' && label !== '1')
        ) {
          bad.push(`line ${i + 1}: ${lines[i]} (expected score ${expected[i - 1]})`);
        }
        if (s > 0) detections++;
        if (label === '1') labelled++;
      }
      expect(bad.slice(0, 5)).toEqual([]);
      // every realKnownCause file has labelled windows, and the detector says something
      expect(labelled).toBeGreaterThan(0);
      expect(detections).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
