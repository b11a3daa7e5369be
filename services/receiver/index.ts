export { receiverRoutes, type ReceiverDeps } from './receiver-routes.js';
