// The HTTP server every process runs: fastify with Foreshock's error mapping, request
// timing into /metrics, and the health endpoints. Services add their routes as plugins.

import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import { ForeshockError, UnavailableError } from '../errors/index.js';
import type { Logger, Telemetry } from '../telemetry/index.js';
import { installAuth, type AuthOptions } from './auth.js';
import { DOCS_HTML_ROUTE, WRITE_ROUTE_DOCS, docsRoutes } from './docs.js';

export interface HttpServerOptions {
  logger: Logger;
  telemetry: Telemetry;
  /** Largest request body as sent, bytes. */
  bodyLimit: number;
  /** Readiness checks: each returns null when ready or a reason. */
  readiness?: (() => string | null)[];
  /** Bearer-token hashes; absent or empty: open (warned). */
  auth?: AuthOptions;
  /** Version shown in the OpenAPI document. */
  version?: string;
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
    // Schemas carry `example` for the OpenAPI document; the validator should not trip on it.
    ajv: { customOptions: { keywords: ['example'] } },
  });
  const { telemetry } = options;

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    telemetry.httpDuration.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // Hardened headers on every answer: the page loads only its own scripts and styles, is never
  // framed, and no answer is content-sniffed.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    reply.header(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });

  installAuth(app as unknown as FastifyInstance, options.auth ?? { readHashes: [], writeHashes: [] }, options.logger, telemetry);

  // OpenAPI from the route schemas; registered first so it sees every route added later.
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Foreshock API',
        version: options.version ?? '0.0.0',
        description: 'Streaming early warning for infrastructure metrics: forecasts, risks, anomalies and alerts. Read endpoints take a read token, write endpoints a write token (Authorization: Bearer …) when auth is configured.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: false,
    transform: ({ schema, url, route }) => {
      const s = (schema ?? {}) as Record<string, unknown>;
      const writeDocs = WRITE_ROUTE_DOCS[url];
      if (writeDocs !== undefined && s.summary === undefined) return { schema: { ...writeDocs, ...s }, url };
      if (url === DOCS_HTML_ROUTE || url.startsWith(DOCS_HTML_ROUTE + '/') || url === '/' || url.startsWith('/assets/')) return { schema: { ...s, hide: true }, url };
      return { schema: s, url };
    },
  });
  void app.register(docsRoutes);

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

  // A plugin, so the routes are added after @fastify/swagger has loaded and appear in /docs.
  void app.register(async (ops) => {
    ops.get('/healthz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Liveness', security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } }, example: { status: 'ok' } } } } }, async () => ({ status: 'ok' }));
    ops.get('/readyz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Readiness: 503 with reasons until every stage runs', security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } }, example: { status: 'ready' } }, 503: { type: 'object', properties: { status: { type: 'string' }, reasons: { type: 'array', items: { type: 'string' } } }, example: { status: 'not ready', reasons: ['detector not started'] } } } } }, async (_req, reply) => {
      const reasons = (options.readiness ?? []).map((f) => f()).filter((r): r is string => r !== null);
      if (reasons.length > 0) return reply.status(503).send({ status: 'not ready', reasons });
      return { status: 'ready' };
    });
    ops.get('/metrics', { schema: { tags: ['operations'], summary: "Foreshock's own metrics (Prometheus text format)", produces: ['text/plain'], response: { 200: { type: 'string', example: '# TYPE foreshock_events_total counter\nforeshock_events_total{kind="anomaly_opened"} 3\n' } } } }, async (_req, reply) => {
      reply.header('Content-Type', telemetry.registry.contentType);
      return telemetry.registry.metrics();
    });
  });
  // Fastify's instance type is parameterised by the logger; callers only need the base type.
  return app as unknown as FastifyInstance;
}
