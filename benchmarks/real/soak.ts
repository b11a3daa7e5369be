// What a quiet soak of a RealStack did: alerts Alertmanager received, anomalies Foreshock opened
// (by role), per 1000 series-hours and series-days, and the metrics and detectors behind them.

import type { AnomalyEvent } from '../../shared/model/index.js';
import type { RealStack } from './stack.js';

export interface SoakSummary {
  minutes: number;
  /** Series Foreshock scored at the end (derived signals included). */
  series: number;
  /** Series-hours after warm-up (series × time since the warm-up ended). */
  seriesHoursAfterWarmup: number;
  alerts: number;
  alertNames: string[];
  anomaliesOpened: number;
  contextAnomalies: number;
  signalAnomalies: number;
  contextPer1000SeriesHours: number;
  falsePagesPer1000SeriesDays: number;
  topMetrics: { metric: string; detectors: string; opened: number }[];
}

/** Anomaly events of the run (the API keeps the recent ones; a soak stays well within). */
export async function openedAnomalies(stack: RealStack): Promise<AnomalyEvent[]> {
  const out: AnomalyEvent[] = [];
  let before: string | null = null;
  for (let page = 0; page < 100; page++) {
    const q: string = `/api/v1/anomalies?kind=anomaly_opened&limit=1000${before === null ? '' : `&before=${before}`}`;
    const r: { anomalies: AnomalyEvent[]; next: string | null } = await stack.api(q);
    out.push(...r.anomalies);
    if (r.next === null || r.anomalies.length === 0) break;
    before = r.next;
  }
  return out;
}

/**
 * Summary of a soak that ran from `startedAt` for `minutes`; the warm-up (no anomaly can open
 * before it) is `warmupMs` from the start.
 */
export async function summariseSoak(stack: RealStack, startedAt: number, minutes: number, warmupMs: number): Promise<SoakSummary> {
  const series = (await stack.api<{ total: number }>('/api/v1/series?limit=1')).total;
  const hours = Math.max(0, (Date.now() - startedAt - warmupMs) / 3_600_000);
  const seriesHours = series * hours;
  const opened = (await openedAnomalies(stack)).filter((e) => e.ts >= startedAt);
  const context = opened.filter((e) => e.role !== 'signal');
  const byMetric = new Map<string, number>();
  for (const e of opened) {
    const k = `${e.labels.__name__ ?? '?'}\u0000${e.explanation.fired.join(',')}`;
    byMetric.set(k, (byMetric.get(k) ?? 0) + 1);
  }
  const alerts = [...stack.alerts.values()].filter((a) => a.lastSeen >= startedAt);
  return {
    minutes,
    series,
    seriesHoursAfterWarmup: round(seriesHours, 1),
    alerts: alerts.length,
    alertNames: alerts.map((a) => `${a.labels.alertname} ${a.labels.host ?? ''}: ${a.annotations.summary ?? ''}`),
    anomaliesOpened: opened.length,
    contextAnomalies: context.length,
    signalAnomalies: opened.length - context.length,
    contextPer1000SeriesHours: seriesHours > 0 ? round((context.length * 1000) / seriesHours, 3) : 0,
    falsePagesPer1000SeriesDays: seriesHours > 0 ? round((alerts.length * 1000 * 24) / seriesHours, 3) : 0,
    topMetrics: [...byMetric.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, n]) => {
      const [metric, detectors] = k.split('\u0000');
      return { metric, detectors, opened: n };
    }),
  };
}

function round(x: number, d: number): number {
  const p = 10 ** d;
  return Math.round(x * p) / p;
}
