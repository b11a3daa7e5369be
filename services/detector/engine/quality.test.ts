// The quality detectors: seasonal profile, robust median/MAD, anomaly likelihood, forecast
// breach with hysteresis, per-kind profiles and rules, and checkpoints of the new state.

import { describe, expect, it } from 'vitest';
import { mad as ssMad, median as ssMedian } from 'simple-statistics';
import {
  CHECKPOINT_VERSION, DetectorEngine, EVENT_BREACH_CLEARED, EVENT_FORECAST_BREACH, EVENT_OPENED, EVENT_RESOLVED, FIRED_FLAT, FIRED_ROBUST, FIRED_SEASONAL,
  KIND_DEFAULTS, ProfileResolver, firedNames, kindOfMetric, medianMad, normalCdf, parseDetectorRules, profileResolverFromConfig,
  holtTimeToThreshold, resolveDetectorParams, type DetectorParams,
} from './index.js';
import * as layout from './layout.js';
import { V1_LAYOUT } from './layout.js';

const DAY = 86_400_000;
const STEP = 60_000; // one sample a minute
// A Monday, so a weekday profile is what the days below teach.
const T0 = Date.UTC(2025, 0, 6);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A trading day: 20 overnight, jumps to 100 at 09:00 UTC market open, back to 20 at 17:00. */
function tradingDay(msOfDay: number, shiftMs = 0): number {
  const h = (msOfDay - shiftMs) / 3_600_000;
  return h >= 9 && h < 17 ? 100 : 20;
}

describe('seasonal profile', () => {
  const params = (over: Partial<DetectorParams> = {}) =>
    resolveDetectorParams({ seasonWeekly: false, likelihood: 'off', minDurationMs: 0, ...over });

  function feedDays(engine: DetectorEngine, slot: number, from: number, days: number, r: () => number, shiftMs = 0): number[] {
    const scores: number[] = [];
    for (let t = T0 + from * DAY; t < T0 + (from + days) * DAY; t += STEP) {
      engine.update(slot, t, tradingDay(t % DAY, shiftMs) + r() * 2);
      scores.push(engine.outScore);
    }
    return scores;
  }

  it('learns a repeated day: a normal morning scores low, a shifted day scores high', () => {
    const r = rng(1);
    const engine = new DetectorEngine([params()]);
    const slot = engine.allocSlot();
    feedDays(engine, slot, 0, 4, r);
    // day 5 as usual: the market open is in the profile
    const normal = feedDays(engine, slot, 4, 1, r);
    const openIdx = (9 * 3_600_000) / STEP;
    // (below closeScore the profile is not consulted: a raw score up to 0.6 stays as it is)
    expect(Math.max(...normal.slice(openIdx - 5, openIdx + 10))).toBeLessThan(0.6);
    expect(Math.max(...normal)).toBeLessThan(0.6);
    expect(engine.stateName(slot)).toBe('normal');
    // the same series without a profile pages on the same morning
    const plain = new DetectorEngine([params({ seasonal: false })]);
    const ps = plain.allocSlot();
    feedDays(plain, ps, 0, 4, rng(1));
    expect(Math.max(...feedDays(plain, ps, 4, 1, rng(99)).slice(openIdx - 5, openIdx + 10))).toBeGreaterThan(0.9);
    // day 6 opens 4 h early: unusual for 05:00 and a jump — high score, seasonal bit
    const fired: number[] = [];
    let maxEarly = 0;
    for (let t = T0 + 5 * DAY; t < T0 + 5 * DAY + 8 * 3_600_000; t += STEP) {
      engine.update(slot, t, tradingDay(t % DAY, -4 * 3_600_000) + r() * 2);
      if ((t % DAY) / 3_600_000 >= 5) {
        maxEarly = Math.max(maxEarly, engine.outScore);
        fired.push(engine.outFired);
      }
    }
    expect(maxEarly).toBeGreaterThan(0.9);
    expect(fired.some((f) => (f & FIRED_SEASONAL) !== 0)).toBe(true);
  });

  it('keeps its days per day type when weekly: weekend buckets start on the first weekend', () => {
    const engine = new DetectorEngine([params({ seasonWeekly: true })]);
    expect(engine.bytesPerSeries).toBeLessThanOrEqual(1024);
    const slot = engine.allocSlot();
    const r = rng(3);
    feedDays(engine, slot, 0, 7, r); // Mon..Sun
    const rec = engine.table.recordBytes(slot);
    expect(rec[layout.B_DAYS_WEEKDAY]).toBe(5); // weekdays seen
    expect(rec[layout.B_DAYS_WEEKEND]).toBe(2); // weekend days seen
  });
});

