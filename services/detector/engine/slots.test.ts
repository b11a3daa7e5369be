// Slots: growth in chunks, reuse after freeing or eviction, per-slot profiles, and inputs the
// engine must ignore without corrupting a series.

import { describe, expect, it } from 'vitest';
import { ForeshockError } from '../../../shared/errors/index.js';
import { DetectorEngine, EVENT_NONE, EVENT_OPENED, resolveDetectorParams } from './index.js';

const T0 = Date.UTC(2025, 0, 1);
const STEP = 15_000;
const wave = (i: number) => 100 + Math.sin(i * 12.9898) * 1.7;

/** Everything a caller can observe after one update. */
function observe(engine: DetectorEngine, code: number): number[] {
  return [code, engine.outScore, engine.outZ, engine.outExpected, engine.outLower, engine.outUpper, engine.outTrendPerS, engine.outFired, engine.outEpisodeStart];
}

function run(engine: DetectorEngine, slot: number, from: number, to: number, at: (i: number) => number): number[][] {
  const out: number[][] = [];
  for (let i = from; i < to; i++) out.push(observe(engine, engine.update(slot, T0 + i * STEP, at(i))));
  return out;
}

describe('slots', () => {
  it('grows in chunks without moving earlier ones, and keeps series apart', () => {
    const engine = new DetectorEngine(undefined, { chunkShift: 2 }); // 4 slots per chunk
    const first = engine.allocSlot();
    const firstChunk = engine.table.chunks[0];
    const slots = [first];
    for (let i = 0; i < 9; i++) slots.push(engine.allocSlot());
    expect(slots).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(engine.table.chunks.length).toBe(3);
    expect(engine.table.chunks[0]).toBe(firstChunk);
    // each slot its own series: slot k sees values around 10·k
    for (let i = 0; i < 80; i++) for (const s of slots) engine.update(s, T0 + i * STEP, 10 * (s + 1) + Math.sin(i + s));
    const out = new Float64Array(2);
    for (const s of slots) {
      engine.ewmaStats(s, out);
      expect(Math.abs(out[0] - 10 * (s + 1))).toBeLessThan(1);
    }
    expect(engine.size).toBe(10);
  });

  it('reuses a freed slot with a clean state', () => {
    const engine = new DetectorEngine();
    const a = engine.allocSlot();
    run(engine, a, 0, 100, wave);
    run(engine, a, 100, 103, (i) => wave(i) + 30);
    expect(engine.stateName(a)).toBe('anomalous');
    engine.freeSlot(a);
    expect(engine.isLive(a)).toBe(false);
    expect(() => engine.freeSlot(a)).toThrow(ForeshockError);
    const b = engine.allocSlot();
    expect(b).toBe(a);
    expect(engine.stateName(b)).toBe('warmup');
    expect(engine.inspect(b).samples).toBe(0);
    // behaves exactly like a slot of a fresh engine
    const fresh = new DetectorEngine();
    const f = fresh.allocSlot();
    expect(run(engine, b, 0, 150, (i) => wave(i) * 2)).toEqual(run(fresh, f, 0, 150, (i) => wave(i) * 2));
  });

  it('evicts series idle for idleMs (event time) and hands the slot out again', () => {
    const engine = new DetectorEngine();
    const busy = engine.allocSlot();
    const idle = engine.allocSlot();
    run(engine, idle, 0, 50, wave);
    run(engine, busy, 0, 300, wave);
    const now = T0 + 299 * STEP;
    const evicted: number[] = [];
    // idle's last sample is 250 steps (3750 s) old
    expect(engine.evictIdle(now, 3800_000, (s) => evicted.push(s))).toBe(0);
    expect(engine.evictIdle(now, 3700_000, (s) => evicted.push(s))).toBe(1);
    expect(evicted).toEqual([idle]);
    expect(engine.isLive(idle)).toBe(false);
    expect(engine.isLive(busy)).toBe(true);
    expect(engine.allocSlot()).toBe(idle);
    expect(engine.stateName(idle)).toBe('warmup');
  });

  it('gives a slot without samples one idle period from the first scan that sees it', () => {
    const engine = new DetectorEngine();
    const s = engine.allocSlot();
    expect(engine.evictIdle(T0, 60_000)).toBe(0);
    expect(engine.evictIdle(T0 + 59_000, 60_000)).toBe(0);
    expect(engine.evictIdle(T0 + 61_000, 60_000)).toBe(1);
    expect(engine.isLive(s)).toBe(false);
  });

  it('keeps a profile per slot', () => {
    const sensitive = resolveDetectorParams({ minDurationMs: 0 });
    const tolerant = resolveDetectorParams({ minDurationMs: 0, openScore: 1 });
    const engine = new DetectorEngine([sensitive, tolerant]);
    const a = engine.allocSlot(0);
    const b = engine.allocSlot(1);
    expect(() => engine.allocSlot(2)).toThrow(/profile 2/);
    run(engine, a, 0, 100, wave);
    run(engine, b, 0, 100, wave);
    expect(engine.update(a, T0 + 100 * STEP, 200)).toBe(EVENT_OPENED);
    expect(engine.update(b, T0 + 100 * STEP, 200)).toBe(EVENT_NONE);
  });

  it('takes ≤ 1 KiB per series with the default window', () => {
    const engine = new DetectorEngine();
    // 320 B of scalars + 64 × 4 B ring + 2 × 24 seasonal buckets × 8 B
    expect(engine.bytesPerSeries).toBe(960);
    expect(engine.bytesPerSeries).toBeLessThanOrEqual(1024);
    expect(new DetectorEngine([resolveDetectorParams({ seasonal: false })]).bytesPerSeries).toBe(576);
    expect(new DetectorEngine([resolveDetectorParams({ window: 1024 })]).bytesPerSeries).toBe(4800);
  });
});

describe('bad input', () => {
  it('ignores NaN, ±Infinity, huge values and non-increasing times without touching the series', () => {
    const clean = new DetectorEngine();
    const dirty = new DetectorEngine();
    const c = clean.allocSlot();
    const d = dirty.allocSlot();
    const expected: number[][] = [];
    const got: number[][] = [];
    for (let i = 0; i < 200; i++) {
      const t = T0 + i * STEP;
      const x = wave(i) + (i >= 150 ? 20 : 0);
      expected.push(observe(clean, clean.update(c, t, x)));
      if (i % 7 === 3) {
        expect(dirty.update(d, t - 1, NaN)).toBe(EVENT_NONE);
        expect(dirty.update(d, t - 1, Infinity)).toBe(EVENT_NONE);
        expect(dirty.update(d, t - 1, -Infinity)).toBe(EVENT_NONE);
        expect(dirty.update(d, t - 1, 1e31)).toBe(EVENT_NONE);
        expect(dirty.update(d, NaN, 1)).toBe(EVENT_NONE);
        expect(dirty.update(d, Infinity, 1)).toBe(EVENT_NONE);
      }
      got.push(observe(dirty, dirty.update(d, t, x)));
      if (i % 11 === 5) {
        expect(dirty.update(d, t, x + 1)).toBe(EVENT_NONE); // same time again
        expect(dirty.update(d, t - STEP, x)).toBe(EVENT_NONE); // out of order
      }
    }
    expect(got).toEqual(expected);
    expect(dirty.ignoredSamples).toBe(29 * 6 + 18 * 2);
    // nothing but the episode start (NaN outside episodes) is ever non-finite
    expect(got.every((o) => o.slice(0, 8).every(Number.isFinite))).toBe(true);
  });
});
