export { apiRoutes, recentValuesFrom, type ApiDeps, type RecentPoint, type RecentValuesFn, type SinkQueryFn } from './api-routes.js';
export { pageRoutes } from './page-routes.js';
export { auditRoutes, type AuditRoutesDeps } from './audit-routes.js';
export { runbookRoutes, type RunbookRoutesDeps } from './runbook-routes.js';
