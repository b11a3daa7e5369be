// Labelled SRE scenarios for `npm run bench:scenarios` (and the series `bench:vs-promql` feeds
// Prometheus): deterministic synthetic metric series of a trading platform, each with the
// ground truth of when its trouble starts and when it would cross its threshold.
//
// A series is planned (`planSeries`: parameters and ground truth, no samples) and then
// rendered (`renderSeries`: samples into a caller's Float64Array). The ground truth is taken
// from the noiseless signal: `breachMs` is the first sample time at which the expected value
// reaches the threshold, so noise can neither advance nor hide it.
//
// Time is UTC; the market trades Monday to Friday 08:00–16:30 with an opening burst, a lunch
// dip and a post-close tail; weekends are quiet. The default timeline starts on a Monday.

import { mixSeed, Rng } from './rng.js';

export const SCENARIOS = ['daily_rhythm', 'cpu_creep', 'memory_leak', 'disk_fill', 'deploy_step', 'spike', 'flatline', 'noise'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Scenarios whose series are normal throughout: any alert on them is false. */
export const NORMAL_SCENARIOS: readonly ScenarioName[] = ['daily_rhythm', 'noise'];

/** CPU utilisation the creep heads for, and disk usage the fill heads for (ratios). */
export const CPU_THRESHOLD = 0.9;
export const DISK_THRESHOLD = 0.95;
/** Container memory limits of the memory-leak series (GiB), carried in their `limit` label. */
export const MEMORY_LIMITS_GIB: readonly number[] = [4, 6, 8];

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export interface Timeline {
  /** First sample time (ms since the epoch). */
  startMs: number;
  /** Sample interval (ms). */
  stepMs: number;
  /** Length of every series (days). */
  days: number;
  /** Leading days in which no trouble starts and alerts are not scored (the detectors learn). */
  burnInDays: number;
  /** Run seed: the same seed gives the same series, bit for bit. */
  seed: number;
}

/**
 * Monday 2026-01-05 00:00 UTC, 15 s samples, one week (so the quiet weekend is in it), the
 * first two days for learning (a daily profile needs a day or two of history).
 */
export const DEFAULT_TIMELINE: Readonly<Timeline> = Object.freeze({
  startMs: Date.UTC(2026, 0, 5),
  stepMs: 15_000,
  days: 7,
  burnInDays: 2,
  seed: 1,
});

/** How a scenario's value moves; the parameters not used by a scenario stay 0. */
interface Model {
  /** Level outside trading hours (or the constant level). */
  base: number;
  /** Added at full trading (market shape 1). */
  amp: number;
  /** Marginal noise sd (absolute; for multiplicative noise, of log value). */
  noiseSd: number;
  /** AR(1) coefficient of the noise. */
  arPhi: number;
  /** Noise multiplies the value (log-normal), as for latencies. */
  multiplicative: boolean;
  /** Growth of the trading amplitude per day after the start (cpu creep), or units per ms (leak, fill). */
  rate: number;
  /** Step: added (or, for latency, the factor) from the start on; spike: its height. */
  step: number;
  /** End of a spike (ms). */
  spikeEndMs: number;
  /** Value range the expected value is clamped to. */
  lo: number;
  hi: number;
}

export interface ScenarioSeries {
  scenario: ScenarioName;
  /** Index within its scenario. */
  index: number;
  /** Sub-case of the scenario (e.g. 'latency' or 'cpu' for a deploy step). */
  variant: string;
  metric: string;
  labels: Readonly<Record<string, string>>;
  startMs: number;
  stepMs: number;
  samples: number;
  /** When the trouble starts (ms); NaN for a normal series. */
  troubleStartMs: number;
  /**
   * End of the window in which detecting the trouble counts (ms): the breach, else the end of
   * a short-lived trouble, else the end of the series. NaN for a normal series.
   */
  windowEndMs: number;
  /** Threshold the trouble heads for; NaN when it has none. */
  threshold: number;
  /** First sample time at which the noiseless value reaches `threshold`; NaN when never within the series. */
  breachMs: number;
  /** Sample times before this (the burn-in) are not scored. */
  scoredFromMs: number;
  readonly model: Readonly<Model>;
  readonly seed: number;
}

/**
 * The thresholds of these series as an SRE team would configure them (`detector.rules`):
 * CPU 90 % and disk 95 % as ratios, each container's memory limit by its `limit` label.
 */
export function thresholdRules(): string[] {
  return [
    `name=node_cpu_utilisation_ratio:kind=ratio;threshold=${CPU_THRESHOLD}`,
    `name=node_filesystem_used_ratio:kind=ratio;threshold=${DISK_THRESHOLD}`,
    ...MEMORY_LIMITS_GIB.map((g) => `name=container_memory_working_set_bytes;limit=${g}GiB:threshold=${g * 2 ** 30}`),
  ];
}

/** Trading activity in [0, ~1.3] at time `t` (ms, UTC): 0 on weekends and at night. */
export function marketShape(t: number): number {
  const dayNo = Math.floor(t / DAY_MS);
  // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
  const weekday = (((dayNo + 3) % 7) + 7) % 7;
  if (weekday >= 5) return 0;
  const h = (t - dayNo * DAY_MS) / HOUR_MS;
  if (h < 7 || h >= 18) return 0;
  if (h < 8) return 0.15 * (h - 7); // pre-market
  const open = smoothstep((h - 8) * 6); // 10 minutes to full activity
  const burst = 0.3 * open * Math.exp(-(h - 8) * 4); // the opening auction, decaying over ~15 min
  let m = 0.15 + 0.85 * open + burst;
  if (h >= 12 && h < 13) m -= 0.15 * Math.sin(Math.PI * (h - 12)); // lunch
  if (h >= 16.5) m = (m - 0.1) * (1 - smoothstep((h - 16.5) * 6)) + 0.1 * Math.max(0, (18 - h) / 1.5);
  return m;
}

/** Highest value of `marketShape` (the opening peak), found by scanning a Monday at 15 s. */
export const MARKET_PEAK = ((): number => {
  let peak = 0;
  for (let t = DEFAULT_TIMELINE.startMs; t < DEFAULT_TIMELINE.startMs + DAY_MS; t += 15_000) peak = Math.max(peak, marketShape(t));
  return peak;
})();

function smoothstep(x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

/**
 * The series `index` of `scenario` on `timeline`: parameters drawn from its own seeded stream
 * and the ground truth from the noiseless signal.
 */
export function planSeries(scenario: ScenarioName, index: number, timeline: Timeline = DEFAULT_TIMELINE): ScenarioSeries {
  const { startMs, stepMs, days, burnInDays } = timeline;
  if (!(stepMs > 0) || !(days > 0) || !(burnInDays >= 0) || burnInDays >= days) {
    throw new RangeError(`timeline: need stepMs > 0 and 0 ≤ burnInDays < days (got ${stepMs}, ${burnInDays}, ${days})`);
  }
  const seed = mixSeed(timeline.seed, SCENARIOS.indexOf(scenario), index);
  const r = new Rng(seed);
  const samples = Math.floor((days * DAY_MS) / stepMs);
  const endMs = startMs + samples * stepMs;
  const scoredFromMs = startMs + burnInDays * DAY_MS;
  // Trouble starts on a sample, in the first half of the scored part, so most of it plays out.
  const startAt = (): number => {
    const t = scoredFromMs + r.uniform(0.05, 0.5) * (endMs - scoredFromMs);
    return startMs + Math.ceil((t - startMs) / stepMs) * stepMs;
  };
  const m: Model = { base: 0, amp: 0, noiseSd: 0, arPhi: 0, multiplicative: false, rate: 0, step: 0, spikeEndMs: NaN, lo: -Infinity, hi: Infinity };
  let variant = 'default';
  let metric: string;
  let troubleStartMs = NaN;
  let threshold = NaN;
  let windowEndMs = NaN;
  const cpu = (): void => {
    m.base = r.uniform(0.1, 0.25);
    m.amp = r.uniform(0.25, 0.45);
    m.noiseSd = r.uniform(0.01, 0.025);
    m.arPhi = 0.6;
    m.lo = 0;
    m.hi = 1;
  };

  switch (scenario) {
    case 'daily_rhythm':
      metric = 'node_cpu_utilisation_ratio';
      cpu();
      break;
    case 'cpu_creep': {
      metric = 'node_cpu_utilisation_ratio';
      cpu();
      threshold = CPU_THRESHOLD;
      troubleStartMs = startAt();
      // Trading volume grows so that the opening peak reaches 90 % after 0.5–1.5 days (on the
      // first trading morning after that; a creep that gets there on a weekend breaches on
      // Monday, after the series ends).
      const gNeeded = (threshold - m.base) / (m.amp * MARKET_PEAK);
      m.rate = (gNeeded - 1) / r.uniform(0.5, 1.5);
      break;
    }
    case 'memory_leak': {
      metric = 'container_memory_working_set_bytes';
      const gib = 2 ** 30;
      const limitGiB = MEMORY_LIMITS_GIB[Math.floor(r.next() * MEMORY_LIMITS_GIB.length)];
      variant = `${limitGiB}GiB`;
      m.base = Math.round(r.uniform(1, limitGiB - 1.5) * 4) * (gib / 4);
      m.amp = 0.05 * m.base;
      m.noiseSd = 0.004 * m.base;
      m.arPhi = 0.8;
      m.lo = 0;
      threshold = limitGiB * gib; // the container's memory limit (label `limit`)
      m.hi = threshold;
      troubleStartMs = startAt();
      m.rate = (threshold - m.base - m.amp) / (r.uniform(0.5, 2) * DAY_MS);
      break;
    }
    case 'disk_fill': {
      metric = 'node_filesystem_used_ratio';
      m.base = r.uniform(0.4, 0.7);
      m.amp = 0.005; // logs grow through the day and rotate at midnight (see expectedValue)
      m.noiseSd = 0.0005;
      m.arPhi = 0.9;
      m.lo = 0;
      m.hi = 1;
      threshold = DISK_THRESHOLD;
      troubleStartMs = startAt();
      m.rate = (threshold - m.base - m.amp) / (r.uniform(0.25, 2) * DAY_MS);
      break;
    }
    case 'deploy_step':
      troubleStartMs = startAt();
      windowEndMs = troubleStartMs + HOUR_MS;
      if (index % 2 === 0) {
        variant = 'latency';
        metric = 'http_request_duration_seconds_p99';
        m.base = r.uniform(0.05, 0.2);
        m.amp = 0.3 * m.base;
        m.noiseSd = 0.08;
        m.arPhi = 0.5;
        m.multiplicative = true;
        m.lo = 0;
        m.step = r.uniform(1.5, 3); // the new release is this many times slower
      } else {
        variant = 'cpu';
        metric = 'node_cpu_utilisation_ratio';
        cpu();
        m.step = r.uniform(0.1, 0.2); // the new release burns this much more CPU
      }
      break;
    case 'spike':
      metric = 'node_cpu_utilisation_ratio';
      cpu();
      troubleStartMs = startAt();
      m.spikeEndMs = troubleStartMs + Math.round(r.uniform(2, 5)) * MINUTE_MS;
      m.step = r.uniform(8, 15) * m.noiseSd;
      windowEndMs = m.spikeEndMs + 5 * MINUTE_MS;
      break;
    case 'flatline':
      metric = 'http_requests_per_second';
      m.base = r.uniform(20, 80);
      m.amp = r.uniform(200, 800);
      m.noiseSd = 0.05;
      m.arPhi = 0.5;
      m.multiplicative = true;
      m.lo = 0;
      troubleStartMs = startAt();
      windowEndMs = troubleStartMs + HOUR_MS;
      // Dead: the service stops serving (rate 0); frozen: the exporter repeats its last value.
      variant = index % 2 === 0 ? 'dead' : 'frozen';
      break;
    case 'noise':
      metric = 'queue_depth';
      m.base = r.uniform(10, 1000);
      m.noiseSd = r.uniform(0.01, 0.1) * m.base;
      break;
    default:
      throw new RangeError(`unknown scenario ${String(scenario)}`);
  }

  const s: ScenarioSeries = {
    scenario,
    index,
    variant,
    metric,
    labels: {
      __name__: metric,
      host: `${scenario.replace(/_/g, '-')}-${index}`,
      cluster: `c${index % 7}`,
      service: scenario,
      ...(scenario === 'memory_leak' ? { limit: variant } : {}),
    },
    startMs,
    stepMs,
    samples,
    troubleStartMs,
    windowEndMs,
    threshold,
    breachMs: NaN,
    scoredFromMs,
    model: Object.freeze(m),
    seed,
  };
  if (threshold === threshold) {
    const from = Math.round((troubleStartMs - startMs) / stepMs);
    for (let i = from; i < samples; i++) {
      const t = startMs + i * stepMs;
      if (expectedValue(s, t) >= threshold) {
        s.breachMs = t;
        break;
      }
    }
  }
  if (troubleStartMs === troubleStartMs && windowEndMs !== windowEndMs) {
    s.windowEndMs = s.breachMs === s.breachMs ? s.breachMs : endMs;
  }
  if (s.windowEndMs > endMs) s.windowEndMs = endMs;
  return s;
}

/** The noiseless value of `s` at time `t` (ms): what the ground truth is read from. */
export function expectedValue(s: ScenarioSeries, t: number): number {
  const m = s.model;
  const mk = marketShape(t);
  const after = s.troubleStartMs === s.troubleStartMs && t >= s.troubleStartMs;
  const since = after ? t - s.troubleStartMs : 0;
  let v: number;
  switch (s.scenario) {
    case 'cpu_creep':
      v = m.base + m.amp * mk * (1 + (m.rate * since) / DAY_MS);
      break;
    case 'memory_leak':
      v = m.base + m.amp * mk + m.rate * since;
      break;
    case 'disk_fill': {
      const dayFrac = (t - Math.floor(t / DAY_MS) * DAY_MS) / DAY_MS;
      v = m.base + m.amp * dayFrac + m.rate * since;
      break;
    }
    case 'deploy_step':
      v = m.base + m.amp * mk;
      if (after) v = m.multiplicative ? v * m.step : v + m.step;
      break;
    case 'spike':
      v = m.base + m.amp * mk + (after && t < m.spikeEndMs ? m.step : 0);
      break;
    case 'flatline':
      v = after && s.variant === 'dead' ? 0 : m.base + m.amp * mk;
      break;
    default:
      v = m.base + m.amp * mk;
  }
  return v < m.lo ? m.lo : v > m.hi ? m.hi : v;
}

/**
 * Writes samples `from … from + out.length − 1` of `s` into `out` (times startMs + i·stepMs).
 * Deterministic: the same series always renders the same values, whatever `from` (the noise
 * stream is replayed from the first sample).
 */
export function renderSeries(s: ScenarioSeries, out: Float64Array, from = 0): void {
  const n = out.length;
  if (!Number.isInteger(from) || from < 0 || from + n > s.samples) {
    throw new RangeError(`renderSeries: samples ${from}…${from + n - 1} outside 0…${s.samples - 1}`);
  }
  const m = s.model;
  const r = new Rng(mixSeed(s.seed, 0x5eed));
  const innov = m.noiseSd * Math.sqrt(1 - m.arPhi * m.arPhi);
  let ar = m.noiseSd * r.gauss();
  const frozen = s.variant === 'frozen';
  let last = NaN;
  for (let i = 0; i < from + n; i++) {
    if (i > 0) ar = m.arPhi * ar + innov * r.gauss();
    const t = s.startMs + i * s.stepMs;
    let v: number;
    if (frozen && t >= s.troubleStartMs) {
      v = last;
    } else {
      const e = expectedValue(s, t);
      v = m.multiplicative ? e * Math.exp(ar) : e + ar;
      if (v < m.lo) v = m.lo;
      else if (v > m.hi && m.hi <= 1) v = m.hi; // ratios stay ratios; a leak may overshoot its limit
      last = v;
    }
    if (i >= from) out[i - from] = v;
  }
}
