// Per-kind default profiles and the rules that pick a series' profile from its metric name and
// labels. Resolved once per series at slot allocation (`ProfileResolver.resolve`), never per
// sample: the engine reads the profile index from the series record.
//
// Kinds (guessed from Prometheus naming conventions, overridable by rules):
//   ratio    utilisation ratios / percentages in [0, 1] or [0, 100]: *_ratio, *_utilization,
//            *_utilisation, *_percent, *_usage …  steady, seasonal; small absolute noise floor.
//   rate     per-second rates: *_per_second, *_rate, *_rps, *_qps, *_throughput …  seasonal
//            (traffic follows the day), likelihood-gated (bursty).
//   latency  *_seconds, *_latency*, *_duration*, *_ms …  spiky: robust (median/MAD) window.
//   counter  a counter the detector service turns into a rate (*_total, *_count, *_sum, *_bucket):
//            like rate.
//   gauge    everything else (bytes, temperatures, queue lengths…): the defaults.
// Thresholds (forecast breach) per metric pattern come from rules, e.g. CPU 90 %, disk 95 %.
//
// Rule syntax (config `detector.rules`, one string per rule, first match wins):
//   SELECTOR[;SELECTOR…]:KEY=VALUE[;KEY=VALUE…]   (`;` inside a rule, so that the env form
//   FORESHOCK_DETECTOR_RULES can separate rules by commas)
//   SELECTOR: name=~REGEX | name=NAME | LABEL=~REGEX | LABEL=VALUE  (all must match; regexes
//             are anchored, as in PromQL)
//   KEY: kind (ratio|rate|latency|counter|gauge; settings without a kind apply to the gauge defaults), threshold (number, or none), direction
//        (above|below), horizon (duration), trendHorizon, trendWindow (durations; long trend), robust, seasonal, weekly (0|1), likelihood
//        (off|gate|replace), open, close (scores), window, warmup (samples), minDuration,
//        resolveHold (durations)
// Example: `name=~node_filesystem_avail_bytes:threshold=0;direction=below;horizon=4h`,
//          `name=~node_cpu_utili[sz]ation:threshold=0.9`, `name=~.*_latency_seconds;job=api:robust=1`.

import type { MetricInfo, Saturation } from '../../../shared/catalogue/index.js';
import { ForeshockError } from '../../../shared/errors/index.js';
import { parseDuration } from '../../../shared/config/spec.js';
import {
  DEFAULT_DETECTOR_PARAMS, paramsFromConfig, resolveDetectorParams, type DetectorConfigSection, validateDetectorParams,
  type DetectorParams,
} from './params.js';

