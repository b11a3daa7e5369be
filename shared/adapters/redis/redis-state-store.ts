// StateStore on Redis (ioredis): detector checkpoints, current forecasts, alert state and the
// audit log, shared by every Foreshock process. Values are binary strings, logs are Streams.

import type { Redis } from 'ioredis';
import { ForeshockError } from '../../errors/index.js';
import type { StateStore } from '../../ports/index.js';
import { createRedisClient, type RedisConnectionOptions } from './redis-connection.js';

export interface RedisStateStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key, so Foreshock shares a database with others (BullMQ's queues use
   * their own prefix). `keys(prefix)` only sees keys under it and returns them without it.
   * Default `foreshock:`.
   */
  keyPrefix?: string;
  /**
   * How `append` trims a log to `maxLen`: `exact` (MAXLEN =, the log never holds more than
   * `maxLen`, like the embedded store) or `approximate` (MAXLEN ~, cheaper: Redis drops whole
   * stream nodes, so a log keeps at least `maxLen` and up to about one node, 100 entries, more).
   * Default `exact`.
   */
  logTrim?: 'exact' | 'approximate';
  /** COUNT hint of each SCAN round trip in `keys`. Default 1_000. */
  scanCount?: number;
}

export const REDIS_STATE_STORE_DEFAULTS = Object.freeze({
  keyPrefix: 'foreshock:',
  logTrim: 'exact' as 'exact' | 'approximate',
  scanCount: 1_000,
});

/** Counters of the Redis store, for /metrics. */
export interface RedisStateStoreStats {
  /** 'error' events of the connection (each failed connect or lost socket; ioredis reconnects). */
  connectionErrors: number;
}

/** Stream field holding a log entry. */
const LOG_FIELD = 'e';
/** Log ids are `<ms, 13 digits>-<seq, 20 digits>`: Redis stream ids padded so they sort as strings. */
const ID_MS_DIGITS = 13;
const ID_SEQ_DIGITS = 20;
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

/** Redis stream id → the sortable id the port hands out. */
export function toLogId(streamId: string): string {
  const m = STREAM_ID.exec(streamId);
  if (m === null) throw new ForeshockError('FS_STATE_LOG_ID', `unexpected stream id ${streamId}`);
  return m[1].padStart(ID_MS_DIGITS, '0') + '-' + m[2].padStart(ID_SEQ_DIGITS, '0');
}

/** A log id (padded or a raw stream id) → the canonical stream id, or null if it is not one. */
export function toStreamId(logId: string): { ms: bigint; seq: bigint } | null {
  const m = STREAM_ID.exec(logId);
  if (m === null) return null;
  return { ms: BigInt(m[1]), seq: BigInt(m[2]) };
}

/** Escapes the glob characters of SCAN MATCH so a prefix matches literally. */
export function globEscape(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => '\\' + c);
}

/** Redis implementation of the StateStore port (see RedisStateStoreOptions). */
export class RedisStateStore implements StateStore {
  readonly stats: RedisStateStoreStats = { connectionErrors: 0 };
  /** Last connection error, for /readyz and logs. */
  lastError: Error | null = null;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly trim: '=' | '~';
  private readonly scanCount: number;
  private closing: Promise<void> | null = null;

  /** Starts connecting at once; commands issued before the connection is up wait for it. */
  constructor(options: RedisStateStoreOptions = {}) {
    this.prefix = options.keyPrefix ?? REDIS_STATE_STORE_DEFAULTS.keyPrefix;
    const logTrim = options.logTrim ?? REDIS_STATE_STORE_DEFAULTS.logTrim;
    if (logTrim !== 'exact' && logTrim !== 'approximate') {
      throw new ForeshockError('FS_STATE_OPTIONS', `redis state store: logTrim must be exact or approximate, got ${String(logTrim)}`);
    }
    this.trim = logTrim === 'exact' ? '=' : '~';
    this.scanCount = options.scanCount ?? REDIS_STATE_STORE_DEFAULTS.scanCount;
    if (!Number.isInteger(this.scanCount) || this.scanCount < 1) {
      throw new ForeshockError('FS_STATE_OPTIONS', 'redis state store: scanCount must be a positive integer');
    }
    this.redis = createRedisClient(options);
    // ioredis reconnects by itself; an 'error' without a listener would crash the process.
    this.redis.on('error', (err: Error) => {
      this.stats.connectionErrors++;
      this.lastError = err;
    });
  }