describe('robust detector (median / MAD)', () => {
  it('computes median and MAD exactly as a direct computation', () => {
    const r = rng(7);
    const scratch = new Float64Array(1024);
    const out = new Float64Array(2);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(r() * 300);
      const src = new Float32Array(n + 5);
      for (let i = 0; i < src.length; i++) src[i] = r() < 0.1 ? 1000 * r() : Math.round(r() * 20) / 4; // ties and spikes
      medianMad(src, 5, n, scratch, out);
      const xs = Array.from(src.subarray(5));
      expect(out[0]).toBe(ssMedian(xs));
      expect(out[1]).toBe(ssMad(xs));
    }
  });

  it('judges a spiky series by median/MAD: a real shift stands out, the spikes do not inflate the spread', () => {
    const r = rng(11);
    const mk = (robust: boolean) => {
      const e = new DetectorEngine([resolveDetectorParams({ robust, seasonal: false, likelihood: 'off', clipK: Infinity, warmupSamples: 1000 })]);
      return { e, s: e.allocSlot() };
    };
    const a = mk(true);
    const b = mk(false);
    for (let i = 0; i < 300; i++) {
      const x = 50 + r() + (i % 10 === 0 ? 40 : 0); // a spike every 10 samples
      a.e.update(a.s, T0 + i * STEP, x);
      b.e.update(b.s, T0 + i * STEP, x);
    }
    // a sustained +6 shift (not a spike): far out for the median/MAD window
    a.e.update(a.s, T0 + 300 * STEP, 56.5);
    b.e.update(b.s, T0 + 300 * STEP, 56.5);
    expect(Math.abs(a.e.outZ)).toBeGreaterThan(10);
    expect(a.e.outFired & FIRED_ROBUST).toBe(FIRED_ROBUST);
    expect(Math.abs(b.e.outZ)).toBeLessThan(1);
  });
});

describe('anomaly likelihood', () => {
  it('is the Gaussian tail of the short score average against its long history', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021, 6);
    expect(normalCdf(-1.28)).toBeCloseTo(0.1002726, 6);
  });

  it('lets a quiet series page at once but keeps an always-noisy series from paging', () => {
    const mk = (likelihood: 'off' | 'gate') => {
      const e = new DetectorEngine([resolveDetectorParams({ seasonal: false, likelihood, likelihoodShort: 4, likelihoodLong: 500, minDurationMs: 0 })]);
      return { e, s: e.allocSlot() };
    };
    const r = rng(5);
    // quiet: a lasting step opens within a few samples
    const q = mk('gate');
    for (let i = 0; i < 600; i++) q.e.update(q.s, T0 + i * STEP, 10 + r() * 0.1);
    let at = -1;
    for (let i = 600; i < 610 && at < 0; i++) if (q.e.update(q.s, T0 + i * STEP, 30) === EVENT_OPENED) at = i - 600;
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThanOrEqual(3);
    expect(q.e.outLikelihood).toBeGreaterThan(0.9);
    // heavy-tailed noise: without the likelihood it keeps opening, with it far less often
    const off = mk('off');
    const gate = mk('gate');
    let openedOff = 0;
    let openedGate = 0;
    for (let i = 0; i < 5000; i++) {
      const u = r();
      const x = 10 + (u < 0.05 ? (r() - 0.5) * 200 : r());
      if (off.e.update(off.s, T0 + i * STEP, x) === EVENT_OPENED) openedOff++;
      if (gate.e.update(gate.s, T0 + i * STEP, x) === EVENT_OPENED) openedGate++;
      expect(gate.e.outScore).toBeLessThanOrEqual(gate.e.outRawScore);
    }
    expect(openedOff).toBeGreaterThan(20);
    expect(openedGate).toBeLessThan(openedOff / 2);
  });
});

