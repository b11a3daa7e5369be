import { describe, expect, it } from 'vitest';
import { DetectorEngine } from '../../services/detector/engine/index.js';
import { planSeries } from './generator.js';
import { runSeries } from './run.js';
import { scoreSeries } from './scoring.js';

describe('runSeries', () => {
  it('feeds every sample to one slot, frees it, and reports the alerts at sample times', () => {
    const engine = new DetectorEngine();
    const s = planSeries('spike', 0);
    const buf = new Float64Array(s.samples);
    const o = runSeries(engine, s, buf);
    expect(engine.size).toBe(0);
    expect(engine.ignoredSamples).toBe(0);
    expect(o.endMs).toBe(s.startMs + s.samples * s.stepMs);
    for (const t of o.alerts) expect((t - s.startMs) % s.stepMs).toBe(0);
    // a 2–5 minute excursion of 8–15 σ is found inside its window
    const score = scoreSeries(o);
    expect(score.detectedAtMs).toBeGreaterThanOrEqual(s.troubleStartMs);
    expect(score.delayMs).toBeLessThan(5 * 60_000);
  });

  it('gives the same outcome for the same series however the engine was used before', () => {
    const engine = new DetectorEngine();
    const s = planSeries('deploy_step', 1);
    const buf = new Float64Array(s.samples);
    const first = runSeries(engine, s, buf);
    runSeries(engine, planSeries('noise', 3), buf);
    expect(runSeries(engine, s, buf)).toEqual(first);
  });
});
