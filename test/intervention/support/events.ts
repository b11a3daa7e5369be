// Detector events for the intervention suites: one series per (metric, host, cluster), with a
// full explanation, as the detector emits them.

import { seriesKey, sortedLabels, type AnomalyEvent, type EventKind } from '../../../shared/model/index.js';
import type { InterventionLogger } from '../../../services/intervention/index.js';

export interface EventSpec {
  host: string;
  cluster?: string;
  service?: string;
  metric?: string;
  kind: EventKind;
  startedAt: number;
  ts?: number;
  severity?: 'warning' | 'critical';
  score?: number;
  /** Makes the id unique across runs/suites. */
  tag: string;
}

export function anomalyEvent(s: EventSpec): AnomalyEvent {
  const pairs: [string, string][] = [['__name__', s.metric ?? 'node_load1'], ['host', s.host]];
  if (s.cluster !== undefined) pairs.push(['cluster', s.cluster]);
  if (s.service !== undefined) pairs.push(['service', s.service]);
  const labels = sortedLabels(pairs);
  const key = seriesKey(labels);
  const ts = s.ts ?? Date.now();
  return {
    id: `${s.tag}|${key}|${s.startedAt}|${s.kind}|${ts}`,
    kind: s.kind,
    seriesKey: key,
    labels,
    host: s.host,
    ts,
    startedAt: s.startedAt,
    severity: s.severity ?? 'critical',
    explanation: {
      fired: ['zscore', 'ewma'],
      value: 17.5,
      expected: 2.1,
      lower: 0.4,
      upper: 3.8,
      z: 9.2,
      trendPerS: 0.05,
      score: s.score ?? 0.99,
      summary: `load on ${s.host} 17.5, expected 2.1`,
    },
  };
}

/** A logger that keeps every record (to check what was logged, e.g. that no secret was). */
export class RecordingLogger implements InterventionLogger {
  readonly records: { level: string; obj: object; msg?: string }[] = [];
  info(obj: object, msg?: string): void {
    this.records.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.records.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.records.push({ level: 'error', obj, msg });
  }
  text(): string {
    return JSON.stringify(this.records);
  }
}
