// Alert records as the intervention stage keeps them in the StateStore and the API lists them.

import type { EventFamily, Explanation } from './events.js';
import type { Labels } from './labels.js';

/** StateStore hash holding one JSON AlertRecord per alert id. */
export const ALERTS_KEY = 'fs:alerts';
/** StateStore log of recent detector events (JSON AnomalyEvent), newest last. */
export const EVENTS_LOG = 'fs:events';

/** One series' episode in a group alert, as the alert lists it. */
export interface AlertMember {
  family: EventFamily;
  seriesKey: string;
  metric: string;
  /** This member may page (a signal, in the direction that matters); context members only explain. */
  pages: boolean;
  severity: 'warning' | 'critical';
  score: number;
  summary: string;
  /** Event time of its last event (ms). */
  ts: number;
}

export interface AlertRecord {
  id: string;
  alertname: string;
  seriesKey: string;
  labels: Labels;
  host: string;
  severity: 'warning' | 'critical';
  status: 'firing' | 'resolved';
  startsAt: number;
  endsAt: number | null;
  lastSentAt: number | null;
  explanation: Explanation;
  /** Group alerts: the series involved (member key → what it says), see rankedMembers. */
  memberInfo?: Record<string, AlertMember>;
  /** A group record that holds context members only: never fired, never sent, not listed. */
  quiet?: boolean;
}

/** Members that page, strongest first, then the context members: how an alert lists its series. */
export function rankedMembers(record: { memberInfo?: Record<string, AlertMember> }): AlertMember[] {
  const sev = (m: AlertMember) => (m.severity === 'critical' ? 1 : 0);
  return Object.values(record.memberInfo ?? {}).sort(
    (a, b) => Number(b.pages) - Number(a.pages) || sev(b) - sev(a) || b.score - a.score || a.seriesKey.localeCompare(b.seriesKey),
  );
}
