// Receiver stage: the write endpoints senders point at. Each body is validated (decoded
// once, so a bad payload is refused with a 4xx naming the problem) and the accepted body is
// published, as it was sent (compressed), to the raw topic for the ingest stage. Every byte a
// request holds while it is read and decoded is reserved against limits.bufferBytes first:
// what does not fit now waits at the sender (503 + Retry-After), what can never fit is 413.

import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ForeshockConfig } from '../../shared/config/index.js';
import {
  RAW_FORMAT_LINE_PROTOCOL, RAW_FORMAT_LINE_PROTOCOL_GZIP, RAW_FORMAT_REMOTE_WRITE, decodeLabels, describeLabelLimit, describeLinePointLimit, encodeRawPayload,
  labelLimitBroken, labelsWithinBytes, linePointLimitBroken, parseLineProtocol, scanWriteRequest, snappyDecompress, snappyUncompressedLength,
  tooManySamples, tooManySeries, type LimitReason, type RawFormat, type RawPrecision, type WriteRequestVisitor,
} from '../../shared/codecs/index.js';
import { BadRequestError, ForeshockError, PayloadTooLargeError, UnavailableError, UnsupportedMediaTypeError } from '../../shared/errors/index.js';
import type { Bus } from '../../shared/ports/index.js';
import type { MemoryGuard, Telemetry } from '../../shared/telemetry/index.js';

const gunzipAsync = promisify(gunzip);

export interface ReceiverDeps {
  bus: Bus;
  config: ForeshockConfig;
  telemetry: Telemetry;
  /** The process's memory guard: write requests get 503 + Retry-After while it is engaged. */
  memoryGuard: MemoryGuard;
}

const V1_PRECISION: Record<string, RawPrecision> = { n: 'ns', ns: 'ns', u: 'us', us: 'us', 'µ': 'us', ms: 'ms', s: 's' };
const V2_PRECISION: Record<string, RawPrecision> = { ns: 'ns', us: 'us', ms: 'ms', s: 's' };
const WRITE_ROUTES = new Set(['/api/v1/write', '/api/v2/write', '/write']);
/** Bytes of buffer budget each request holds, released when it is answered or aborted. */
const HELD = new WeakMap<FastifyRequest, number>();
const MIB = 1024 * 1024;

/** Error code of a series refused by a per-series limit. */
function limitCode(reason: LimitReason): string {
  return `FS_LIMIT_${reason.toUpperCase()}`;
}

