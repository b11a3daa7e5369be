// Receiver stage: the write endpoints senders point at. Each body is validated (decoded
// once, so a bad payload is refused with a 4xx naming the problem) and the accepted body is
// published to the raw topic for the ingest stage.

import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ForeshockConfig } from '../../shared/config/index.js';
import {
  RAW_FORMAT_LINE_PROTOCOL, RAW_FORMAT_REMOTE_WRITE, decodeWriteRequest, encodeRawPayload, parseLineProtocol,
  snappyDecompress, type RawPrecision,
} from '../../shared/codecs/index.js';
import { BadRequestError, ForeshockError, PayloadTooLargeError, UnavailableError, UnsupportedMediaTypeError } from '../../shared/errors/index.js';
import type { Bus } from '../../shared/ports/index.js';
import type { Telemetry } from '../../shared/telemetry/index.js';

const gunzipAsync = promisify(gunzip);

export interface ReceiverDeps {
  bus: Bus;
  config: ForeshockConfig;
  telemetry: Telemetry;
}

const V1_PRECISION: Record<string, RawPrecision> = { n: 'ns', ns: 'ns', u: 'us', us: 'us', 'µ': 'us', ms: 'ms', s: 's' };
const V2_PRECISION: Record<string, RawPrecision> = { ns: 'ns', us: 'us', ms: 'ms', s: 's' };

export async function receiverRoutes(app: FastifyInstance, deps: ReceiverDeps): Promise<void> {
  const { bus, config, telemetry } = deps;

  // Bodies arrive compressed or as text; every route here wants the raw bytes. Register this
  // plugin in its own encapsulated scope: it replaces the parsers of that scope only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.server.maxBodyBytes }, (_req, body, done) => done(null, body));

  async function publish(format: typeof RAW_FORMAT_REMOTE_WRITE | typeof RAW_FORMAT_LINE_PROTOCOL, precision: RawPrecision, body: Uint8Array): Promise<void> {
    try {
      await bus.send(config.bus.topicRaw, [{ key: null, value: encodeRawPayload(format, precision, Date.now(), body) }]);
    } catch (err) {
      // The payload is fine; a retry can succeed once the bus is back.
      throw new UnavailableError('FS_BUS_UNAVAILABLE', `could not queue the payload: ${(err as Error).message}`, 5);
    }
  }

  function rejectCounted(route: string, err: unknown): never {
    telemetry.requestsRejected.inc({ route, code: err instanceof ForeshockError ? err.code : 'FS_INTERNAL' });
    throw err;
  }

  app.post('/api/v1/write', async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const contentType = String(req.headers['content-type'] ?? '');
      if (contentType.includes('io.prometheus.write.v2.Request')) {
        throw new UnsupportedMediaTypeError('FS_RW_VERSION', 'remote-write 2.0 is not supported; send remote-write 1.0 (protobuf_message: prometheus.WriteRequest)');
      }
      const encoding = String(req.headers['content-encoding'] ?? 'snappy').toLowerCase();
      if (encoding !== 'snappy') throw new UnsupportedMediaTypeError('FS_RW_ENCODING', `Content-Encoding must be snappy, got "${encoding}"`);
      const body = bodyOf(req);
      if (body.length === 0) throw new BadRequestError('FS_RW_EMPTY', 'empty body: expected a snappy-compressed WriteRequest');
      const decoded = snappyDecompress(body, config.server.maxDecodedBytes);
      const request = decodeWriteRequest(decoded);
      telemetry.samplesReceived.inc({ source: 'remote_write' }, request.samples);
      if (request.series.length > 0 || request.metadata.length > 0) await publish(RAW_FORMAT_REMOTE_WRITE, 'ms', body);
      return reply.status(204).send();
    } catch (err) {
      return rejectCounted('/api/v1/write', err);
    }
  });

  async function lineProtocol(req: FastifyRequest, reply: FastifyReply, route: string, precision: RawPrecision, errorShape: 'v1' | 'v2') {
    try {
      let body = bodyOf(req);
      const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding === 'gzip') {
        try {
          body = await gunzipAsync(body, { maxOutputLength: config.server.maxDecodedBytes });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
            throw new PayloadTooLargeError('FS_LP_TOO_LARGE', `gzip body inflates beyond ${config.server.maxDecodedBytes} bytes`);
          }
          throw new BadRequestError('FS_LP_GZIP', `body is not valid gzip: ${(err as Error).message}`);
        }
      } else if (encoding !== 'identity') {
        throw new UnsupportedMediaTypeError('FS_LP_ENCODING', `Content-Encoding must be gzip or identity, got "${encoding}"`);
      }
      const text = Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
      let good = 0;
      const result = parseLineProtocol(text, precision, () => {
        good++;
      });
      if (good > 0) await publish(RAW_FORMAT_LINE_PROTOCOL, precision, body);
      telemetry.samplesReceived.inc({ source: 'line_protocol' }, good);
      if (result.errors.length > 0) {
        const first = result.errors[0];
        const message = `${first.message} (${result.errors.length} bad line(s) rejected, ${good} accepted)`;
        telemetry.requestsRejected.inc({ route, code: 'FS_LP_PARSE' });
        telemetry.samplesDropped.inc({ reason: 'bad_line' }, result.errors.length);
        const payload = errorShape === 'v2'
          ? { code: 'invalid', message, line: first.line, accepted: good, rejected: result.errors.length }
          : { error: `partial write: ${message}`, line: first.line };
        return reply.status(400).send(payload);
      }
      return reply.status(204).send();
    } catch (err) {
      return rejectCounted(route, err);
    }
  }

  app.post('/api/v2/write', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const precision = q.precision === undefined ? config.ingest.defaultPrecision : V2_PRECISION[q.precision];
    if (!precision) {
      telemetry.requestsRejected.inc({ route: '/api/v2/write', code: 'FS_LP_PRECISION' });
      return reply.status(400).send({ code: 'invalid', message: `precision "${q.precision}" must be one of ns, us, ms, s` });
    }
    return lineProtocol(req, reply, '/api/v2/write', precision, 'v2');
  });

  app.post('/write', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const precision = q.precision === undefined ? config.ingest.defaultPrecision : V1_PRECISION[q.precision];
    if (!precision) {
      telemetry.requestsRejected.inc({ route: '/write', code: 'FS_LP_PRECISION' });
      return reply.status(400).send({ error: `precision "${q.precision}" must be one of n, u, ms, s` });
    }
    return lineProtocol(req, reply, '/write', precision, 'v1');
  });

  // Telegraf's influxdb_v2 output and InfluxDB v1 clients probe these before writing (fastify
  // answers HEAD from the GET route).
  app.get('/ping', async (_req, reply) => reply.status(204).header('X-Influxdb-Version', 'foreshock').send());
  app.get('/health', async () => ({ name: 'foreshock', status: 'pass', message: 'ready for writes' }));
}

function bodyOf(req: FastifyRequest): Buffer {
  const b = req.body;
  if (b === undefined || b === null) return Buffer.alloc(0);
  if (!Buffer.isBuffer(b)) throw new BadRequestError('FS_BODY', 'unexpected body type');
  return b;
}