describe('forecast breach', () => {
  it('fires once when a rising series is confidently heading over its threshold, and clears without flapping', () => {
    const e = new DetectorEngine([resolveDetectorParams({
      seasonal: false, likelihood: 'off', breachThreshold: 0.9, breachHorizonMs: 3_600_000, breachHoldMs: 300_000, breachClearMs: 900_000,
    })]);
    const s = e.allocSlot();
    const r = rng(9);
    const events: [number, number][] = [];
    let i = 0;
    const feed = (n: number, at: (k: number) => number) => {
      for (let k = 0; k < n; k++, i++) {
        e.update(s, T0 + i * 15_000, at(k) + (r() - 0.5) * 0.004);
        if (e.outBreachEvent !== 0) events.push([i, e.outBreachEvent]);
      }
    };
    feed(200, () => 0.3); // flat, far below: nothing
    expect(events).toEqual([]);
    // climbing 0.3 → 0.86 over 4 h: the breach is predicted within the hour well before 0.9
    feed(960, (k) => 0.3 + (0.56 * k) / 960);
    expect(events.length).toBe(1);
    expect(events[0][1]).toBe(EVENT_FORECAST_BREACH);
    expect(e.breachState(s)).toBe('active');
    const out = new Float64Array(3);
    e.timeToBreach(s, out);
    expect(out[0] - e.lastTs(s)).toBeGreaterThan(0);
    expect(out[1]).toBeLessThanOrEqual(out[0]);
    // levels off at 0.86: the prediction goes, the cleared event follows once after breachClear
    feed(400, () => 0.86);
    expect(events.map((x) => x[1])).toEqual([EVENT_FORECAST_BREACH, EVENT_BREACH_CLEARED]);
    expect(e.breachState(s)).toBe('none');
  });
});

describe('forecast breach on a seasonal series', () => {
  it('does not extrapolate a learned market-open ramp, but still warns of a fill that is not the rhythm', () => {
    const mk = () => {
      const e = new DetectorEngine([resolveDetectorParams({ seasonWeekly: false, breachThreshold: 0.9, likelihood: 'off' })]);
      return { e, s: e.allocSlot() };
    };
    const r = rng(21);
    // CPU ratio: 0.2 overnight, ramps to 0.55 over 30 min from 09:00, back down at 17:00
    const cpu = (t: number) => {
      const h = (t % DAY) / 3_600_000;
      return 0.2 + 0.35 * Math.min(1, Math.max(0, (h - 9) * 2)) * (h < 17 ? 1 : 0) + (r() - 0.5) * 0.01;
    };
    const a = mk();
    let warnings = 0;
    for (let t = T0; t < T0 + 6 * DAY; t += 15_000) {
      a.e.update(a.s, t, cpu(t));
      if (t >= T0 + 3 * DAY && a.e.outBreachEvent === EVENT_FORECAST_BREACH) warnings++;
    }
    expect(warnings).toBe(0);
    // the same series on a profile without history sees the ramp as a trend to 0.9
    const fresh = mk();
    let freshWarnings = 0;
    for (let t = T0; t < T0 + DAY; t += 15_000) {
      fresh.e.update(fresh.s, t, cpu(t));
      if (fresh.e.outBreachEvent === EVENT_FORECAST_BREACH) freshWarnings++;
    }
    expect(freshWarnings).toBeGreaterThan(0);
    // a disk flat for three days, then filling 0.5 → 0.95 over ~10 h: warned before it crosses 0.9
    const d = mk();
    let warnedAt = -1;
    let crossedAt = -1;
    for (let t = T0, k = 0; t < T0 + 4 * DAY; t += 15_000, k++) {
      const fillStart = T0 + 3 * DAY;
      const x = 0.5 + (t > fillStart ? ((t - fillStart) / 3_600_000) * 0.045 : 0) + (r() - 0.5) * 0.001;
      d.e.update(d.s, t, Math.min(1, x));
      if (warnedAt < 0 && d.e.outBreachEvent === EVENT_FORECAST_BREACH) warnedAt = t;
      if (crossedAt < 0 && x >= 0.9) crossedAt = t;
    }
    expect(warnedAt).toBeGreaterThan(T0 + 3 * DAY);
    expect(crossedAt).toBeGreaterThan(0);
    expect(warnedAt).toBeLessThan(crossedAt);
  });
});

