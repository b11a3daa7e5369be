import { describe, expect, it } from 'vitest';
import {
  DAY_MS, DEFAULT_TIMELINE, expectedValue, HOUR_MS, marketShape, NORMAL_SCENARIOS, planSeries, renderSeries, SCENARIOS, thresholdRules, type ScenarioSeries,
} from './generator.js';

const MON = DEFAULT_TIMELINE.startMs;

function render(s: ScenarioSeries): Float64Array {
  const out = new Float64Array(s.samples);
  renderSeries(s, out);
  return out;
}

function idx(s: ScenarioSeries, t: number): number {
  return Math.round((t - s.startMs) / s.stepMs);
}

describe('marketShape', () => {
  it('is quiet at night and on weekends, busy during trading hours', () => {
    expect(new Date(MON).getUTCDay()).toBe(1);
    expect(marketShape(MON + 3 * HOUR_MS)).toBe(0);
    expect(marketShape(MON + 20 * HOUR_MS)).toBe(0);
    expect(marketShape(MON + 10 * HOUR_MS)).toBeCloseTo(1, 3);
    expect(marketShape(MON + 5 * DAY_MS + 10 * HOUR_MS)).toBe(0); // Saturday
    expect(marketShape(MON + 7 * DAY_MS + 10 * HOUR_MS)).toBeCloseTo(1, 3); // next Monday
    // the opening burst is above the midday level
    expect(marketShape(MON + 8.2 * HOUR_MS)).toBeGreaterThan(1.05);
  });
});

describe('determinism', () => {
  it('plans and renders the same series bit for bit for the same seed', () => {
    for (const sc of SCENARIOS) {
      const a = planSeries(sc, 3);
      const b = planSeries(sc, 3);
      expect(b).toEqual(a);
      expect(Buffer.from(render(b).buffer).equals(Buffer.from(render(a).buffer))).toBe(true);
    }
  });

  it('gives different series for another index or seed', () => {
    const a = render(planSeries('noise', 0));
    const b = render(planSeries('noise', 1));
    const c = render(planSeries('noise', 0, { ...DEFAULT_TIMELINE, seed: 2 }));
    expect(a[100]).not.toBe(b[100]);
    expect(a[100]).not.toBe(c[100]);
  });

  it('renders any range as the same slice of the whole series', () => {
    const s = planSeries('cpu_creep', 5);
    const all = render(s);
    const part = new Float64Array(500);
    renderSeries(s, part, 12_345);
    expect(Array.from(part)).toEqual(Array.from(all.subarray(12_345, 12_845)));
    expect(() => renderSeries(s, new Float64Array(10), s.samples - 5)).toThrow(RangeError);
  });
});