export async function receiverRoutes(app: FastifyInstance, deps: ReceiverDeps): Promise<void> {
  const { bus, config, telemetry, memoryGuard: guard } = deps;

  // Bodies arrive compressed or as text; every route here wants the raw bytes. Register this
  // plugin in its own encapsulated scope: it replaces the parsers of that scope only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.server.maxBodyBytes }, (_req, body, done) => done(null, body));

  const limits = config.limits;
  const rwLimits = { maxSeries: limits.seriesPerRequest, maxSamples: limits.samplesPerRequest, maxLabelsPerSeries: limits.labelsPerSeries };
  const retryAfterS = Math.max(1, Math.round(limits.retryAfter / 1000));
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (req.method !== 'POST' || route === undefined || !WRITE_ROUTES.has(route)) return;
    // Checked before the body is read: a write refused for memory should cost as little as possible.
    const over = guard.pressure();
    if (over !== null) {
      // Answered here rather than thrown: shedding load is expected, not an error worth a log line each.
      telemetry.requestsRejected.inc({ route, code: 'FS_MEMORY_HIGH' });
      return reply.status(503).header('Retry-After', String(retryAfterS)).send({ code: 'FS_MEMORY_HIGH', message: `overloaded, retry later: ${over}` });
    }
    // The body as sent: its announced length, or the most it may be when it comes chunked.
    const announced = Number(req.headers['content-length']);
    const maxBody = config.server.maxBodyBytes;
    if (Number.isFinite(announced) && announced > maxBody) return; // fastify answers 413 before reading it
    const bytes = Number.isFinite(announced) && announced >= 0 ? announced : Math.min(maxBody, guard.bufferLimit || maxBody);
    const refused = hold(req, bytes, 'the request body');
    if (refused !== null) {
      telemetry.requestsRejected.inc({ route, code: refused.code });
      if (refused.status === 503) reply.header('Retry-After', String(retryAfterS));
      return reply.status(refused.status).send({ code: refused.code, message: refused.message });
    }
  });
  const releaseHeld = async (req: FastifyRequest) => {
    const n = HELD.get(req);
    if (n === undefined) return;
    HELD.delete(req);
    guard.release(n);
  };
  app.addHook('onResponse', releaseHeld);
  app.addHook('onRequestAbort', releaseHeld);

  /**
   * Reserves `bytes` more of the buffer budget for `req` (released when it is answered). Returns
   * the refusal instead: 503 while others hold the budget, 413 when it alone exceeds it.
   */
  function hold(req: FastifyRequest, bytes: number, what: string): UnavailableError | PayloadTooLargeError | null {
    const r = guard.reserve(bytes);
    if (r === 'ok') {
      HELD.set(req, (HELD.get(req) ?? 0) + bytes);
      return null;
    }
    const limit = `limits.bufferBytes (${(guard.bufferLimit / MIB).toFixed(1)} MiB)`;
    if (r === 'too_large') return new PayloadTooLargeError('FS_BUFFER_TOO_LARGE', `${what} needs ${(bytes / MIB).toFixed(1)} MiB of buffer, more than ${limit}: send smaller requests`);
    return new UnavailableError('FS_BUFFER_BUSY', `overloaded, retry later: ${what} needs ${(bytes / MIB).toFixed(1)} MiB of buffer and ${(guard.buffered / MIB).toFixed(1)} MiB of ${limit} are held by requests in progress`, retryAfterS);
  }

  /** `hold`, throwing the refusal. */
  function holdOrThrow(req: FastifyRequest, bytes: number, what: string): void {
    const refused = hold(req, bytes, what);
    if (refused !== null) throw refused;
  }

  /**
   * Keyed by the sender's address: one sender's bodies land on one raw partition in the order
   * they were accepted, so ingest sees each series in time order (a null key would spread a
   * sender's consecutive requests over partitions that are consumed independently).
   */
  async function publish(req: FastifyRequest, format: RawFormat, precision: RawPrecision, body: Uint8Array): Promise<void> {
    try {
      await bus.send(config.bus.topicRaw, [{ key: req.ip, value: encodeRawPayload(format, precision, Date.now(), body) }]);
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
      // The decoded size is in the block's preamble: reserve it before decompressing.
      const announcedLength = snappyUncompressedLength(body);
      if (announcedLength <= config.server.maxDecodedBytes) holdOrThrow(req, announcedLength, 'the decoded body');
      const decoded = snappyDecompress(body, config.server.maxDecodedBytes);
      // Validated without building the request: labels are decoded only when their byte
      // lengths say a per-series limit may be broken.
      const check = new SeriesLimitCheck(limits, rwLimits.maxLabelsPerSeries);
      const request = scanWriteRequest(decoded, rwLimits, check);
      check.flush();
      // Series over a per-series limit are refused, the rest accepted (ingest drops the same ones).
      const { refusedSeries, refusedSamples, first, firstCode } = check;
      for (const [reason, n] of check.droppedSamples) telemetry.samplesDropped.inc({ reason }, n);
      telemetry.samplesReceived.inc({ source: 'remote_write' }, request.samples - refusedSamples);
      if (request.series > refusedSeries || request.metadata > 0) await publish(req, RAW_FORMAT_REMOTE_WRITE, 'ms', body);
      if (refusedSeries > 0) {
        telemetry.requestsRejected.inc({ route: '/api/v1/write', code: firstCode });
        const accepted = request.series - refusedSeries;
        return reply.status(400).send({ code: firstCode, message: `${first} (${refusedSeries} series refused, ${accepted} accepted)`, refusedSeries, acceptedSeries: accepted });
      }
      return reply.status(204).send();
    } catch (err) {
      return rejectCounted('/api/v1/write', err);
    }
  });

  async function lineProtocol(req: FastifyRequest, reply: FastifyReply, route: string, precision: RawPrecision, errorShape: 'v1' | 'v2') {
    try {
      const sent = bodyOf(req);
      let body = sent;
      const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
      // Decoded, a body is held as bytes and as a string (up to two bytes per character).
      if (encoding === 'gzip') {
        // A gzip member ends with its decoded size mod 2^32: reserve that before inflating.
        const isize = sent.length >= 18 ? sent.readUInt32LE(sent.length - 4) : 0;
        holdOrThrow(req, 3 * Math.min(isize, config.server.maxDecodedBytes), 'the decoded body');
        try {
          body = await gunzipAsync(sent, { maxOutputLength: config.server.maxDecodedBytes });
          // Several members, or a size that lied: hold what it really is (it is in memory already).
          if (body.length > isize) holdOrThrow(req, 3 * (body.length - isize), 'the decoded body');
        } catch (err) {
          if (err instanceof ForeshockError) throw err;
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
            throw new PayloadTooLargeError('FS_LP_TOO_LARGE', `gzip body inflates beyond ${config.server.maxDecodedBytes} bytes`);
          }
          throw new BadRequestError('FS_LP_GZIP', `body is not valid gzip: ${(err as Error).message}`);
        }
      } else if (encoding !== 'identity') {
        throw new UnsupportedMediaTypeError('FS_LP_ENCODING', `Content-Encoding must be gzip or identity, got "${encoding}"`);
      } else {
        holdOrThrow(req, 2 * body.length, 'the body as text');
      }
      const text = Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8');
      let good = 0;
      let lines = 0;
      let samples = 0;
      // Lines over a per-series limit are refused like bad lines (ingest skips the same ones).
      let limited = 0;
      let limitLine = 0;
      let limitMessage = '';
      const dropped: Partial<Record<LimitReason, number>> = {};
      const result = parseLineProtocol(text, precision, (p) => {
        // Whole-request limits: the request can never succeed as sent, so stop reading it.
        if (++lines > limits.seriesPerRequest) throw tooManySeries(limits.seriesPerRequest);
        samples += p.fieldKeys.length;
        if (samples > limits.samplesPerRequest) throw tooManySamples(limits.samplesPerRequest);
        const broken = linePointLimitBroken(p, limits);
        if (broken === null) {
          good++;
          return;
        }
        limited++;
        dropped[broken] = (dropped[broken] ?? 0) + p.fieldKeys.length;
        if (limitLine === 0) {
          limitLine = p.line;
          limitMessage = `line ${p.line}: ${describeLinePointLimit(broken, p, limits)}`;
        }
      });
      if (good > 0) await publish(req, sent === body ? RAW_FORMAT_LINE_PROTOCOL : RAW_FORMAT_LINE_PROTOCOL_GZIP, precision, sent);
      telemetry.samplesReceived.inc({ source: 'line_protocol' }, good);
      for (const [reason, n] of Object.entries(dropped)) telemetry.samplesDropped.inc({ reason }, n);
      if (result.badLines > 0 || limited > 0) {
        const parseFirst = result.errors[0];
        const useParse = parseFirst !== undefined && (limitLine === 0 || parseFirst.line < limitLine);
        const line = useParse ? parseFirst.line : limitLine;
        const rejected = result.badLines + limited;
        const message = `${useParse ? parseFirst.message : limitMessage} (${rejected} bad line(s) rejected, ${good} accepted)`;
        telemetry.requestsRejected.inc({ route, code: useParse ? 'FS_LP_PARSE' : 'FS_LP_LIMIT' });
        if (result.badLines > 0) telemetry.samplesDropped.inc({ reason: 'bad_line' }, result.badLines);
        const payload = errorShape === 'v2'
          ? { code: 'invalid', message, line, accepted: good, rejected }
          : { error: `partial write: ${message}`, line };
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

/** Visits a remote-write body's series and counts those over a per-series limit (and their samples). */
class SeriesLimitCheck implements WriteRequestVisitor {
  refusedSeries = 0;
  refusedSamples = 0;
  /** The first refused series: its message and error code. */
  first = '';
  firstCode = '';
  readonly droppedSamples = new Map<LimitReason, number>();
  private current: LimitReason | null = null;
  private currentSamples = 0;
  private readonly pairs: [string, string][] = [];

  constructor(
    private readonly limits: ForeshockConfig['limits'],
    private readonly maxLabels: number,
  ) {}

  metadata(): void {}

  series(buf: Uint8Array, start: number, end: number): void {
    this.flush();
    const limits = this.limits;
    if (labelsWithinBytes(buf, start, end, limits.labelsPerSeries, limits.labelNameLength, limits.labelValueLength)) return;
    const count = decodeLabels(buf, start, end, this.maxLabels, this.pairs);
    const broken = labelLimitBroken(this.pairs, count, limits);
    if (broken === null) return;
    this.current = broken;
    this.refusedSeries++;
    if (this.first === '') {
      this.first = describeLabelLimit(broken, this.pairs, count, limits);
      this.firstCode = limitCode(broken);
    }
  }

  sample(): void {
    if (this.current !== null) this.currentSamples++;
  }

  /** Books the samples of the refused series visited last. */
  flush(): void {
    if (this.current === null) return;
    this.refusedSamples += this.currentSamples;
    this.droppedSamples.set(this.current, (this.droppedSamples.get(this.current) ?? 0) + this.currentSamples);
    this.current = null;
    this.currentSamples = 0;
  }
}