describe('damped Holt: time to threshold', () => {
  it('solves the damped path by hand: φ = 0.5 reaches 0.75 after two steps and never reaches 1.5', () => {
    const out = new Float64Array(3);
    // level 0, trend 1 unit/s, 1 s steps: mean(h) = Σ_{j=1..h} 0.5^j → 0.5, 0.75, 0.875 … → 1
    const s = { level: 0, trendPerS: 1, residualSd: 1e-9, stepMs: 1000, alpha: 0.5, beta: 0.1, phi: 0.5, z: 1.96 };
    holtTimeToThreshold(s, 0.75, 60_000, out);
    expect(out[0]).toBeCloseTo(2000, 6);
    expect(out[1]).toBeLessThanOrEqual(out[0]);
    holtTimeToThreshold(s, 1.5, 60_000, out);
    expect(Number.isNaN(out[0])).toBe(true);
    // undamped, the same trend gets to 1.5 in 1.5 s
    holtTimeToThreshold({ ...s, phi: 1 }, 1.5, 60_000, out);
    expect(out[0]).toBeCloseTo(1500, 6);
  });
});

describe('profiles and rules', () => {
  it('guesses the kind from the metric name', () => {
    expect(kindOfMetric('node_cpu_utilisation')).toBe('ratio');
    expect(kindOfMetric('http_requests_total')).toBe('counter');
    expect(kindOfMetric('http_request_duration_seconds')).toBe('latency');
    expect(kindOfMetric('orders_per_second')).toBe('rate');
    expect(kindOfMetric('node_memory_MemAvailable_bytes')).toBe('gauge');
    expect(KIND_DEFAULTS.latency.robust).toBe(true);
  });

  it('resolves a series to its first matching rule once, with thresholds per pattern', () => {
    const resolver = new ProfileResolver(parseDetectorRules([
      'name=~node_cpu_.*:kind=ratio;threshold=0.9',
      'name=~node_filesystem_.*;mountpoint=/:threshold=0.95;horizon=4h',
      'name=~.*_seconds;job=batch:kind=gauge',
      'name=~node_memory_.*:threshold=0.9;trendHorizon=0s',
      'name=~container_.*:threshold=1e9;trendHorizon=48h;trendWindow=12h',
    ]));
    expect(resolver.profiles[resolver.resolve('node_memory_used_ratio', {})].trendHorizonMs).toBe(0);
    const ctr = resolver.profiles[resolver.resolve('container_memory_working_set_bytes', {})];
    expect([ctr.trendHorizonMs, ctr.trendWindowMs]).toEqual([48 * 3_600_000, 12 * 3_600_000]);
    const cpu = resolver.resolve('node_cpu_utilisation', { cpu: '0' });
    expect(resolver.profiles[cpu].breachThreshold).toBe(0.9);
    expect(resolver.profiles[cpu].sdFloorAbs).toBe(KIND_DEFAULTS.ratio.sdFloorAbs);
    const disk = resolver.resolve('node_filesystem_used_ratio', { mountpoint: '/' });
    expect(resolver.profiles[disk].breachThreshold).toBe(0.95);
    expect(resolver.profiles[disk].breachHorizonMs).toBe(4 * 3_600_000);
    expect(resolver.resolve('node_filesystem_used_ratio', { mountpoint: '/data' })).toBe(resolver.kindIndex('ratio'));
    expect(resolver.resolve('job_duration_seconds', { job: 'batch' })).toBe(resolver.kindIndex('gauge'));
    expect(resolver.resolve('job_duration_seconds', { job: 'api' })).toBe(resolver.kindIndex('latency'));
    // the engine takes the profiles as they are
    const engine = new DetectorEngine(resolver.profiles);
    expect(engine.bytesPerSeries).toBeLessThanOrEqual(1024);
    expect(engine.allocSlot(cpu)).toBe(0);
  });

  it('refuses a bad rule naming it', () => {
    expect(() => parseDetectorRules(['name=~cpu'])).toThrow(/detector\.rules\[0\]/);
    expect(() => parseDetectorRules(['x=1:threshold=abc'])).toThrow(/threshold must be a number/);
    expect(() => parseDetectorRules(['x=1:colour=red'])).toThrow(/unknown key "colour"/);
    expect(() => parseDetectorRules(['name=~(:kind=ratio'])).toThrow(/bad regex/);
    expect(() => parseDetectorRules(['x=1:open=0.5;close=0.8'])).toThrow(/closeScore/);
    expect(() => profileResolverFromConfig({
      window: 64, warmupSamples: 30, openScore: 0.9, closeScore: 0.6, minDuration: 30_000, resolveHold: 120_000, updateEvery: 300_000,
      rules: ['a=b:kind=nope'],
    })).toThrow(/kind must be one of/);
  });
});

