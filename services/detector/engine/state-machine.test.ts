// The anomaly lifecycle, driven with chosen scores on one series record, then end to end
// through the engine with real samples.

import { describe, expect, it } from 'vitest';
import {
  DetectorEngine, EVENT_NONE, EVENT_OPENED, EVENT_RESOLVED, EVENT_UPDATED, FIRED_STALE, explain, resolveDetectorParams,
  type DetectorParams,
} from './index.js';
import { B_STATE, F_EPISODE_START } from './layout.js';
import { ProfileRow } from './params.js';
import { SeriesState } from './series-state.js';
import { advanceState, STATE_NORMAL, STATE_OPEN, STATE_PENDING, STATE_RESOLVING } from './state-machine.js';

const S = 1000;

/** One series record and the machine's inputs, scores chosen by the test. */
function machine(over: Partial<DetectorParams> = {}) {
  const q = new ProfileRow(resolveDetectorParams({
    openScore: 0.9, closeScore: 0.6, minDurationMs: 30 * S, resolveHoldMs: 120 * S, updateEveryMs: 300 * S, updateMargin: 0.05, ...over,
  }));
  const table = new SeriesState(8);
  const slot = table.alloc(0);
  const { f64, f32, u8 } = table.chunks[0];
  const b = slot * table.strideF64;
  return {
    step: (tS: number, score: number, warm = true) => advanceState(f64, f32, u8, b, b * 2, b * 8, q, tS * S, score, warm),
    state: () => u8[b * 8 + B_STATE],
    episodeStart: () => f64[b + F_EPISODE_START] / S,
  };
}

describe('state machine', () => {
  it('opens only after the score stays high for minDuration', () => {
    const m = machine();
    expect(m.step(0, 0.95)).toBe(EVENT_NONE);
    expect(m.state()).toBe(STATE_PENDING);
    expect(m.step(15, 0.99)).toBe(EVENT_NONE);
    expect(m.step(30, 0.91)).toBe(EVENT_OPENED);
    expect(m.state()).toBe(STATE_OPEN);
    expect(m.episodeStart()).toBe(0);
  });

  it('drops a pending episode when the score falls below openScore', () => {
    const m = machine();
    m.step(0, 0.95);
    m.step(15, 0.95);
    expect(m.step(30, 0.89)).toBe(EVENT_NONE);
    expect(m.state()).toBe(STATE_NORMAL);
    // a new episode starts from scratch
    m.step(45, 0.95);
    expect(m.step(60, 0.95)).toBe(EVENT_NONE);
    expect(m.step(75, 0.95)).toBe(EVENT_OPENED);
    expect(m.episodeStart()).toBe(45);
  });

  it('opens at once without a minimum duration', () => {
    const m = machine({ minDurationMs: 0 });
    expect(m.step(0, 0.9)).toBe(EVENT_OPENED);
    expect(m.episodeStart()).toBe(0);
  });

  it('never leaves normal while the series is warming up', () => {
    const m = machine();
    for (let t = 0; t < 300; t += 15) expect(m.step(t, 1, false)).toBe(EVENT_NONE);
    expect(m.state()).toBe(STATE_NORMAL);
  });

  it('holds open between closeScore and openScore (hysteresis), then resolves after the hold', () => {
    const m = machine();
    m.step(0, 0.95);
    m.step(15, 0.95);
    expect(m.step(30, 0.95)).toBe(EVENT_OPENED);
    expect(m.step(45, 0.7)).toBe(EVENT_NONE); // below open, above close: still open
    expect(m.state()).toBe(STATE_OPEN);
    expect(m.step(60, 0.5)).toBe(EVENT_NONE); // below close: resolving
    expect(m.state()).toBe(STATE_RESOLVING);
    expect(m.step(120, 0.1)).toBe(EVENT_NONE);
    expect(m.step(179, 0.1)).toBe(EVENT_NONE);
    expect(m.step(180, 0.1)).toBe(EVENT_RESOLVED); // 120 s below close
    expect(m.state()).toBe(STATE_NORMAL);
    expect(m.episodeStart()).toBe(0); // the resolved event still names its episode
  });

  it('goes back to open when the score rises during the hold', () => {
    const m = machine();
    m.step(0, 0.95);
    m.step(30, 0.95);
    m.step(45, 0.3);
    expect(m.state()).toBe(STATE_RESOLVING);
    expect(m.step(60, 0.65)).toBe(EVENT_NONE);
    expect(m.state()).toBe(STATE_OPEN);
    m.step(75, 0.3);
    expect(m.step(75 + 119, 0.3)).toBe(EVENT_NONE); // the hold restarted at 75
    expect(m.step(75 + 120, 0.3)).toBe(EVENT_RESOLVED);
  });

  it('emits updates at most every updateEvery, or when the score rises by the margin', () => {
    const m = machine();
    m.step(0, 0.91);
    expect(m.step(30, 0.91)).toBe(EVENT_OPENED);
    expect(m.step(45, 0.93)).toBe(EVENT_NONE); // +0.02 < margin
    expect(m.step(60, 0.97)).toBe(EVENT_UPDATED); // +0.06 over the last emitted 0.91
    expect(m.step(75, 0.99)).toBe(EVENT_NONE); // +0.02 over 0.97
    expect(m.step(359, 0.95)).toBe(EVENT_NONE);
    expect(m.step(360, 0.95)).toBe(EVENT_UPDATED); // 300 s after the update at 60
  });
});

const T0 = Date.UTC(2025, 0, 1);
const STEP = 15_000;

