// Item schemas of the structured intervention keys (PagerDuty routes, runbook rules), declared
// next to the item types the services read. schema.ts places them in the key tree.

import type { ObjectSpec } from './spec.js';

/** One PagerDuty route: alerts whose labels match `match` (all equal) page via `routingKey`. */
export interface PagerDutyRoute {
  /** Route name: [a-z0-9-], shown in logs and the audit instead of the key. */
  name: string;
  /** Events API v2 integration key (secret: literal, `env:NAME` or `file:PATH`). */
  routingKey: string;
  /** Label → value that must all be equal on the alert; empty matches every alert. */
  match: Record<string, string>;
}

export const PAGERDUTY_ROUTE_FIELDS: ObjectSpec = {
  name: { type: 'string', required: true, pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, doc: 'route name, [a-z0-9-]' },
  routingKey: { type: 'secret', required: true, doc: 'integration key, literal, env:NAME or file:PATH' },
  match: { type: 'stringMap', default: {}, doc: 'labels that must all be equal (team, cluster, …)' },
};

export const RUNBOOK_EVENT_KINDS = ['anomaly_opened', 'anomaly_updated', 'forecast_breach'] as const;

/** One runbook: events that match call `url` with a templated, signed JSON body. */
export interface RunbookRule {
  /** Runbook id: [a-z0-9-]. */
  id: string;
  /** Webhook URL; must be covered by runbooks.allowList. */
  url: string;
  /** Event kinds that trigger it. */
  kinds: string[];
  /** Label → value the event's labels must all equal. */
  labels: Record<string, string>;
  /** Lowest explanation score that triggers it (0-1). */
  minScore: number;
  /** `only`: forecast breaches with a forecast; `never`: events without one; `any`. */
  forecast: 'any' | 'only' | 'never';
  /** JSON body template; strings may hold {{host}}, {{labels.NAME}}, {{score}}, … (see README). null: a default body. */
  body: unknown;
  /** HMAC-SHA256 key of the signature header (literal, `env:NAME` or `file:PATH`). */
  secret: string;
  /** Template of the remediation target (cooldown key), e.g. "{{host}}". */
  target: string;
  timeoutMs: number;
  /** Attempts of the webhook call (5xx, 429, network errors are retried). */
  attempts: number;
  /** No second run of this runbook on the same target within this, ms. */
  cooldownMs: number;
  /** Wait for POST /api/v1/runbooks/{execution}/approve before calling the webhook. */
  approval: boolean;
  /** After the call, the alert must resolve within this, or the runbook failed and the alert pages, ms. */
  verifyWindowMs: number;
}

export const RUNBOOK_RULE_FIELDS: ObjectSpec = {
  id: { type: 'string', required: true, pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, doc: 'runbook id, [a-z0-9-]' },
  url: { type: 'string', required: true, doc: 'webhook URL inside runbooks.allowList' },
  kinds: { type: 'stringList', default: ['anomaly_opened', 'forecast_breach'], values: RUNBOOK_EVENT_KINDS, doc: 'event kinds' },
  labels: { type: 'stringMap', default: {}, doc: 'labels the event must have' },
  minScore: { type: 'number', default: 0, min: 0, max: 1, doc: 'lowest score' },
  forecast: { type: 'enum', default: 'any', values: ['any', 'only', 'never'], doc: 'forecast events: any, only, never' },
  body: { type: 'json', default: null, doc: 'JSON body template' },
  secret: { type: 'secret', required: true, doc: 'HMAC key, literal, env:NAME or file:PATH' },
  target: { type: 'string', default: '{{host}}', doc: 'target template (cooldown key)' },
  timeoutMs: { type: 'duration', default: 10_000, min: 100, doc: 'timeout of one call' },
  attempts: { type: 'int', default: 3, min: 1, max: 20, doc: 'attempts of the call' },
  cooldownMs: { type: 'duration', default: 30 * 60_000, doc: 'cooldown per target' },
  approval: { type: 'boolean', default: false, doc: 'wait for approval' },
  verifyWindowMs: { type: 'duration', default: 10 * 60_000, min: 1000, doc: 'time the alert has to clear after the call' },
};
