// The HTTP server every process runs: fastify with Foreshock's error mapping, request
// timing into /metrics, and the health endpoints. Services add their routes as plugins.

import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import { ForeshockError, UnavailableError } from '../errors/index.js';
import type { Logger, Telemetry } from '../telemetry/index.js';

export interface HttpServerOptions {
  logger: Logger;
  telemetry: Telemetry;
  /** Largest request body as sent, bytes. */
  bodyLimit: number;
  /** Readiness checks: each returns null when ready or a reason. */
  readiness?: (() => string | null)[];
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // One log line per request would swamp the log at remote-write rates; /metrics has them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    // Telegraf and Prometheus keep connections alive; keep ours a little longer than theirs.
    keepAliveTimeout: 75_000,
    forceCloseConnections: true,
  });
  const { telemetry } = options;

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    telemetry.httpDuration.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | ForeshockError | Error, req, reply) => {
    const route = req.routeOptions.url ?? req.url;
    if (err instanceof ForeshockError) {
      telemetry.errors.inc({ code: err.code });
      if (err instanceof UnavailableError) reply.header('Retry-After', String(err.retryAfterS));
      if (err.status >= 500) req.log.error({ err, route }, err.message);
      else req.log.debug({ code: err.code, route }, err.message);
      return reply.status(err.status).send({ code: err.code, message: err.message });
    }
    const fe = err as FastifyError;
    const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 ? fe.statusCode : 500;
    const code = fe.code ?? 'FS_INTERNAL';
    telemetry.errors.inc({ code });
    if (status >= 500) req.log.error({ err, route }, 'request failed');
    return reply.status(status).send({ code, message: status >= 500 ? 'internal error' : err.message });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'FS_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reasons = (options.readiness ?? []).map((f) => f()).filter((r): r is string => r !== null);
    if (reasons.length > 0) return reply.status(503).send({ status: 'not ready', reasons });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', telemetry.registry.contentType);
    return telemetry.registry.metrics();
  });
  // Fastify's instance type is parameterised by the logger; callers only need the base type.
  return app as unknown as FastifyInstance;
}