/** A noisy series around 100 (σ ≈ 1) whose sample i is `at(i)`. */
function feed(engine: DetectorEngine, slot: number, from: number, to: number, at: (i: number) => number): number[] {
  const codes: number[] = [];
  for (let i = from; i < to; i++) codes.push(engine.update(slot, T0 + i * STEP, at(i)));
  return codes;
}

const noise = (i: number) => Math.sin(i * 12.9898) * 1.7; // deterministic, |x| ≤ 1.7, sd ≈ 1.2
const base = (i: number) => 100 + noise(i);

describe('engine lifecycle', () => {
  it('suppresses anomalies during warm-up', () => {
    const engine = new DetectorEngine([resolveDetectorParams({ warmupSamples: 30 })]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 10, base);
    expect(engine.stateName(slot)).toBe('warmup');
    // 15 shifted samples (225 s, far beyond minDuration) all inside the first 30
    let peak = 0;
    for (let i = 10; i < 25; i++) {
      expect(engine.update(slot, T0 + i * STEP, base(i) + 50)).toBe(EVENT_NONE);
      peak = Math.max(peak, engine.outScore);
    }
    expect(peak).toBeGreaterThan(0.9); // it would have opened on a warm series
    expect(engine.stateName(slot)).toBe('warmup');
  });

  it('opens on a level shift after minDuration and names the detectors', () => {
    const engine = new DetectorEngine([resolveDetectorParams()]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 100, base);
    expect(engine.stateName(slot)).toBe('normal');
    expect(engine.update(slot, T0 + 100 * STEP, base(100) + 30)).toBe(EVENT_NONE);
    expect(engine.stateName(slot)).toBe('pending');
    expect(engine.update(slot, T0 + 101 * STEP, base(101) + 30)).toBe(EVENT_NONE);
    expect(engine.update(slot, T0 + 102 * STEP, base(102) + 30)).toBe(EVENT_OPENED); // 30 s after the first
    expect(engine.outEpisodeStart).toBe(T0 + 100 * STEP);
    expect(engine.stateName(slot)).toBe('anomalous');
    const e = explain(engine);
    expect(e.fired).toEqual(['zscore', 'ewma', 'holt']);
    expect(e.score).toBeGreaterThan(0.9);
    expect(e.value).toBe(base(102) + 30);
    expect(e.summary).toMatch(/^value 1\d\d\.\d above expected 10\d\.\d \(band \d+\.\d–\d+\.\d, z=\d+\.\d\) — zscore, ewma, holt$/);
  });

  it('does not open on a spike shorter than minDuration, and the spike does not widen the band', () => {
    const engine = new DetectorEngine([resolveDetectorParams()]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 100, base);
    engine.update(slot, T0 + 100 * STEP, base(100));
    const before = engine.outUpper - engine.outLower;
    const codes = feed(engine, slot, 101, 103, (i) => base(i) + 200); // 2 samples, 15 s
    codes.push(...feed(engine, slot, 103, 110, base));
    expect(codes.every((c) => c === EVENT_NONE)).toBe(true);
    expect(engine.stateName(slot)).toBe('normal');
    const after = engine.outUpper - engine.outLower;
    expect(after / before).toBeLessThan(1.1);
    // without protection the same spike inflates the band several times over
    const raw = new DetectorEngine([resolveDetectorParams({ clipK: Infinity })]);
    const s2 = raw.allocSlot();
    feed(raw, s2, 0, 101, base);
    feed(raw, s2, 101, 103, (i) => base(i) + 200);
    feed(raw, s2, 103, 110, base);
    expect((raw.outUpper - raw.outLower) / before).toBeGreaterThan(3);
  });

  it('accepts a lasting level shift as the new normal: the alert resolves', () => {
    const engine = new DetectorEngine([resolveDetectorParams()]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 100, base);
    const codes = feed(engine, slot, 100, 300, (i) => base(i) + 30);
    const opened = codes.indexOf(EVENT_OPENED);
    const resolved = codes.indexOf(EVENT_RESOLVED);
    expect(opened).toBe(2);
    expect(resolved).toBeGreaterThan(opened);
    // adaptSamples (40) protected samples, then resolveHold (8 samples) below closeScore
    expect(resolved).toBeLessThan(40 + 8 + 20);
    expect(engine.stateName(slot)).toBe('normal');
    expect(engine.outExpected).toBeGreaterThan(125);
  });

  it('resolves an open anomaly at once on a stale marker', () => {
    const engine = new DetectorEngine([resolveDetectorParams()]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 100, base);
    expect(engine.markStale(slot, T0 + 100 * STEP)).toBe(EVENT_NONE); // nothing open
    feed(engine, slot, 100, 103, (i) => base(i) + 30);
    expect(engine.stateName(slot)).toBe('anomalous');
    expect(engine.markStale(slot, T0 + 103 * STEP)).toBe(EVENT_RESOLVED);
    expect(engine.outFired).toBe(FIRED_STALE);
    expect(engine.outEpisodeStart).toBe(T0 + 100 * STEP);
    expect(explain(engine).summary).toMatch(/^series ended \(stale marker\); last value 1\d\d\.\d/);
    expect(engine.stateName(slot)).toBe('normal');
  });

  it('drops a pending anomaly on a stale marker without an event', () => {
    const engine = new DetectorEngine([resolveDetectorParams()]);
    const slot = engine.allocSlot();
    feed(engine, slot, 0, 100, base);
    feed(engine, slot, 100, 101, (i) => base(i) + 30);
    expect(engine.stateName(slot)).toBe('pending');
    expect(engine.markStale(slot, T0 + 101 * STEP)).toBe(EVENT_NONE);
    expect(engine.stateName(slot)).toBe('normal');
  });
});
