// Intervention stage: alert lifecycle and delivery to Alertmanager.

export { InterventionService, INTERVENTION_JOB } from './intervention-service.js';
export type { InterventionDeps, InterventionLogger, InterventionOptions, InterventionStats } from './intervention-service.js';
export {
  AlertLifecycle,
  ALERTNAME_ANOMALY,
  ALERTNAME_FORECAST,
  alertAnnotations,
  alertIdOf,
  alertLabels,
  applyEvent,
  expireForecast,
  generatorUrl,
  needsResend,
  toPostableAlerts,
} from './alert-lifecycle.js';
export type { AlertRecord, LifecycleResult, PostableOptions, RetiredLabels, Transition } from './alert-lifecycle.js';
export { AlertmanagerClient, AlertmanagerError, ALERTMANAGER_CLIENT_DEFAULTS } from './alertmanager-client.js';
export type { AlertmanagerClientOptions, AlertmanagerFailure, PostableAlert } from './alertmanager-client.js';
export { EventsConsumer, EVENTS_GROUP, type EventsConsumerDeps } from './events-consumer.js';
export { AuditLog } from './audit-log.js';
export { Pager, PAGERDUTY_JOB, PAGERDUTY_DEAD_LETTERS, type PageJob, type PagerOptions, type PagerStats } from './pager.js';
export {
  PagerDutyClient,
  SlidingWindowLimiter,
  dedupKeyOf,
  pagerDutySeverity,
  truncate,
  PAGERDUTY_DEDUP_KEY_MAX,
  PAGERDUTY_SUMMARY_MAX,
  type PagerDutyEvent,
  type PagerDutyPayload,
  type PagerDutyResult,
  type PagerDutySeverity,
} from './pagerduty-client.js';
export { RunbookEngine, RUNBOOK_JOB, RUNBOOK_GUARD_KEY, VERIFY_JOB, executionIdOf, type RunbookJob, type RunbookOptions, type RunbookStats } from './runbook-engine.js';
export {
  callWebhook,
  renderTemplate,
  ruleMatches,
  signature,
  DEFAULT_BODY,
  EXECUTION_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type TemplateContext,
  type WebhookAttempt,
  type WebhookResult,
} from './runbook-webhook.js';
export { escalateForRunbook } from './alert-lifecycle.js';
export type { InterventionAllStats } from './intervention-service.js';
export type { AlertmanagerResult } from './alertmanager-client.js';