describe('seasonal bucket edges', () => {
  /** Opened anomalies on days 4–6 of a series whose market opens with a 10-minute ramp at 08:00 (15 s samples). */
  function opensAtTheOpen(seasonEdge: number): number {
    const e = new DetectorEngine([resolveDetectorParams({ seasonWeekly: false, likelihood: 'off', seasonEdge })]);
    const s = e.allocSlot();
    const r = rng(17);
    let opened = 0;
    for (let t = T0; t < T0 + 6 * DAY; t += 15_000) {
      const h = (t % DAY) / 3_600_000;
      const ramp = h < 8 ? 0 : h < 8 + 1 / 6 ? (h - 8) * 6 : h < 17 ? 1 : 0;
      const code = e.update(s, t, 20 + 80 * ramp + (r() - 0.5) * 4);
      if (code === EVENT_OPENED && t >= T0 + 3 * DAY) opened++;
    }
    return opened;
  }

  it('takes a value between this and the neighbouring bucket near their edge as usual (the open ramp)', () => {
    expect(opensAtTheOpen(0.25)).toBe(0);
    // the same series judged by its own bucket alone pages at the open every day
    expect(opensAtTheOpen(0)).toBeGreaterThanOrEqual(3);
  });
});

describe('flatline', () => {
  const params = (over: Partial<DetectorParams> = {}) => resolveDetectorParams({ seasonal: false, likelihood: 'off', minDurationMs: 0, ...over });

  it('opens when a varying series repeats one value, says so, and resolves once it moves again', () => {
    const e = new DetectorEngine([params()]);
    const s = e.allocSlot();
    const r = rng(4);
    const events: [number, number, number][] = [];
    let t = T0;
    const feed = (n: number, at: () => number) => {
      for (let i = 0; i < n; i++, t += 15_000) {
        const code = e.update(s, t, at());
        if (code !== 0) events.push([t, code, e.outFired]);
      }
    };
    feed(500, () => 50 + r() * 10);
    expect(events).toEqual([]);
    const stuck = 50 + r() * 10;
    feed(19, () => stuck); // 19 repeats of the sample before: not yet
    expect(events).toEqual([]);
    feed(100, () => stuck);
    const lifecycle = () => events.filter((x) => x[1] === EVENT_OPENED || x[1] === EVENT_RESOLVED);
    expect(lifecycle().map((x) => x[1])).toEqual([EVENT_OPENED]);
    expect(events[0][2] & FIRED_FLAT).toBe(FIRED_FLAT);
    expect(firedNames(events[0][2])).toContain('flatline');
    feed(200, () => 50 + r() * 10);
    expect(lifecycle().map((x) => x[1])).toEqual([EVENT_OPENED, EVENT_RESOLVED]);
  });

  it('learns the runs a series has by nature (a queue idle at 0) and does not page on them', () => {
    const e = new DetectorEngine([params()]);
    const s = e.allocSlot();
    const r = rng(8);
    let opened = 0;
    let t = T0;
    for (let k = 0; k < 400; k++) {
      // idle for 10–40 samples, then a short burst of work
      const idle = 10 + Math.floor(r() * 31);
      for (let i = 0; i < idle; i++, t += 15_000) if (e.update(s, t, 0) === EVENT_OPENED && (e.outFired & FIRED_FLAT) !== 0) opened++;
      for (let i = 0; i < 3; i++, t += 15_000) e.update(s, t, 1 + Math.floor(r() * 5));
    }
    expect(opened).toBe(0);
  });

  it('is off with flatSamples 0', () => {
    const e = new DetectorEngine([params({ flatSamples: 0 })]);
    const s = e.allocSlot();
    const r = rng(4);
    let t = T0;
    for (let i = 0; i < 500; i++, t += 15_000) e.update(s, t, 50 + r() * 10);
    let opened = 0;
    for (let i = 0; i < 200; i++, t += 15_000) if (e.update(s, t, 55) === EVENT_OPENED) opened++;
    expect(opened).toBe(0);
  });
});

