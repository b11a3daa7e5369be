import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dampedSteps, explain, FIRED_EWMA, FIRED_HOLT, FIRED_ZSCORE, formatValue, holtTimeToThreshold, holtVarianceFactor } from './index.js';

describe('forecast formulas', () => {
  it('closed-form Holt variance equals 1 + Σ_{j<h} (α + αβ·j)² at whole horizons', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 500 }), (alpha, beta, h) => {
        let sum = 1;
        for (let j = 1; j < h; j++) sum += (alpha + alpha * beta * j) ** 2;
        expect(holtVarianceFactor(alpha, beta, h)).toBeCloseTo(sum, 6 - Math.log10(sum));
      }),
    );
  });

  it('damped steps equal Σ φ^j', () => {
    for (const phi of [0.5, 0.9, 0.98, 1]) {
      let sum = 0;
      for (let j = 1; j <= 40; j++) sum += phi ** j;
      expect(dampedSteps(phi, 40)).toBeCloseTo(sum, 9);
    }
  });

  it('finds no crossing when a damped trend levels off below the threshold', () => {
    const out = new Float64Array(3);
    const s = { level: 0, trendPerS: 1, residualSd: 1, stepMs: 1000, alpha: 0.3, beta: 0.1, phi: 0.9, z: 1.96 };
    // the damped path tends to Σφ^j = 9 units
    holtTimeToThreshold(s, 20, 86_400_000, out);
    expect(out[0]).toBeNaN();
    holtTimeToThreshold(s, 5, 86_400_000, out);
    expect(out[0]).toBeGreaterThan(0);
    expect(out[1]).toBeLessThan(out[0]); // the near edge gets there first
  });
});

describe('explain formatting', () => {
  it('formats values compactly', () => {
    expect(formatValue(97.234)).toBe('97.2');
    expect(formatValue(4.5678)).toBe('4.57');
    expect(formatValue(0.012345)).toBe('0.0123');
    expect(formatValue(1.5e9)).toBe('1.500e9');
    expect(formatValue(0)).toBe('0');
  });

  it('names fired detectors in order and says where the value sits', () => {
    const e = explain({
      outValue: 97.2, outScore: 0.99, outExpected: 41, outLower: 35.1, outUpper: 46.9, outZ: 8.4, outTrendPerS: 0.01,
      outFired: FIRED_EWMA | FIRED_ZSCORE, outEpisodeStart: 0,
    });
    expect(e.fired).toEqual(['zscore', 'ewma']);
    expect(e.summary).toBe('value 97.2 above expected 41.0 (band 35.1–46.9, z=8.4) — zscore, ewma');
    const below = explain({
      outValue: 10, outScore: 0.95, outExpected: 41, outLower: 35.1, outUpper: 46.9, outZ: -9, outTrendPerS: 0, outFired: FIRED_HOLT, outEpisodeStart: 0,
    });
    expect(below.summary).toBe('value 10.0 below expected 41.0 (band 35.1–46.9, z=-9.0) — holt');
  });
});
