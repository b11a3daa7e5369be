import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadDetectorResults, loadNabCorpus } from './corpus.js';
import { createDetector, erfc, gaussianScore, ZScoreDetector } from './detectors.js';
import { nabDirForTests } from './nab-dir.js';

describe('erfc', () => {
  it('matches reference values to 1e-15 on both sides of the series/fraction switch', () => {
    const ref: [number, number][] = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [1.99, 0.004888586800383003],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [5, 1.5374597944280349e-12],
      [-1, 1.8427007929497148],
    ];
    for (const [x, v] of ref) expect(Math.abs(erfc(x) - v), `erfc(${x})`).toBeLessThan(1e-15);
  });

  it('gaussianScore is 0.5 at the mean and tends to 1 in both tails', () => {
    expect(gaussianScore(0)).toBe(0.5);
    expect(gaussianScore(2)).toBeCloseTo(0.977249868, 9);
    expect(gaussianScore(-2)).toBe(gaussianScore(2));
    expect(gaussianScore(40)).toBe(1);
  });
});

/** The baseline's rule recomputed from scratch for every row (NAB windowedGaussian, two-pass stats). */
function direct(values: number[], windowSize: number, stepSize: number): number[] {
  let window: number[] = [];
  let buffer: number[] = [];
  let mean = 0;
  let std = 1;
  const update = (): void => {
    mean = window.reduce((a, b) => a + b, 0) / window.length;
    std = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / window.length);
    if (std === 0) std = 1e-6;
  };
  return values.map((x) => {
    const score = window.length > 0 ? gaussianScore((x - mean) / std) : 0;
    if (window.length < windowSize) {
      window.push(x);
      update();
    } else {
      buffer.push(x);
      if (buffer.length === stepSize) {
        window = window.slice(stepSize).concat(buffer);
        buffer = [];
        update();
      }
    }
    return score;
  });
}

describe('ZScoreDetector', () => {
  it('equals a from-scratch recomputation on random series', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((w) =>
          fc.record({
            w: fc.constant(w),
            step: fc.integer({ min: 1, max: w }),
            // Metric-like values (three decimals) and repeats, so windows also go flat.
            values: fc.array(fc.oneof(fc.integer({ min: -1e6, max: 1e6 }).map((v) => v / 1000), fc.constantFrom(0, 5)), {
              maxLength: 120,
            }),
          }),
        ),
        ({ w, step, values }) => {
          const got = new ZScoreDetector({ windowSize: w, stepSize: step }).run(new Float64Array(values.length), Float64Array.from(values));
          const want = direct(values, w, step);
          for (let i = 0; i < values.length; i++) expect(Math.abs(got[i] - want[i]), `row ${i}`).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects a window or step it cannot run', () => {
    expect(() => new ZScoreDetector({ windowSize: 0 })).toThrow(RangeError);
    expect(() => new ZScoreDetector({ windowSize: 10, stepSize: 11 })).toThrow(RangeError);
  });

  it('is what createDetector returns for "zscore"; unknown names are refused', async () => {
    expect((await createDetector('zscore')).name).toBe('zscore');
    await expect(createDetector('nope')).rejects.toThrow(/unknown detector "nope"/);
  });
});

const nab = await nabDirForTests();

describe.skipIf(!nab.available)('ZScoreDetector on the NAB dev half', () => {
  it('reproduces NAB’s published windowedGaussian scores row by row', async () => {
    const corpus = await loadNabCorpus(nab.dir);
    const published = await loadDetectorResults(corpus, 'windowedGaussian');
    const det = new ZScoreDetector();
    for (let k = 0; k < corpus.files.length; k++) {
      const f = corpus.files[k];
      const got = det.run(f.series.timestampsMs, f.series.values);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - published[k].scores[i]));
      // The published files hold 12 significant digits.
      expect(worst, f.path).toBeLessThan(1e-11);
    }
  });
});