export const METRIC_KINDS = ['gauge', 'ratio', 'rate', 'latency', 'counter'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

/**
 * The NAB profile (replay --nab, bench:nab): the same engine, tuned on the NAB dev files only
 * (see README "## Detectors"). No state machine is involved there: NAB reads the score.
 */
export const NAB_PARAMS: Readonly<DetectorParams> = Object.freeze(resolveDetectorParams({
  // tuned on the NAB dev half (see README "## Detectors"): a longer window and slower EWMA
  // than SRE defaults (NAB files are days to months at 5 min), the likelihood alone as the
  // score, and a 6 h resolve hold so one episode is one detection
  window: 256,
  ewmaAlpha: 0.02,
  scoreScale: 4,
  warmupSamples: 200,
  seasonal: true,
  seasonWeekly: false,
  seasonUpdateEvery: 1,
  likelihood: 'replace',
  likelihoodShort: 10,
  likelihoodLong: 4000,
  minDurationMs: 0,
  resolveHoldMs: 6 * 3_600_000,
  // NAB's series have no bucket-edge steps (no market open); the edge costs 1.5 points there
  seasonEdge: 0,
  // NAB labels no frozen series; flatline detection costs 0.1 points there
  flatSamples: 0,
}));

/** Default parameters per metric kind (overrides of DEFAULT_DETECTOR_PARAMS). */
export const KIND_DEFAULTS: Readonly<Record<MetricKind, Readonly<DetectorParams>>> = Object.freeze({
  gauge: DEFAULT_DETECTOR_PARAMS,
  // Ratios move little and are bounded: a small absolute floor (0.5 % of full scale) keeps a
  // flat 0.02 CPU from paging on a jump to 0.05.
  ratio: Object.freeze(resolveDetectorParams({ sdFloorAbs: 0.005 })),
  // Rates are bursty and follow the day: gated by the likelihood over a longer short average;
  // their trends do not last, so Holt is damped (φ = 0.98 per sample: a trend's reach levels
  // off after ~50 samples instead of extrapolating a burst for days).
  rate: Object.freeze(resolveDetectorParams({ likelihoodShort: 4, sdFloorRel: 0.01, holtPhi: 0.98 })),
  // Latencies are spiky (GC pauses, retries): median/MAD window, longer minimum duration, damped.
  latency: Object.freeze(resolveDetectorParams({ robust: true, minDurationMs: 60_000, sdFloorRel: 0.01, holtPhi: 0.98 })),
  // A counter's rate at 0 is a counter at rest, not a frozen exporter: no flatline.
  counter: Object.freeze(resolveDetectorParams({ likelihoodShort: 4, sdFloorRel: 0.01, holtPhi: 0.98, flatSamples: 0 })),
});

/** The kind a metric name suggests (Prometheus naming conventions). */
export function kindOfMetric(name: string): MetricKind {
  const n = name.toLowerCase();
  if (/(_total|_count|_sum|_bucket)$/.test(n)) return 'counter';
  if (/(_ratio|_utili[sz]ation|_percent|_pct|_usage|_util)$/.test(n) || /utili[sz]ation|_ratio_/.test(n)) return 'ratio';
  if (/(_seconds|_latency|_duration|_ms|_milliseconds|_rtt)$/.test(n) || /latency|duration/.test(n)) return 'latency';
  if (/(_per_second|_rate|_rps|_qps|_throughput|_ops)$/.test(n) || /per_second/.test(n)) return 'rate';
  return 'gauge';
}

interface Selector {
  readonly label: string; // '__name__' for name
  readonly re: RegExp | null;
  readonly value: string;
}

/** One parsed rule: its selectors and the kind + overrides it applies. */
export interface DetectorRule {
  readonly text: string;
  readonly selectors: readonly Selector[];
  readonly kind: MetricKind | null;
  readonly overrides: Partial<DetectorParams>;
}

function ruleError(i: number, text: string, why: string): ForeshockError {
  return new ForeshockError('FS_CONFIG', `detector.rules[${i}] "${text}": ${why}`);
}

const BOOL: Record<string, boolean> = { '1': true, true: true, yes: true, '0': false, false: false, no: false };

/** Parses the `detector.rules` strings; throws a ForeshockError (FS_CONFIG) naming the rule. */
export function parseDetectorRules(texts: readonly string[]): DetectorRule[] {
  return texts.map((text, i) => {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw ruleError(i, text, 'expected SELECTOR[;SELECTOR…]:KEY=VALUE[;KEY=VALUE…]');
    const selectors: Selector[] = [];
    for (const part of text.slice(0, colon).split(';')) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|=)\s*(.*?)\s*$/.exec(part);
      if (!m) throw ruleError(i, text, `selector "${part}" is not LABEL=VALUE or LABEL=~REGEX`);
      const label = m[1] === 'name' ? '__name__' : m[1];
      let re: RegExp | null = null;
      if (m[2] === '=~') {
        try {
          re = new RegExp(`^(?:${m[3]})$`);
        } catch (err) {
          throw ruleError(i, text, `bad regex "${m[3]}": ${(err as Error).message}`);
        }
      }
      selectors.push({ label, re, value: m[3] });
    }
    let kind: MetricKind | null = null;
    const o: Partial<DetectorParams> & Record<string, unknown> = {};
    for (const kv of text.slice(colon + 1).split(';')) {
      const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(kv);
      if (!m) throw ruleError(i, text, `setting "${kv}" is not KEY=VALUE`);
      const [, key, v] = m;
      const numv = (): number => {
        const x = Number(v);
        if (v === '' || !Number.isFinite(x)) throw ruleError(i, text, `${key} must be a number (got "${v}")`);
        return x;
      };
      const boolv = (): boolean => {
        const b = BOOL[v.toLowerCase()];
        if (b === undefined) throw ruleError(i, text, `${key} must be 0 or 1 (got "${v}")`);
        return b;
      };
      const durv = (): number => {
        const d = parseDuration(v);
        if (d === null) throw ruleError(i, text, `${key} must be a duration like 30s, 5m, 4h (got "${v}")`);
        return d;
      };
      switch (key) {
        case 'kind':
          if (!(METRIC_KINDS as readonly string[]).includes(v)) throw ruleError(i, text, `kind must be one of ${METRIC_KINDS.join(', ')}`);
          kind = v as MetricKind;
          break;
        case 'threshold': o.breachThreshold = v === 'none' ? null : numv(); break;
        case 'direction':
          if (v !== 'above' && v !== 'below') throw ruleError(i, text, 'direction must be above or below');
          o.breachDirection = v;
          break;
        case 'horizon': o.breachHorizonMs = durv(); break;
        case 'trendHorizon': o.trendHorizonMs = durv(); break;
        case 'trendWindow': o.trendWindowMs = durv(); break;
        case 'robust': o.robust = boolv(); break;
        case 'seasonal': o.seasonal = boolv(); break;
        case 'weekly': o.seasonWeekly = boolv(); break;
        case 'likelihood':
          if (v !== 'off' && v !== 'gate' && v !== 'replace') throw ruleError(i, text, 'likelihood must be off, gate or replace');
          o.likelihood = v;
          break;
        case 'open': o.openScore = numv(); break;
        case 'close': o.closeScore = numv(); break;
        case 'window': o.window = numv(); break;
        case 'warmup': o.warmupSamples = numv(); break;
        case 'minDuration': o.minDurationMs = durv(); break;
        case 'resolveHold': o.resolveHoldMs = durv(); break;
        default:
          throw ruleError(i, text, `unknown key "${key}" (known: kind, threshold, direction, horizon, robust, seasonal, weekly, likelihood, open, close, window, warmup, minDuration, resolveHold)`);
      }
    }
    // Validate the rule against the defaults of its kind now, so a bad value fails at load.
    const problems = validateDetectorParams({ ...KIND_DEFAULTS[kind ?? 'gauge'], ...o });
    if (problems.length > 0) throw ruleError(i, text, problems.map((p) => `${p.name}: ${p.reason}`).join('; '));
    return { text, selectors, kind, overrides: o };
  });
}

