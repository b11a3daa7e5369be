// Alert records as the intervention stage keeps them in the StateStore and the API lists them.

import type { Explanation } from './events.js';
import type { Labels } from './labels.js';

/** StateStore hash holding one JSON AlertRecord per alert id. */
export const ALERTS_KEY = 'fs:alerts';
/** StateStore log of recent detector events (JSON AnomalyEvent), newest last. */
export const EVENTS_LOG = 'fs:events';

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
}
