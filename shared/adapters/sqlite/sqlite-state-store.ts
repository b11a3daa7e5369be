// Durable embedded StateStore: checkpoints, forecasts, alert state and audit logs in the data
// directory's SQLite database, with Redis-like TTLs, hashes and capped logs. Values live on disk
// (SQLite's page cache is small), so a million series' checkpoints do not sit in the heap.

import type Database from 'better-sqlite3';
import { ForeshockError } from '../../errors/index.js';
import { nextLogId } from '../memory/log-ids.js';
import type { StateStore } from '../../ports/index.js';
import type { SqliteDatabase } from './sqlite-database.js';

export interface SqliteStateStoreOptions {
  /** Interval of the sweep that deletes expired keys nobody reads, ms. Default 60_000. */
  sweepIntervalMs?: number;
  /** Clock for TTLs and log ids, ms since epoch. Default `Date.now`. */
  clock?: () => number;
  /** `close` closes the database too (a store that has it to itself). Default false: the database is shared. */
  closeDatabase?: boolean;
}

export interface SqliteStateStoreStats {
  /** Keys removed because their TTL passed. */
  expired: number;
}

const TYPE_VALUE = 0;
const TYPE_HASH = 1;
const TYPE_LOG = 2;
const TYPE_NAMES = ['a value', 'a hash', 'a log'];


