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
export { EventsConsumer, type EventsConsumerDeps } from './events-consumer.js';
