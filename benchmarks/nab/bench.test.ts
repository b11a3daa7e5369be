import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDetectorResults, loadNabCorpus, REPO_ROOT } from './corpus.js';
import { nabDirForTests } from './nab-dir.js';
import { scoreDetector } from './scorer.js';

const nab = await nabDirForTests();

interface Line {
  case: string;
  detector: string;
  source?: string;
  profile?: string;
  score?: number;
  files?: number;
}

describe.skipIf(!nab.available)('npm run bench:nab', () => {
  it('runs the z-score baseline, writes NAB results files, and prints the reference rows', async () => {
    const out = await mkdtemp(join(tmpdir(), 'foreshock-nab-'));
    try {
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', join('benchmarks', 'nab.ts'), '--detector', 'zscore', '--nab-dir', nab.dir, '--out', out],
        { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
      );
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
      const detect = lines.find((l) => l.case === 'nab_detect');
      expect(detect).toMatchObject({ detector: 'zscore', files: 31 });
      const score = (detector: string, profile: string): number | undefined =>
        lines.find((l) => l.case === 'nab' && l.detector === detector && l.profile === profile)?.score;
      // The baseline is NAB's windowedGaussian: same scores as its published results.
      for (const profile of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) {
        expect(score('zscore', profile)).toBeDefined();
        expect(score('zscore', profile)).toBe(score('windowedGaussian', profile));
        expect(score('numenta', profile)).toBeGreaterThan(60);
      }

      // The files written are NAB results files that rescore to the numbers printed.
      const corpus = await loadNabCorpus(nab.dir);
      const written = await loadDetectorResults(corpus, 'zscore', out);
      expect(written.length).toBe(31);
      for (const r of scoreDetector(written, corpus.profiles)) {
        expect(r.score).toBeCloseTo(score('zscore', r.profile) ?? NaN, 3);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 180_000);
});
