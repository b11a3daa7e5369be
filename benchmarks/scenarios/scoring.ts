// Scoring of `npm run bench:scenarios`: what the detector raised on each labelled series,
// turned into the figures an SRE team judges a pager by (recall, false alerts per 1000
// series-days, detection delay, warning lead time before a breach).
//
// Definitions (times in ms; only signals at or after the series' scoredFromMs count):
//   signal          an anomaly alert (opened) or a forecast-breach warning
//   detected        a troubled series with a signal in [troubleStartMs, windowEndMs]
//   delay           first such signal − troubleStartMs
//   false alert     a signal on a normal series, or on a troubled one before troubleStartMs
//   normal time     the scored time of normal series plus the scored time before each trouble;
//                   false alerts are counted per 1000 days of it
//   lead time       breachMs − first signal in [troubleStartMs, breachMs), for series that
//                   breach; `forecast_lead` uses forecast-breach warnings only

import { DAY_MS } from './generator.js';

export interface SeriesOutcome {
  /** NaN for a normal series. */
  troubleStartMs: number;
  windowEndMs: number;
  /** NaN when the series does not breach a threshold within the run. */
  breachMs: number;
  scoredFromMs: number;
  /** Time just after the last sample. */
  endMs: number;
  /** Times anomalies opened, ascending. */
  alerts: readonly number[];
  /** Times of forecast-breach warnings, ascending (empty when the detector emits none). */
  warnings: readonly number[];
}

export interface SeriesScore {
  troubled: boolean;
  /** The series crosses its threshold within the run. */
  breaches: boolean;
  /** First signal inside the detection window; NaN when none. */
  detectedAtMs: number;
  /** detectedAtMs − troubleStartMs; NaN when not detected. */
  delayMs: number;
  falseAlerts: number;
  /** The forecast-breach warnings among falseAlerts. */
  falseWarnings: number;
  /** Signals during the burn-in (not scored). */
  burnInSignals: number;
  scoredDays: number;
  normalDays: number;
  /** breachMs − first signal in [start, breach); NaN when no breach or no signal before it. */
  leadMs: number;
  /** The same from forecast-breach warnings only. */
  forecastLeadMs: number;
}

/** The figures printed per scenario and for the total. */
export interface ScenarioScore {
  series: number;
  series_days: number;
  troubled_series: number;
  detected: number;
  /** detected / troubled_series; null when no series is troubled. */
  recall: number | null;
  false_alerts: number;
  /** The forecast-breach warnings among false_alerts. */
  false_forecast_warnings: number;
  normal_series_days: number;
  false_alerts_per_1000_series_days: number | null;
  median_detection_delay_s: number | null;
  breaching_series: number;
  warned_before_breach: number;
  median_lead_time_s: number | null;
  forecast_warned_before_breach: number;
  median_forecast_lead_time_s: number | null;
  burn_in_signals: number;
}

function firstIn(times: readonly number[], lo: number, hi: number, hiInclusive: boolean): number {
  for (const t of times) {
    if (t < lo) continue;
    if (t < hi || (hiInclusive && t === hi)) return t;
    break;
  }
  return NaN;
}

export function scoreSeries(o: SeriesOutcome): SeriesScore {
  const troubled = o.troubleStartMs === o.troubleStartMs;
  const signals = [...o.alerts, ...o.warnings].sort((a, b) => a - b);
  let falseAlerts = 0;
  let falseWarnings = 0;
  let burnInSignals = 0;
  for (const t of signals) {
    if (t < o.scoredFromMs) burnInSignals++;
    else if (!troubled || t < o.troubleStartMs) falseAlerts++;
  }
  for (const t of o.warnings) if (t >= o.scoredFromMs && (!troubled || t < o.troubleStartMs)) falseWarnings++;
  const scoredDays = Math.max(0, o.endMs - o.scoredFromMs) / DAY_MS;
  const normalDays = troubled ? Math.max(0, Math.min(o.troubleStartMs, o.endMs) - o.scoredFromMs) / DAY_MS : scoredDays;
  let detectedAtMs = NaN;
  let leadMs = NaN;
  let forecastLeadMs = NaN;
  if (troubled) {
    const from = Math.max(o.troubleStartMs, o.scoredFromMs);
    detectedAtMs = firstIn(signals, from, o.windowEndMs, true);
    if (o.breachMs === o.breachMs) {
      leadMs = o.breachMs - firstIn(signals, from, o.breachMs, false);
      forecastLeadMs = o.breachMs - firstIn(o.warnings, from, o.breachMs, false);
    }
  }
  const breaches = troubled && o.breachMs === o.breachMs;
  return { troubled, breaches, detectedAtMs, delayMs: detectedAtMs - o.troubleStartMs, falseAlerts, falseWarnings, burnInSignals, scoredDays, normalDays, leadMs, forecastLeadMs };
}

/** Median of the finite values (mean of the middle two for an even count); null when none. */
export function median(values: readonly number[]): number | null {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Aggregates per-series scores (one scenario, or all of them for the total). */
export function aggregate(scores: readonly SeriesScore[]): ScenarioScore {
  let seriesDays = 0;
  let normalDays = 0;
  let troubled = 0;
  let detected = 0;
  let falseAlerts = 0;
  let falseWarnings = 0;
  let burnIn = 0;
  let breaching = 0;
  const delays: number[] = [];
  const leads: number[] = [];
  const forecastLeads: number[] = [];
  for (const s of scores) {
    seriesDays += s.scoredDays;
    normalDays += s.normalDays;
    falseAlerts += s.falseAlerts;
    falseWarnings += s.falseWarnings;
    burnIn += s.burnInSignals;
    if (!s.troubled) continue;
    troubled++;
    if (s.detectedAtMs === s.detectedAtMs) {
      detected++;
      delays.push(s.delayMs / 1000);
    }
    if (s.breaches) breaching++;
    if (s.leadMs === s.leadMs) leads.push(s.leadMs / 1000);
    if (s.forecastLeadMs === s.forecastLeadMs) forecastLeads.push(s.forecastLeadMs / 1000);
  }
  return {
    series: scores.length,
    series_days: round(seriesDays, 3),
    troubled_series: troubled,
    detected,
    recall: troubled > 0 ? round(detected / troubled, 4) : null,
    false_alerts: falseAlerts,
    false_forecast_warnings: falseWarnings,
    normal_series_days: round(normalDays, 3),
    false_alerts_per_1000_series_days: normalDays > 0 ? round((falseAlerts / normalDays) * 1000, 2) : null,
    median_detection_delay_s: median(delays),
    breaching_series: breaching,
    warned_before_breach: leads.length,
    median_lead_time_s: median(leads),
    forecast_warned_before_breach: forecastLeads.length,
    median_forecast_lead_time_s: median(forecastLeads),
    burn_in_signals: burnIn,
  };
}