describe('long-horizon breach (long trend)', () => {
  /** A disk filling 0.5 → 0.95 over 30 h, with noise; returns when the breach event came (h before the breach). */
  function slowFill(trendHorizonMs: number): { leadH: number; timeToBreachH: number } {
    const e = new DetectorEngine([resolveDetectorParams({ seasonal: false, likelihood: 'off', breachThreshold: 0.95, trendHorizonMs })]);
    const s = e.allocSlot();
    const r = rng(21);
    const H = 3_600_000;
    const fillMs = 30 * H;
    let leadH = NaN;
    let timeToBreachH = NaN;
    const out = new Float64Array(3);
    for (let t = 0; t < fillMs; t += STEP) {
      e.update(s, T0 + t, 0.5 + (0.45 * t) / fillMs + (r() - 0.5) * 0.004);
      if (e.outBreachEvent === EVENT_FORECAST_BREACH && leadH !== leadH) {
        leadH = (fillMs - t) / H;
        e.timeToBreach(s, out);
        timeToBreachH = (out[0] - (T0 + t)) / H;
      }
    }
    return { leadH, timeToBreachH };
  }

  it('warns of a slow fill many hours ahead, where the per-sample Holt test sees one hour', () => {
    const long = slowFill(24 * 3_600_000);
    const holtOnly = slowFill(0);
    expect(long.leadH).toBeGreaterThan(12);
    expect(long.leadH).toBeLessThanOrEqual(24);
    // the event says when: the line's crossing, within a few hours of the truth
    expect(Math.abs(long.timeToBreachH - long.leadH)).toBeLessThan(3);
    expect(holtOnly.leadH).toBeLessThan(2);
  });

  it('clears within about an hour when the fill stops, and does not come back', () => {
    const e = new DetectorEngine([resolveDetectorParams({ seasonal: false, likelihood: 'off', breachThreshold: 0.95 })]);
    const s = e.allocSlot();
    const r = rng(5);
    const H = 3_600_000;
    const events: [number, number][] = [];
    let t = 0;
    const feed = (ms: number, at: (dt: number) => number) => {
      for (const end = t + ms; t < end; t += STEP) {
        e.update(s, T0 + t, at(ms - (end - t)) + (r() - 0.5) * 0.004);
        if (e.outBreachEvent !== 0) events.push([t, e.outBreachEvent]);
      }
    };
    feed(8 * H, (dt) => 0.5 + (0.02 * dt) / H); // 2 % an hour: 0.66 after 8 h, full in ~15 h
    expect(events.map((x) => x[1])).toEqual([EVENT_FORECAST_BREACH]);
    const stoppedAt = t;
    feed(12 * H, () => 0.66); // cleaned up: flat from here
    expect(events.map((x) => x[1])).toEqual([EVENT_FORECAST_BREACH, EVENT_BREACH_CLEARED]);
    expect((events[1][0] - stoppedAt) / H).toBeLessThan(1.5);
  });
});

