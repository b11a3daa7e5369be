export { createHttpServer, type HttpServerOptions } from './server.js';
export { installAuth, resolveTokenHashes, tokenHash, type AuthOptions, type RouteAccess } from './auth.js';