function matches(rule: DetectorRule, name: string, labels: Readonly<Record<string, string>>): boolean {
  for (const s of rule.selectors) {
    const v = s.label === '__name__' ? name : (labels[s.label] ?? '');
    if (s.re !== null ? !s.re.test(v) : v !== s.value) return false;
  }
  return true;
}

/**
 * Builds the engine's profile list (the kinds first, then one per rule with settings of its
 * own; the NAB profile is not among them: its longer window would widen every record) and maps a series to its profile index. `base` adjusts every kind (the
 * `detector` config section's global keys).
 */
/** The detector settings a catalogue saturation model implies (forecast of its capacity, threshold state). */
export function saturationOverrides(s: Saturation): Partial<DetectorParams> {
  const o: Partial<DetectorParams> = {
    breachDirection: s.direction,
    saturationThreshold: s.threshold,
    saturationForMs: s.forMs,
    saturationClearMs: Math.max(60_000, s.forMs / 2),
    fillRun: s.fills,
  };
  if (s.capacity !== null) {
    o.breachThreshold = s.capacity;
    o.breachHorizonMs = s.horizonMs;
  }
  return o;
}

function saturationKey(kind: MetricKind, s: Saturation): string {
  return `${kind}|${s.direction}|${s.threshold}|${s.forMs}|${s.capacity}|${s.horizonMs}|${s.fills}`;
}

export class ProfileResolver {
  readonly profiles: readonly DetectorParams[];
  readonly rules: readonly DetectorRule[];
  private readonly ruleProfile: number[];
  /** Profiles of catalogue saturation models, by kind and model. */
  private readonly saturationProfile = new Map<string, number>();

  /**
   * @param saturations the catalogue's saturation models with their kinds (every model a
   *   series may resolve to must be known here: the engine's profiles are fixed at start).
   */
  constructor(
    rules: readonly DetectorRule[] = [],
    base: (p: DetectorParams) => DetectorParams = (p) => p,
    saturations: readonly { kind: MetricKind | null; saturation: Saturation }[] = [],
  ) {
    const profiles: DetectorParams[] = METRIC_KINDS.map((k) => base({ ...KIND_DEFAULTS[k] }));
    for (const { kind, saturation } of saturations) {
      const k = kind ?? 'gauge';
      const key = saturationKey(k, saturation);
      if (this.saturationProfile.has(key)) continue;
      profiles.push({ ...profiles[METRIC_KINDS.indexOf(k)], ...saturationOverrides(saturation) });
      this.saturationProfile.set(key, profiles.length - 1);
    }
    this.ruleProfile = rules.map((r) => {
      const kindIdx = r.kind === null ? -1 : METRIC_KINDS.indexOf(r.kind);
      if (Object.keys(r.overrides).length === 0) return kindIdx; // -1: the name's kind
      // settings without a kind apply to the gauge defaults
      profiles.push({ ...(kindIdx >= 0 ? profiles[kindIdx] : profiles[0]), ...r.overrides });
      return profiles.length - 1;
    });
    if (profiles.length > 256) throw new ForeshockError('FS_CONFIG', `detector.rules: ${profiles.length} profiles exceed 256`);
    this.profiles = profiles;
    this.rules = rules;
  }

  /**
   * Profile index of a series: the first matching rule, else what the catalogue says of it
   * (`info`: its kind and saturation model), else its name's kind. Cold path: once per series.
   */
  resolve(name: string, labels: Readonly<Record<string, string>> = {}, info?: MetricInfo): number {
    const kind: MetricKind = info?.kind ?? kindOfMetric(name);
    for (let i = 0; i < this.rules.length; i++) {
      if (!matches(this.rules[i], name, labels)) continue;
      const p = this.ruleProfile[i];
      return p >= 0 ? p : this.kindIndex(kind);
    }
    if (info?.saturation) {
      const p = this.saturationProfile.get(saturationKey(info.kind ?? 'gauge', info.saturation));
      if (p !== undefined) return p;
    }
    return this.kindIndex(kind);
  }

  kindIndex(kind: MetricKind): number {
    return METRIC_KINDS.indexOf(kind);
  }
}

/**
 * The resolver for a service: the `detector` config section's global keys applied to every
 * kind (except nab), its `rules` parsed. Build the engine with `resolver.profiles` and pick a
 * series' slot profile with `resolver.resolve(name, labels)` when the slot is allocated.
 */
export function profileResolverFromConfig(
  c: DetectorConfigSection, saturations: readonly { kind: MetricKind | null; saturation: Saturation }[] = [],
): ProfileResolver {
  return new ProfileResolver(parseDetectorRules(c.rules ?? []), (p) => paramsFromConfig(c, p), saturations);
}
