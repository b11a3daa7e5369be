// Redis connections for the real adapters (StateStore on Redis, JobQueue on BullMQ): one place
// that turns a URL plus options into ioredis options, with TLS, credentials and capped reconnects.

import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { ForeshockError } from '../../errors/index.js';

export interface RedisConnectionOptions {
  /**
   * `redis://[user[:password]@]host[:port][/db]`, or `rediss://…` for TLS. Credentials in the URL
   * are percent-decoded. Default `redis://127.0.0.1:6379`.
   */
  url?: string;
  /**
   * TLS options handed to `tls.connect` as they are (ca, cert, key, servername,
   * rejectUnauthorized, …). Setting it enables TLS even with `redis://`; `rediss://` alone
   * enables TLS with Node's defaults. Default: none.
   */
  tls?: TlsOptions;
  /** ACL user; overrides the URL's. Default: the URL's (none: the default user). */
  username?: string;
  /** Password; overrides the URL's. Default: the URL's (none: no AUTH). */
  password?: string;
  /** Name shown by CLIENT LIST. Default `foreshock`. */
  connectionName?: string;
  /** Timeout of one connection attempt, ms. Default 10_000. */
  connectTimeoutMs?: number;
  /** First reconnect delay, ms; doubles per failed attempt. Default 100. */
  reconnectBaseMs?: number;
  /** Longest reconnect delay, ms. Reconnects never stop. Default 5_000. */
  reconnectMaxMs?: number;
  /**
   * Times a command is retried over reconnects before it rejects; `null` waits for the server
   * forever (what BullMQ workers need; the JobQueue adapter sets it for its worker connection).
   * Default 20.
   */
  maxRetriesPerRequest?: number | null;
}

export const REDIS_CONNECTION_DEFAULTS: Readonly<Required<Omit<RedisConnectionOptions, 'tls' | 'username' | 'password'>>> = Object.freeze({
  url: 'redis://127.0.0.1:6379',
  connectionName: 'foreshock',
  connectTimeoutMs: 10_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 5_000,
  maxRetriesPerRequest: 20,
});

/** Reconnect delay before attempt `times` (1-based): base·2^(times-1), capped. */
export function reconnectDelayMs(times: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(times - 1, 0), 30));
}

/**
 * ioredis options for `options` (URL parsed here so a bad URL fails at start-up with FS_REDIS_URL). `lazyConnect` is false: the client starts connecting at once and queues commands.
 */
export function redisClientOptions(options: RedisConnectionOptions = {}): RedisOptions {
  const o = { ...REDIS_CONNECTION_DEFAULTS, ...definedOnly(options) };
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new ForeshockError('FS_REDIS_URL', `redis url: not a URL: ${redactUrl(o.url)}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ForeshockError('FS_REDIS_URL', `redis url: scheme must be redis:// or rediss://, got ${url.protocol}//`);
  }
  if (url.hostname === '') throw new ForeshockError('FS_REDIS_URL', 'redis url: host missing');
  const port = url.port === '' ? 6379 : Number(url.port);
  let db = 0;
  if (url.pathname !== '' && url.pathname !== '/') {
    db = Number(url.pathname.slice(1));
    if (!Number.isInteger(db) || db < 0) throw new ForeshockError('FS_REDIS_URL', `redis url: database must be a number, got ${url.pathname.slice(1)}`);
  }
  if (!(o.reconnectBaseMs > 0) || !(o.reconnectMaxMs >= o.reconnectBaseMs)) {
    throw new ForeshockError('FS_REDIS_OPTIONS', 'redis: need 0 < reconnectBaseMs <= reconnectMaxMs');
  }
  const username = options.username ?? (url.username !== '' ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password !== '' ? decodeURIComponent(url.password) : undefined);
  const tls = options.tls ?? (url.protocol === 'rediss:' ? {} : undefined);
  const { reconnectBaseMs, reconnectMaxMs } = o;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls !== undefined ? { tls } : {}),
    connectionName: o.connectionName,
    connectTimeout: o.connectTimeoutMs,
    maxRetriesPerRequest: o.maxRetriesPerRequest,
    lazyConnect: false,
    retryStrategy: (times: number) => reconnectDelayMs(times, reconnectBaseMs, reconnectMaxMs),
  };
}

/** A connected-or-connecting client; the caller owns it (`quit()` on close) and must listen for 'error'. */
export function createRedisClient(options: RedisConnectionOptions = {}): Redis {
  return new Redis(redisClientOptions(options));
}

/** The URL without its password, for messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(options) as (keyof T)[]) {
    if (options[k] !== undefined) out[k] = options[k];
  }
  return out;
}