  async get(key: string): Promise<Uint8Array | null> {
    const buf = await this.call(key, this.redis.getBuffer(this.prefix + key));
    // A copy: the reply may be a view into the parser's shared pool.
    return buf === null ? null : new Uint8Array(buf);
  }

  async set(key: string, value: Uint8Array, ttlMs?: number): Promise<void> {
    const buf = Buffer.from(value);
    if (ttlMs === undefined) {
      await this.call(key, this.redis.set(this.prefix + key, buf));
      return;
    }
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) {
      throw new ForeshockError('FS_STATE_TTL', `set ${key}: ttlMs must be a positive number, got ${ttlMs}`);
    }
    await this.call(key, this.redis.set(this.prefix + key, buf, 'PX', Math.ceil(ttlMs)));
  }

  async del(key: string): Promise<void> {
    // UNLINK frees a large checkpoint in the background instead of blocking the server.
    await this.call(key, this.redis.unlink(this.prefix + key));
  }

  /** SCAN (never KEYS, which blocks the server); a key may be missed or repeated only if it changes during the scan. */
  async keys(prefix: string): Promise<string[]> {
    const full = this.prefix + prefix;
    const match = globEscape(full) + '*';
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.call(prefix, this.redis.scan(cursor, 'MATCH', match, 'COUNT', this.scanCount));
      for (const k of batch) if (k.startsWith(full)) seen.add(k.slice(this.prefix.length));
      cursor = next;
    } while (cursor !== '0');
    return [...seen];
  }

  async hset(key: string, entries: Record<string, string>): Promise<void> {
    if (Object.keys(entries).length === 0) return;
    await this.call(key, this.redis.hset(this.prefix + key, entries));
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.call(key, this.redis.hget(this.prefix + key, field));
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.call(key, this.redis.hgetall(this.prefix + key));
  }

  async hdel(key: string, fields: string[]): Promise<void> {
    if (fields.length === 0) return;
    await this.call(key, this.redis.hdel(this.prefix + key, ...fields));
  }

  /** Appends to a Redis Stream trimmed to `maxLen` (see `logTrim`); the id is the stream id, padded to sort as a string. */
  async append(log: string, entry: string, maxLen: number): Promise<string> {
    const cap = Math.max(1, Math.floor(maxLen));
    const id = await this.call(log, this.redis.xadd(this.prefix + log, 'MAXLEN', this.trim, cap, '*', LOG_FIELD, entry));
    if (id === null) throw new ForeshockError('FS_STATE_LOG', `append to ${log}: no id returned`);
    return toLogId(id);
  }

  /** XREVRANGE from the newest entry, or from just below `beforeId` (exclusive bound `(id`). */
  async trimLog(log: string, beforeMs: number): Promise<number> {
    const n = await this.call(log, this.redis.xtrim(this.prefix + log, 'MINID', `${Math.max(0, Math.floor(beforeMs))}-0`));
    return Number(n);
  }

  async range(log: string, limit: number, beforeId?: string): Promise<{ id: string; entry: string }[]> {
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    let end = '+';
    if (beforeId !== undefined) {
      const id = toStreamId(beforeId);
      if (id === null) throw new ForeshockError('FS_STATE_LOG_ID', `range ${log}: not a log id: ${beforeId}`, 400);
      if (id.ms === 0n && id.seq === 0n) return [];
      end = `(${id.ms}-${id.seq}`;
    }
    const rows = await this.call(log, this.redis.xrevrange(this.prefix + log, end, '-', 'COUNT', count));
    const out: { id: string; entry: string }[] = [];
    for (const [id, fields] of rows) {
      let entry = '';
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === LOG_FIELD) {
          entry = fields[i + 1];
          break;
        }
      }
      out.push({ id: toLogId(id), entry });
    }
    return out;
  }

  /** QUIT after the commands in flight; a connection that is down is dropped instead. Idempotent. */
  async close(): Promise<void> {
    if (this.closing === null) this.closing = quitOrDisconnect(this.redis);
    await this.closing;
  }

  /** Runs a command, turning Redis's WRONGTYPE into the port's FS_STATE_WRONGTYPE. */
  private async call<T>(key: string, command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('WRONGTYPE')) {
        throw new ForeshockError('FS_STATE_WRONGTYPE', `key ${key} holds another type`, 500, { cause: err });
      }
      throw err;
    }
  }
}

/** Polite close of a client we own: QUIT if connected, else drop the socket and stop reconnecting. */
export async function quitOrDisconnect(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    // The connection died while quitting: nothing is left to flush.
    redis.disconnect();
  }
}
