// In-memory StateStore: checkpoints, forecasts, alert state and audit logs in a Map, with
// Redis-like TTLs, hashes and capped logs. Nothing survives the process: tests and
// state.kind=memory; the durable embedded store is SqliteStateStore (shared/adapters/sqlite).

import { ForeshockError } from '../../errors/index.js';
import { nextLogId } from './log-ids.js';
import type { StateStore } from '../../ports/index.js';
import { withDefaults } from './with-defaults.js';

export interface MemoryStateStoreOptions {
  /** Interval of the sweep that drops expired keys nobody reads, ms. Default 60_000. */
  sweepIntervalMs?: number;
  /** Clock for TTLs and log ids, ms since epoch. Default `Date.now`. */
  clock?: () => number;
}

export const MEMORY_STATE_STORE_DEFAULTS: Readonly<Required<MemoryStateStoreOptions>> = Object.freeze({
  sweepIntervalMs: 60_000,
  clock: Date.now,
});

/** Counters of the embedded store, for /metrics. */
export interface MemoryStateStoreStats {
  /** Keys removed because their TTL passed. */
  expired: number;
}

interface StringValue {
  type: 'string';
  value: Uint8Array;
  /** ms since epoch, or null for no TTL. */
  expiresAt: number | null;
}

interface HashValue {
  type: 'hash';
  fields: Map<string, string>;
}

interface LogValue {
  type: 'log';
  /** Ascending by id; entries before `head` were trimmed and are compacted away lazily. */
  items: { id: string; entry: string }[];
  head: number;
}

type Value = StringValue | HashValue | LogValue;


function wrongType(key: string, want: string): ForeshockError {
  return new ForeshockError('FS_STATE_WRONGTYPE', `key ${key} holds another type than ${want}`);
}

/** In-process implementation of the StateStore port (see MemoryStateStoreOptions). */
export class MemoryStateStore implements StateStore {
  readonly stats: MemoryStateStoreStats = { expired: 0 };
  private readonly options: Required<MemoryStateStoreOptions>;
  private readonly data = new Map<string, Value>();
  lastIdMs = 0;
  lastIdSeq = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(options: MemoryStateStoreOptions = {}) {
    this.options = withDefaults(MEMORY_STATE_STORE_DEFAULTS, options);
    const sweep = setInterval(() => this.sweep(), this.options.sweepIntervalMs);
    sweep.unref();
    this.timers.push(sweep);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const v = this.live(key);
    if (v === undefined) return null;
    if (v.type !== 'string') throw wrongType(key, 'a value');
    return v.value.slice();
  }

  async set(key: string, value: Uint8Array, ttlMs?: number): Promise<void> {
    let expiresAt: number | null = null;
    if (ttlMs !== undefined) {
      if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) {
        throw new ForeshockError('FS_STATE_TTL', `set ${key}: ttlMs must be a positive number, got ${ttlMs}`);
      }
      expiresAt = this.options.clock() + ttlMs;
    }
    this.data.set(key, { type: 'string', value: value.slice(), expiresAt });
  }

  async del(key: string): Promise<void> {
    this.data.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const now = this.options.clock();
    for (const [k, v] of this.data) {
      if (!k.startsWith(prefix)) continue;
      if (this.expire(k, v, now)) continue;
      out.push(k);
    }
    return out;
  }

  async hset(key: string, entries: Record<string, string>): Promise<void> {
    const fields = this.hash(key, true)!;
    for (const f of Object.keys(entries)) fields.set(f, entries[f]);
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.hash(key, false)?.get(field) ?? null;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const fields = this.hash(key, false);
    if (fields !== undefined) for (const [f, v] of fields) out[f] = v;
    return out;
  }

  async hdel(key: string, fields: string[]): Promise<void> {
    const h = this.hash(key, false);
    if (h === undefined) return;
    for (const f of fields) h.delete(f);
    if (h.size === 0) this.data.delete(key);
  }

  /** Ids are `<ms, 13 digits>-<seq, 6 digits>`: monotonic and sorting as strings in time order. */
  async append(log: string, entry: string, maxLen: number): Promise<string> {
    let v = this.live(log);
    if (v === undefined) {
      v = { type: 'log', items: [], head: 0 };
      this.data.set(log, v);
    } else if (v.type !== 'log') {
      throw wrongType(log, 'a log');
    }
    const id = this.nextId();
    v.items.push({ id, entry });
    const cap = Math.max(1, Math.floor(maxLen));
    if (v.items.length - v.head > cap) v.head = v.items.length - cap;
    if (v.head >= 1024 && v.head * 2 >= v.items.length) {
      v.items = v.items.slice(v.head);
      v.head = 0;
    }
    return id;
  }

  async trimLog(log: string, beforeMs: number): Promise<number> {
    const v = this.live(log);
    if (v === undefined) return 0;
    if (v.type !== 'log') throw wrongType(log, 'a log');
    const bound = String(Math.max(0, Math.floor(beforeMs))).padStart(13, '0');
    let lo = v.head;
    let hi = v.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v.items[mid].id < bound) lo = mid + 1;
      else hi = mid;
    }
    const dropped = lo - v.head;
    v.head = lo;
    return dropped;
  }

  async range(log: string, limit: number, beforeId?: string): Promise<{ id: string; entry: string }[]> {
    const v = this.live(log);
    if (v === undefined) return [];
    if (v.type !== 'log') throw wrongType(log, 'a log');
    // End: first index whose id is >= beforeId (binary search; ids ascend).
    let lo = v.head;
    let hi = v.items.length;
    if (beforeId !== undefined) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (v.items[mid].id < beforeId) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: { id: string; entry: string }[] = [];
    for (let i = hi - 1; i >= v.head && out.length < limit; i--) out.push({ ...v.items[i] });
    return out;
  }

  /** Stops the sweep timer. The store still answers afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
  }

  private nextId(): string {
    return nextLogId(this, this.options.clock());
  }

  /** The value of `key` unless absent or expired (expired values are removed). */
  private live(key: string): Value | undefined {
    const v = this.data.get(key);
    if (v === undefined) return undefined;
    return this.expire(key, v, this.options.clock()) ? undefined : v;
  }

  private expire(key: string, v: Value, now: number): boolean {
    if (v.type !== 'string' || v.expiresAt === null || v.expiresAt > now) return false;
    this.data.delete(key);
    this.stats.expired++;
    return true;
  }

  private hash(key: string, create: boolean): Map<string, string> | undefined {
    const v = this.live(key);
    if (v === undefined) {
      if (!create) return undefined;
      const fields = new Map<string, string>();
      this.data.set(key, { type: 'hash', fields });
      return fields;
    }
    if (v.type !== 'hash') throw wrongType(key, 'a hash');
    return v.fields;
  }

  private sweep(): void {
    const now = this.options.clock();
    for (const [k, v] of this.data) this.expire(k, v, now);
  }
}
