import { describe, expect, it } from 'vitest';
import { DetectorEngine } from './detector-engine.js';
import { KIND_DEFAULTS, saturationOverrides } from './profiles.js';
import { resolveDetectorParams } from './params.js';
import { EVENT_SATURATED, EVENT_SATURATION_CLEARED, EVENT_FORECAST_BREACH } from './state-machine.js';

const T0 = Date.UTC(2026, 0, 5, 9);
const STEP = 5000;

/** Saturation and forecast events of a series of values, as [sample index, event]. */
function run(values: number[], over: Parameters<typeof saturationOverrides>[0]) {
  const p = resolveDetectorParams({ ...KIND_DEFAULTS.ratio, ...saturationOverrides(over) });
  const e = new DetectorEngine([p]);
  const slot = e.allocSlot(0);
  const sat: [number, number][] = [];
  const breach: number[] = [];
  values.forEach((v, i) => {
    e.update(slot, T0 + i * STEP, v);
    if (e.outSaturationEvent !== 0) sat.push([i, e.outSaturationEvent]);
    if (e.outBreachEvent === EVENT_FORECAST_BREACH) breach.push(i);
  });
  return { sat, breach, engine: e, slot };
}

describe('saturation (catalogue threshold held for its duration)', () => {
  const cpu = { threshold: 0.9, direction: 'above' as const, forMs: 60_000, capacity: 0.9, horizonMs: 3_600_000, fills: false };

  it('pages once after the threshold held `for`, resolves once after it came back for the clear time, from the first sample', () => {
    const values = [...Array(30).fill(0.97), ...Array(30).fill(0.1)];
    const { sat, engine, slot } = run(values, cpu);
    // 60 s at 5 s steps: the 13th sample at or above 0.9 (index 12) opens
    expect(sat).toEqual([[12, EVENT_SATURATED], [30 + 12, EVENT_SATURATION_CLEARED]]);
    expect(engine.saturationSince(slot)).toBe(T0);
  });

  it('does not page on a spike shorter than `for`, and a dip during saturation does not end it', () => {
    const spike = [...Array(10).fill(0.2), ...Array(8).fill(0.99), ...Array(20).fill(0.2)];
    expect(run(spike, cpu).sat).toEqual([]);
    const dip = [...Array(20).fill(0.95), 0.5, 0.5, ...Array(20).fill(0.95)];
    expect(run(dip, cpu).sat).toEqual([[12, EVENT_SATURATED]]);
  });

  it('saturates below the threshold for a "lower is worse" signal, and does not forecast what already happened', () => {
    const mem = { threshold: 0.1, direction: 'below' as const, forMs: 30_000, capacity: 0, horizonMs: 3_600_000, fills: false };
    const values = [...Array(40).fill(0.5), ...Array(20).fill(0.05)];
    const { sat } = run(values, mem);
    expect(sat).toEqual([[46, EVENT_SATURATED]]);
    // at capacity already: the forecast is saturation's business
    const full = run(Array(80).fill(0.95), cpu);
    expect(full.breach).toEqual([]);
  });
});