describe('ground truth', () => {
  const N = 40;

  it('normal scenarios have no trouble and no threshold', () => {
    for (const sc of NORMAL_SCENARIOS) {
      for (let i = 0; i < N; i++) {
        const s = planSeries(sc, i);
        expect(s.troubleStartMs).toBeNaN();
        expect(s.windowEndMs).toBeNaN();
        expect(s.breachMs).toBeNaN();
      }
    }
  });

  it('trouble starts on a sample after the burn-in, and the window follows it', () => {
    for (const sc of SCENARIOS.filter((x) => !NORMAL_SCENARIOS.includes(x))) {
      for (let i = 0; i < N; i++) {
        const s = planSeries(sc, i);
        const end = s.startMs + s.samples * s.stepMs;
        expect(s.troubleStartMs).toBeGreaterThanOrEqual(s.scoredFromMs);
        expect((s.troubleStartMs - s.startMs) % s.stepMs).toBe(0);
        expect(s.windowEndMs).toBeGreaterThan(s.troubleStartMs);
        expect(s.windowEndMs).toBeLessThanOrEqual(end);
        if (s.breachMs === s.breachMs) expect(s.windowEndMs).toBe(s.breachMs);
      }
    }
  });

  it('breachMs is the first sample at which the noiseless value reaches the threshold', () => {
    const breached: Record<string, number> = { cpu_creep: 0, memory_leak: 0, disk_fill: 0 };
    for (const sc of ['cpu_creep', 'memory_leak', 'disk_fill'] as const) {
      for (let i = 0; i < N; i++) {
        const s = planSeries(sc, i);
        expect(s.threshold).toBeGreaterThan(0);
        const end = s.startMs + s.samples * s.stepMs;
        const until = s.breachMs === s.breachMs ? s.breachMs : end;
        // nothing reaches the threshold before the breach, in particular nothing before the trouble
        let highest = -Infinity;
        for (let t = s.startMs; t < until; t += s.stepMs) highest = Math.max(highest, expectedValue(s, t));
        expect(highest).toBeLessThan(s.threshold);
        if (s.breachMs === s.breachMs) {
          breached[sc]++;
          expect(expectedValue(s, s.breachMs)).toBeGreaterThanOrEqual(s.threshold);
          expect(s.breachMs).toBeGreaterThan(s.troubleStartMs);
          // the rendered series is at the threshold within its noise there
          const v = render(s)[idx(s, s.breachMs)];
          expect(Math.abs(v - s.threshold)).toBeLessThan(6 * s.model.noiseSd + 1e-9);
        }
      }
    }
    // leak and disk always breach within the default week; cpu creep only on a trading day
    expect(breached.memory_leak).toBe(N);
    expect(breached.disk_fill).toBe(N);
    expect(breached.cpu_creep).toBeGreaterThan(N / 4);
  }, 30_000);

  it('before the trouble a troubled series follows its normal model', () => {
    for (const sc of ['cpu_creep', 'deploy_step', 'spike'] as const) {
      const s = planSeries(sc, 1);
      const normal = { ...s, troubleStartMs: NaN };
      let differs = 0;
      for (let t = s.startMs; t < s.troubleStartMs; t += s.stepMs) if (expectedValue(s, t) !== expectedValue(normal, t)) differs++;
      expect(differs).toBe(0);
      expect(expectedValue(s, s.troubleStartMs + s.stepMs)).not.toBe(expectedValue(normal, s.troubleStartMs + s.stepMs));
    }
  });

  it('renders the trouble each scenario describes', () => {
    const dead = planSeries('flatline', 0);
    const frozen = planSeries('flatline', 1);
    expect([dead.variant, frozen.variant]).toEqual(['dead', 'frozen']);
    const d = render(dead);
    const f = render(frozen);
    const i0 = idx(dead, dead.troubleStartMs);
    expect(d[i0 - 1]).toBeGreaterThan(0);
    expect(d.subarray(i0).every((v) => v === 0)).toBe(true);
    const j0 = idx(frozen, frozen.troubleStartMs);
    expect(f.subarray(j0).every((v) => v === f[j0 - 1])).toBe(true);
    expect(f[j0 - 1]).not.toBe(f[j0 - 2]);

    const sp = planSeries('spike', 2);
    const v = render(sp);
    for (let t = sp.troubleStartMs; t < sp.model.spikeEndMs; t += sp.stepMs) {
      expect(v[idx(sp, t)] - expectedValue({ ...sp, troubleStartMs: NaN }, t)).toBeGreaterThan(sp.model.step - 6 * sp.model.noiseSd);
    }
    expect(sp.windowEndMs).toBe(sp.model.spikeEndMs + 5 * 60_000);

    const lat = planSeries('deploy_step', 0);
    expect(lat.variant).toBe('latency');
    expect(expectedValue(lat, lat.troubleStartMs) / expectedValue(lat, lat.troubleStartMs - lat.stepMs)).toBeGreaterThan(1.4);
  });

  it('noise has the planned mean and spread', () => {
    const s = planSeries('noise', 4);
    const v = render(s);
    let m = 0;
    for (const x of v) m += x;
    m /= v.length;
    let q = 0;
    for (const x of v) q += (x - m) ** 2;
    const sd = Math.sqrt(q / (v.length - 1));
    expect(Math.abs(m - s.model.base)).toBeLessThan((4 * s.model.noiseSd) / Math.sqrt(v.length));
    expect(sd / s.model.noiseSd).toBeGreaterThan(0.98);
    expect(sd / s.model.noiseSd).toBeLessThan(1.02);
  });

  it('rejects a timeline whose burn-in covers it', () => {
    expect(() => planSeries('noise', 0, { ...DEFAULT_TIMELINE, days: 1, burnInDays: 1 })).toThrow(RangeError);
  });
});

describe('thresholdRules', () => {
  it('names every threshold the planned series head for, matched by name and labels', () => {
    const rules = thresholdRules();
    for (const sc of ['cpu_creep', 'disk_fill', 'memory_leak'] as const) {
      for (let i = 0; i < 20; i++) {
        const s = planSeries(sc, i);
        const hit = rules.find((r) => {
          const [sel] = r.split(':');
          return sel.split(';').every((p) => {
            const [k, v] = p.split('=');
            return (k === 'name' ? s.metric : s.labels[k]) === v;
          });
        });
        expect(hit, `${sc} ${i}`).toBeDefined();
        expect(Number(/threshold=([0-9.e+]+)/.exec(hit!)![1])).toBe(s.threshold);
      }
    }
  });
});