const SCHEMA = `
CREATE TABLE IF NOT EXISTS state_keys (key TEXT PRIMARY KEY, type INTEGER NOT NULL, value BLOB, expires_at INTEGER, n INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS state_hash (key TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_log (key TEXT NOT NULL, id TEXT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

function wrongType(key: string, want: number): ForeshockError {
  return new ForeshockError('FS_STATE_WRONGTYPE', `key ${key} holds another type than ${TYPE_NAMES[want]}`);
}

/** Smallest string above every string starting with `prefix` (null: no such bound, scan to the end). */
function prefixEnd(prefix: string): string | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    // Surrogates and U+FFFF do not increment into a valid UTF-8 neighbour: fall back to a scan.
    if (c >= 0xd800 && c <= 0xdfff) return null;
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return null;
}

interface KeyRow {
  type: number;
  value: Buffer | null;
  expires_at: number | null;
  n: number;
}

/** StateStore port on the embedded database (see SqliteDatabase for when a write is durable). */
export class SqliteStateStore implements StateStore {
  readonly stats: SqliteStateStoreStats = { expired: 0 };
  private readonly clock: () => number;
  private readonly sweepTimer: NodeJS.Timeout;
  lastIdMs: number;
  lastIdSeq: number;
  private readonly q: Record<string, Database.Statement>;
  private closed = false;
  private readonly closeDatabase: boolean;

  constructor(
    private readonly database: SqliteDatabase,
    options: SqliteStateStoreOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.closeDatabase = options.closeDatabase ?? false;
    const db = database.db;
    db.exec(SCHEMA);
    this.q = {
      key: db.prepare('SELECT type, value, expires_at, n FROM state_keys WHERE key = ?'),
      putValue: db.prepare('INSERT INTO state_keys (key, type, value, expires_at, n) VALUES (?, 0, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET type = 0, value = excluded.value, expires_at = excluded.expires_at, n = 0'),
      putKind: db.prepare('INSERT INTO state_keys (key, type, value, expires_at, n) VALUES (?, ?, NULL, NULL, 0) ON CONFLICT(key) DO NOTHING'),
      delKey: db.prepare('DELETE FROM state_keys WHERE key = ?'),
      delHashAll: db.prepare('DELETE FROM state_hash WHERE key = ?'),
      delLogAll: db.prepare('DELETE FROM state_log WHERE key = ?'),
      keysRange: db.prepare('SELECT key, type, expires_at FROM state_keys WHERE key >= ? AND key < ?'),
      keysFrom: db.prepare('SELECT key, type, expires_at FROM state_keys WHERE key >= ?'),
      hput: db.prepare('INSERT INTO state_hash (key, field, value) VALUES (?, ?, ?) ON CONFLICT(key, field) DO UPDATE SET value = excluded.value'),
      hget: db.prepare('SELECT value FROM state_hash WHERE key = ? AND field = ?'),
      hall: db.prepare('SELECT field, value FROM state_hash WHERE key = ?'),
      hdel: db.prepare('DELETE FROM state_hash WHERE key = ? AND field = ?'),
      hany: db.prepare('SELECT 1 FROM state_hash WHERE key = ? LIMIT 1'),
      lput: db.prepare('INSERT INTO state_log (key, id, entry) VALUES (?, ?, ?)'),
      lcount: db.prepare('UPDATE state_keys SET n = ? WHERE key = ?'),
      ltrim: db.prepare('DELETE FROM state_log WHERE key = ? AND id IN (SELECT id FROM state_log WHERE key = ? ORDER BY id LIMIT ?)'),
      lrange: db.prepare('SELECT id, entry FROM state_log WHERE key = ? ORDER BY id DESC LIMIT ?'),
      ltrimBefore: db.prepare('DELETE FROM state_log WHERE key = ? AND id < ?'),
      lrangeBefore: db.prepare('SELECT id, entry FROM state_log WHERE key = ? AND id < ? ORDER BY id DESC LIMIT ?'),
      expired: db.prepare('SELECT key FROM state_keys WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 10000'),
      meta: db.prepare('SELECT value FROM state_meta WHERE name = ?'),
      putMeta: db.prepare('INSERT INTO state_meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
    };
    this.lastIdMs = (this.q.meta.get('log_id_ms') as { value: number } | undefined)?.value ?? 0;
    this.lastIdSeq = (this.q.meta.get('log_id_seq') as { value: number } | undefined)?.value ?? 0;
    this.sweepTimer = setInterval(() => void this.sweep().catch(() => undefined), options.sweepIntervalMs ?? 60_000);
    this.sweepTimer.unref();
  }

  async get(key: string): Promise<Uint8Array | null> {
    const row = this.live(key);
    if (row === null) return null;
    if (row.type !== TYPE_VALUE) throw wrongType(key, TYPE_VALUE);
    // better-sqlite3 hands out a fresh Buffer per read: the caller owns it.
    return row.value === null ? new Uint8Array(0) : new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength);
  }

  set(key: string, value: Uint8Array, ttlMs?: number): Promise<void> {
    let expiresAt: number | null = null;
    if (ttlMs !== undefined) {
      if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) {
        return Promise.reject(new ForeshockError('FS_STATE_TTL', `set ${key}: ttlMs must be a positive number, got ${ttlMs}`));
      }
      expiresAt = this.clock() + ttlMs;
    }
    // Bound as a blob; SQLite copies it, so the caller may reuse the buffer.
    const blob = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return this.database.write(() => {
      const row = this.q.key.get(key) as KeyRow | undefined;
      if (row !== undefined && row.type !== TYPE_VALUE) this.dropContents(key, row.type);
      this.q.putValue.run(key, blob, expiresAt);
    });
  }

  del(key: string): Promise<void> {
    return this.database.write(() => {
      const row = this.q.key.get(key) as KeyRow | undefined;
      if (row === undefined) return;
      this.dropContents(key, row.type);
      this.q.delKey.run(key);
    });
  }

  async keys(prefix: string): Promise<string[]> {
    const now = this.clock();
    const end = prefixEnd(prefix);
    const rows = (end === null ? this.q.keysFrom.all(prefix) : this.q.keysRange.all(prefix, end)) as { key: string; expires_at: number | null }[];
    const out: string[] = [];
    let expired: string[] | null = null;
    for (const r of rows) {
      if (!r.key.startsWith(prefix)) continue;
      if (r.expires_at !== null && r.expires_at <= now) {
        (expired ??= []).push(r.key);
        continue;
      }
      out.push(r.key);
    }
    if (expired !== null) void this.expire(expired).catch(() => undefined);
    return out;
  }

  hset(key: string, entries: Record<string, string>): Promise<void> {
    return this.database.write(() => {
      this.ensureKind(key, TYPE_HASH);
      for (const f of Object.keys(entries)) this.q.hput.run(key, f, entries[f]);
    });
  }

  async hget(key: string, field: string): Promise<string | null> {
    if (!this.isKind(key, TYPE_HASH)) return null;
    return (this.q.hget.get(key, field) as { value: string } | undefined)?.value ?? null;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    if (!this.isKind(key, TYPE_HASH)) return out;
    for (const r of this.q.hall.iterate(key) as IterableIterator<{ field: string; value: string }>) out[r.field] = r.value;
    return out;
  }

  hdel(key: string, fields: string[]): Promise<void> {
    return this.database.write(() => {
      if (!this.isKind(key, TYPE_HASH)) return;
      for (const f of fields) this.q.hdel.run(key, f);
      if (this.q.hany.get(key) === undefined) this.q.delKey.run(key);
    });
  }

  /** Ids are `<ms, 13 digits>-<seq, 6 digits>`: monotonic (also across restarts) and sorting as strings in time order. */
  append(log: string, entry: string, maxLen: number): Promise<string> {
    return this.database.write(() => {
      const row = this.ensureKind(log, TYPE_LOG);
      const id = this.nextId();
      this.q.lput.run(log, id, entry);
      const cap = Math.max(1, Math.floor(maxLen));
      let n = row.n + 1;
      if (n > cap) {
        this.q.ltrim.run(log, log, n - cap);
        n = cap;
      }
      this.q.lcount.run(n, log);
      return id;
    });
  }

  trimLog(log: string, beforeMs: number): Promise<number> {
    return this.database.write(() => {
      if (!this.isKind(log, TYPE_LOG)) return 0;
      const row = this.ensureKind(log, TYPE_LOG);
      const gone = this.q.ltrimBefore.run(log, String(Math.max(0, Math.floor(beforeMs))).padStart(13, '0')).changes;
      if (gone > 0) this.q.lcount.run(Math.max(0, row.n - gone), log);
      return gone;
    });
  }

  async range(log: string, limit: number, beforeId?: string): Promise<{ id: string; entry: string }[]> {
    if (!this.isKind(log, TYPE_LOG) || limit <= 0) return [];
    const rows = beforeId === undefined ? this.q.lrange.all(log, limit) : this.q.lrangeBefore.all(log, beforeId, limit);
    return rows as { id: string; entry: string }[];
  }

  /** Stops the sweep; the database is closed by its owner (it is shared) unless `closeDatabase`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    if (this.closeDatabase) await this.database.close();
  }

  /** Deletes expired keys (the sweep; also callable by tests). */
  async sweep(): Promise<void> {
    const rows = this.q.expired.all(this.clock()) as { key: string }[];
    if (rows.length > 0) await this.expire(rows.map((r) => r.key));
  }

  private expire(keys: string[]): Promise<void> {
    const now = this.clock();
    return this.database.write(() => {
      for (const k of keys) {
        const row = this.q.key.get(k) as KeyRow | undefined;
        if (row === undefined || row.expires_at === null || row.expires_at > now) continue;
        this.q.delKey.run(k);
        this.stats.expired++;
      }
    });
  }

  /** The key's row unless absent or expired (an expired value is deleted in the background). */
  private live(key: string): KeyRow | null {
    const row = this.q.key.get(key) as KeyRow | undefined;
    if (row === undefined) return null;
    if (row.expires_at !== null && row.expires_at <= this.clock()) {
      void this.expire([key]).catch(() => undefined);
      return null;
    }
    return row;
  }

  private isKind(key: string, type: number): boolean {
    const row = this.live(key);
    if (row === null) return false;
    if (row.type !== type) throw wrongType(key, type);
    return true;
  }

  /** Inside a write: the key's row, created empty of `type` when missing; throws when it holds another type. */
  private ensureKind(key: string, type: number): KeyRow {
    let row = this.q.key.get(key) as KeyRow | undefined;
    if (row !== undefined && row.expires_at !== null && row.expires_at <= this.clock()) {
      this.q.delKey.run(key);
      this.stats.expired++;
      row = undefined;
    }
    if (row === undefined) {
      this.q.putKind.run(key, type);
      return { type, value: null, expires_at: null, n: 0 };
    }
    if (row.type !== type) throw wrongType(key, type);
    return row;
  }

  private dropContents(key: string, type: number): void {
    if (type === TYPE_HASH) this.q.delHashAll.run(key);
    else if (type === TYPE_LOG) this.q.delLogAll.run(key);
  }

  /** Inside a write: the next log id, persisted with the write that uses it. */
  private nextId(): string {
    const id = nextLogId(this, this.clock());
    this.q.putMeta.run('log_id_ms', this.lastIdMs);
    this.q.putMeta.run('log_id_seq', this.lastIdSeq);
    return id;
  }
}