describe('checkpoints of the new state', () => {
  it('carries seasonal buckets, likelihood, breach state, the long trend and the fill run (version 4)', () => {
    expect(CHECKPOINT_VERSION).toBe(4);
    const p = resolveDetectorParams({ breachThreshold: 150, seasonWeekly: true });
    const a = new DetectorEngine([p]);
    const sa = a.allocSlot();
    const r = rng(13);
    for (let t = T0; t < T0 + 3 * DAY; t += 5 * STEP) a.update(sa, t, tradingDay(t % DAY) + r());
    const b = new DetectorEngine([p]);
    const [sb] = b.importSlots(a.exportSlots([sa]));
    expect(b.table.recordBytes(sb)).toEqual(a.table.recordBytes(sa));
    for (let t = T0 + 3 * DAY; t < T0 + 5 * DAY; t += 5 * STEP) {
      const x = tradingDay(t % DAY, 3_600_000) + r();
      expect(b.update(sb, t, x)).toBe(a.update(sa, t, x));
      expect(b.outScore).toBe(a.outScore);
      expect(b.outSeasonalExpected).toBe(a.outSeasonalExpected);
      expect(b.outBreachEvent).toBe(a.outBreachEvent);
    }
    // a version-1 checkpoint (128-byte scalars, no buckets) of the same series still restores
    // its baselines; the newer state starts fresh
    const v1 = toV1(a.exportSlots([sa]), 64);
    const d = new DetectorEngine([p]);
    const [sd] = d.importSlots(v1);
    const ea = new Float64Array(2);
    const ed = new Float64Array(2);
    a.ewmaStats(sa, ea);
    d.ewmaStats(sd, ed);
    expect(ed).toEqual(ea);
    const wa = new Float64Array(3);
    const wd = new Float64Array(3);
    a.windowStats(sa, wa);
    d.windowStats(sd, wd);
    expect(wd).toEqual(wa);
    expect(d.breachState(sd)).toBe('none');
    expect(d.stateName(sd)).toBe(a.stateName(sa));
    expect(d.inspect(sd).samples).toBe(a.inspect(sa).samples);
    // a different bucket count is refused
    const c = new DetectorEngine([resolveDetectorParams({ breachThreshold: 150, seasonWeekly: false })]);
    expect(() => c.importSlots(a.exportSlots([sa]))).toThrow(/seasonal buckets/);
  });
});

/** A version-2 checkpoint of one series rewritten in the version-1 layout (the old field places). */
function toV1(v2: Uint8Array, w: number): Uint8Array {
  const v1 = new Uint8Array(12 + 4 + V1_LAYOUT.scalarBytes + w * 4);
  v1.set(v2.subarray(0, 12));
  v1[4] = 1;
  new DataView(v1.buffer).setUint16(6, V1_LAYOUT.scalarBytes, true);
  v1.set(v2.subarray(12, 14), 12); // window; the second u16 was reserved (0)
  const src = new DataView(v2.buffer, v2.byteOffset + 16, 192);
  const dst = new DataView(v1.buffer, 16, V1_LAYOUT.scalarBytes);
  const now = layout as unknown as Record<string, number>;
  for (const [name, i] of Object.entries(V1_LAYOUT.f64)) dst.setFloat64(i * 8, src.getFloat64(now[name] * 8, true), true);
  for (const [name, i] of Object.entries(V1_LAYOUT.f32)) dst.setFloat32(i * 4, src.getFloat32(now[name] * 4, true), true);
  dst.setUint32(120, src.getUint32(120, true), true);
  dst.setUint32(124, src.getUint32(124, true), true);
  v1.set(v2.subarray(16 + 192, 16 + 192 + w * 4), 16 + V1_LAYOUT.scalarBytes);
  return v1;
}
