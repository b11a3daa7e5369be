import { describe, expect, it } from 'vitest';
import { ForeshockError } from '../../../shared/errors/index.js';
import {
  DEFAULT_DETECTOR_PARAMS, DetectorEngine, paramsFromConfig, resolveDetectorParams, validateDetectorParams,
} from './index.js';

describe('detector params', () => {
  it('has valid defaults', () => {
    expect(validateDetectorParams(DEFAULT_DETECTOR_PARAMS)).toEqual([]);
    expect(DEFAULT_DETECTOR_PARAMS.window).toBe(64);
  });

  it('lists every problem with the parameter it belongs to', () => {
    const problems = validateDetectorParams(
      resolveDetectorParams({ window: 2, ewmaAlpha: 0, closeScore: 0.95, sdFloorAbs: 0, adaptSamples: 300, holtPhi: 1.2 }),
    );
    expect(problems.map((p) => p.name).sort()).toEqual(['adaptSamples', 'closeScore', 'ewmaAlpha', 'holtPhi', 'sdFloorAbs', 'window']);
    expect(problems.find((p) => p.name === 'closeScore')?.reason).toMatch(/openScore/);
    expect(problems.find((p) => p.name === 'window')?.reason).toMatch(/\[4, 1024\]/);
  });

  it('rejects NaN and accepts Infinity only where it means "off"', () => {
    expect(validateDetectorParams(resolveDetectorParams({ bandK: NaN })).map((p) => p.name)).toEqual(['bandK']);
    expect(validateDetectorParams(resolveDetectorParams({ clipK: Infinity }))).toEqual([]);
    expect(validateDetectorParams(resolveDetectorParams({ minDurationMs: Infinity })).map((p) => p.name)).toEqual(['minDurationMs']);
  });

  it('maps the config section onto the defaults', () => {
    const p = paramsFromConfig({ window: 32, warmupSamples: 10, openScore: 0.8, closeScore: 0.5, minDuration: 60_000, resolveHold: 1000, updateEvery: 2000 });
    expect(p).toMatchObject({ window: 32, warmupSamples: 10, openScore: 0.8, closeScore: 0.5, minDurationMs: 60_000, resolveHoldMs: 1000, updateEveryMs: 2000 });
    expect(p.ewmaAlpha).toBe(DEFAULT_DETECTOR_PARAMS.ewmaAlpha);
  });

  it('makes the engine refuse invalid profiles, naming profile and parameter', () => {
    expect(() => new DetectorEngine([DEFAULT_DETECTOR_PARAMS, resolveDetectorParams({ window: 5000 })])).toThrow(/profile 1: window/);
    expect(() => new DetectorEngine([])).toThrow(ForeshockError);
  });
});
