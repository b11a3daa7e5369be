// Checkpoints restore series exactly: a restored engine continues bit for bit like the original.

import { SCALAR_BYTES } from './layout.js';
import { describe, expect, it } from 'vitest';
import { ForeshockError } from '../../../shared/errors/index.js';
import { CHECKPOINT_VERSION, DetectorEngine, resolveDetectorParams } from './index.js';

const T0 = Date.UTC(2025, 0, 1);
const STEP = 15_000;
const PROFILES = [resolveDetectorParams(), resolveDetectorParams({ window: 16, minDurationMs: 0, ewmaAlpha: 0.2 })];

/** Series k: noise around 10·(k+1), a level shift from sample 120 for odd k, a spike at 90. */
function value(k: number, i: number): number {
  return 10 * (k + 1) + Math.sin(i * 12.9898 + k) * 1.5 + (k % 2 === 1 && i >= 120 ? 25 : 0) + (i === 90 ? 40 : 0);
}

function step(engine: DetectorEngine, slot: number, k: number, i: number): number[] {
  const code = engine.update(slot, T0 + i * STEP, value(k, i));
  return [code, engine.outScore, engine.outZ, engine.outExpected, engine.outLower, engine.outUpper, engine.outTrendPerS, engine.outFired, engine.outEpisodeStart];
}

describe('checkpoints', () => {
  it('restore series exactly: both engines continue identically', () => {
    const a = new DetectorEngine(PROFILES);
    const series = Array.from({ length: 6 }, (_, k) => a.allocSlot(k % 2));
    a.allocSlot(); // a series that is not exported
    for (let i = 0; i < 125; i++) series.forEach((s, k) => step(a, s, k, i)); // mid-episode for odd k
    expect(a.stateName(series[1])).not.toBe('normal');

    const buf = a.exportSlots(series);
    expect(buf[4]).toBe(CHECKPOINT_VERSION);
    const b = new DetectorEngine(PROFILES);
    b.allocSlot(); // the restored series land in other slot numbers
    const restored = b.importSlots(buf);
    expect(restored).toHaveLength(6);
    expect(restored[0]).not.toBe(series[0]);
    for (let k = 0; k < 6; k++) {
      expect(b.stateName(restored[k])).toBe(a.stateName(series[k]));
      expect(b.inspect(restored[k])).toEqual(a.inspect(series[k]));
    }
    for (let i = 125; i < 400; i++) {
      for (let k = 0; k < 6; k++) expect(step(b, restored[k], k, i)).toEqual(step(a, series[k], k, i));
    }
    const fa = new Float64Array(3);
    const fb = new Float64Array(3);
    a.forecast(series[3], 3_600_000, fa);
    b.forecast(restored[3], 3_600_000, fb);
    expect(fb).toEqual(fa);
  });

  it('does not send a restored series back to warm-up', () => {
    const a = new DetectorEngine();
    const s = a.allocSlot();
    for (let i = 0; i < 60; i++) step(a, s, 0, i);
    const b = new DetectorEngine();
    const [r] = b.importSlots(a.exportSlots([s]));
    expect(b.stateName(r)).toBe('normal');
    expect(b.inspect(r).samples).toBe(60);
  });

  it('refuses malformed or incompatible checkpoints and restores nothing', () => {
    const a = new DetectorEngine(PROFILES);
    const slots = [a.allocSlot(0), a.allocSlot(1)];
    for (let i = 0; i < 50; i++) slots.forEach((s, k) => step(a, s, k, i));
    const good = a.exportSlots(slots);
    const tries: [Uint8Array, RegExp][] = [
      [good.slice(0, 8), /shorter than the header/],
      [Uint8Array.from(good, (v, i) => (i === 0 ? 0 : v)), /magic/],
      [Uint8Array.from(good, (v, i) => (i === 4 ? 99 : v)), /version 99/],
      [good.slice(0, good.length - 3), /truncated/],
      [Uint8Array.from([...good, 0]), /trailing/],
    ];
    const b = new DetectorEngine(PROFILES);
    for (const [buf, why] of tries) {
      expect(() => b.importSlots(buf)).toThrow(why);
      expect(b.size).toBe(0);
    }
    // a window that differs from the profile's in this engine
    const c = new DetectorEngine([resolveDetectorParams({ window: 32 }), PROFILES[1]]);
    expect(() => c.importSlots(good)).toThrow(/window 64 differs/);
    expect(c.size).toBe(0);
    // a profile this engine lacks
    const d = new DetectorEngine([PROFILES[0]]);
    let err: unknown;
    try {
      d.importSlots(good);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ForeshockError);
    expect((err as ForeshockError).code).toBe('FS_DETECTOR_CHECKPOINT');
    expect(d.size).toBe(0);
  });

  /** The current export rewritten as an older version: each record's scalars cut at `scalarBytes`. */
  function downgrade(cur: Uint8Array, version: number, scalarBytes: number, count: number): Uint8Array {
    const view = new DataView(cur.buffer, cur.byteOffset, cur.byteLength);
    const parts: Uint8Array[] = [Uint8Array.from([...cur.subarray(0, 12)])];
    parts[0][4] = version;
    new DataView(parts[0].buffer).setUint16(6, scalarBytes, true);
    let o = 12;
    for (let i = 0; i < count; i++) {
      const w = view.getUint16(o, true);
      const sb = view.getUint16(o + 2, true);
      const rec = o + 4;
      parts.push(cur.subarray(o, rec + scalarBytes), cur.subarray(rec + SCALAR_BYTES, rec + SCALAR_BYTES + w * 4 + sb * 8));
      o = rec + SCALAR_BYTES + w * 4 + sb * 8;
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((n, p) => (out.set(p, n), n + p.length), 0);
    return out;
  }

  for (const [version, scalars, what] of [[2, 192, 'the long trend and the fill run'], [3, 256, 'the fill run']] as const) {
    it(`reads version-${version} checkpoints (no ${what}): everything else restored, the newer state fresh`, () => {
      const a = new DetectorEngine(PROFILES);
      const series = [a.allocSlot(0), a.allocSlot(1)];
      for (let i = 0; i < 125; i++) series.forEach((s, k) => step(a, s, k, i));
      const old = downgrade(a.exportSlots(series), version, scalars, series.length);
      const b = new DetectorEngine(PROFILES);
      const restored = b.importSlots(old);
      // These profiles have no breach threshold, so the newer lines are unused: bit-identical after.
      for (let k = 0; k < 2; k++) expect(b.inspect(restored[k])).toEqual(a.inspect(series[k]));
      for (let i = 125; i < 200; i++) {
        for (let k = 0; k < 2; k++) expect(step(b, restored[k], k, i)).toEqual(step(a, series[k], k, i));
      }
    });
  }

  it('refuses to export a slot that is not in use', () => {
    const a = new DetectorEngine();
    expect(() => a.exportSlots([3])).toThrow(/not in use/);
  });
});
