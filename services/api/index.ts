export { apiRoutes, type ApiDeps } from './api-routes.js';
