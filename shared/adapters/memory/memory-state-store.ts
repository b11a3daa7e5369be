// Embedded StateStore: checkpoints, forecasts, alert state and audit logs in a Map, with
// Redis-like TTLs, hashes and capped logs, and an optional snapshot file so a restart keeps them.

import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ForeshockError } from '../../errors/index.js';
import type { StateStore } from '../../ports/index.js';
import { withDefaults } from './with-defaults.js';

export interface MemoryStateStoreOptions {
  /**
   * File the whole store is saved to (atomically: temp file, fsync, rename) every
   * `snapshotIntervalMs` and on close, and loaded from on construction. Empty: no snapshot.
   * Default ''.
   */
  snapshotPath?: string;
  /** Interval between snapshot writes when something changed, ms; 0 writes only on close. Default 30_000. */
  snapshotIntervalMs?: number;
  /** Interval of the sweep that drops expired keys nobody reads, ms. Default 60_000. */
  sweepIntervalMs?: number;
  /** Clock for TTLs and log ids, ms since epoch. Default `Date.now`. */
  clock?: () => number;
}

export const MEMORY_STATE_STORE_DEFAULTS: Readonly<Required<MemoryStateStoreOptions>> = Object.freeze({
  snapshotPath: '',
  snapshotIntervalMs: 30_000,
  sweepIntervalMs: 60_000,
  clock: Date.now,
});

/** Counters of the embedded store, for /metrics. */
export interface MemoryStateStoreStats {
  /** Keys removed because their TTL passed. */
  expired: number;
  snapshotsWritten: number;
  /** Periodic snapshot writes that failed (the error is kept in `lastSnapshotError`). */
  snapshotErrors: number;
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

/** Snapshot file layout (JSON). Bump `version` on an incompatible change. */
interface SnapshotFile {
  format: 'foreshock-state';
  version: 1;
  savedAt: number;
  /** Last log id issued, so ids stay monotonic across restarts even if the clock steps back. */
  lastIdMs: number;
  lastIdSeq: number;
  strings: [key: string, base64: string, expiresAt: number | null][];
  hashes: [key: string, fields: Record<string, string>][];
  logs: [key: string, items: [id: string, entry: string][]][];
}

const ID_MS_DIGITS = 13;
const ID_SEQ_DIGITS = 6;
const ID_SEQ_MAX = 10 ** ID_SEQ_DIGITS - 1;

function wrongType(key: string, want: string): ForeshockError {
  return new ForeshockError('FS_STATE_WRONGTYPE', `key ${key} holds another type than ${want}`);
}

/** In-process implementation of the StateStore port (see MemoryStateStoreOptions). */
export class MemoryStateStore implements StateStore {
  readonly stats: MemoryStateStoreStats = { expired: 0, snapshotsWritten: 0, snapshotErrors: 0 };
  lastSnapshotError: Error | null = null;
  private readonly options: Required<MemoryStateStoreOptions>;
  private readonly data = new Map<string, Value>();
  private lastIdMs = 0;
  private lastIdSeq = 0;
  private dirty = false;
  private writing: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  /** Loads `snapshotPath` synchronously if the file exists; a file that cannot be read throws FS_STATE_SNAPSHOT. */
  constructor(options: MemoryStateStoreOptions = {}) {
    this.options = withDefaults(MEMORY_STATE_STORE_DEFAULTS, options);
    if (this.options.snapshotPath !== '') this.load(this.options.snapshotPath);
    const sweep = setInterval(() => this.sweep(), this.options.sweepIntervalMs);
    sweep.unref();
    this.timers.push(sweep);
    if (this.options.snapshotPath !== '' && this.options.snapshotIntervalMs > 0) {
      const snap = setInterval(() => {
        if (this.dirty && this.writing === null) void this.saveSnapshot().catch(() => undefined);
      }, this.options.snapshotIntervalMs);
      snap.unref();
      this.timers.push(snap);
    }
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
    this.dirty = true;
  }

  async del(key: string): Promise<void> {
    if (this.data.delete(key)) this.dirty = true;
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
    this.dirty = true;
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
    this.dirty = true;
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
    this.dirty = true;
    return id;
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

  /** Stops the timers and writes a final snapshot (if configured). The store still answers afterwards, unsaved. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.writing !== null) await this.writing.catch(() => undefined);
    if (this.options.snapshotPath !== '') await this.saveSnapshot();
  }

  /** Writes the snapshot now (temp file + fsync + rename); rejects with FS_STATE_SNAPSHOT on failure. */
  async saveSnapshot(): Promise<void> {
    const path = this.options.snapshotPath;
    if (path === '') return;
    while (this.writing !== null) await this.writing.catch(() => undefined);
    this.dirty = false;
    const body = JSON.stringify(this.toSnapshot());
    const write = (async () => {
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(body);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        this.stats.snapshotsWritten++;
      } catch (err) {
        this.dirty = true;
        this.stats.snapshotErrors++;
        await rm(tmp, { force: true }).catch(() => undefined);
        const e = new ForeshockError('FS_STATE_SNAPSHOT', `cannot write state snapshot ${path}: ${(err as Error).message}`, 500, { cause: err });
        this.lastSnapshotError = e;
        throw e;
      }
    })();
    this.writing = write;
    try {
      await write;
    } finally {
      this.writing = null;
    }
  }

  private nextId(): string {
    let ms = Math.max(Math.floor(this.options.clock()), this.lastIdMs);
    let seq = ms === this.lastIdMs ? this.lastIdSeq + 1 : 0;
    if (seq > ID_SEQ_MAX) {
      ms++;
      seq = 0;
    }
    this.lastIdMs = ms;
    this.lastIdSeq = seq;
    return String(ms).padStart(ID_MS_DIGITS, '0') + '-' + String(seq).padStart(ID_SEQ_DIGITS, '0');
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
    this.dirty = true;
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

  private toSnapshot(): SnapshotFile {
    const snap: SnapshotFile = {
      format: 'foreshock-state',
      version: 1,
      savedAt: this.options.clock(),
      lastIdMs: this.lastIdMs,
      lastIdSeq: this.lastIdSeq,
      strings: [],
      hashes: [],
      logs: [],
    };
    const now = this.options.clock();
    for (const [k, v] of this.data) {
      if (v.type === 'string') {
        if (v.expiresAt !== null && v.expiresAt <= now) continue;
        snap.strings.push([k, Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64'), v.expiresAt]);
      } else if (v.type === 'hash') {
        snap.hashes.push([k, Object.fromEntries(v.fields)]);
      } else {
        snap.logs.push([k, v.items.slice(v.head).map((i): [string, string] => [i.id, i.entry])]);
      }
    }
    return snap;
  }

  private load(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ForeshockError('FS_STATE_SNAPSHOT', `cannot read state snapshot ${path}: ${(err as Error).message}`, 500, { cause: err });
    }
    let snap: SnapshotFile;
    try {
      snap = JSON.parse(text) as SnapshotFile;
      if (snap.format !== 'foreshock-state' || snap.version !== 1) throw new Error(`unknown format ${String(snap.format)} v${String(snap.version)}`);
    } catch (err) {
      throw new ForeshockError('FS_STATE_SNAPSHOT', `state snapshot ${path} is not readable: ${(err as Error).message}`, 500, { cause: err });
    }
    const now = this.options.clock();
    for (const [k, b64, expiresAt] of snap.strings) {
      if (expiresAt !== null && expiresAt <= now) continue;
      this.data.set(k, { type: 'string', value: new Uint8Array(Buffer.from(b64, 'base64')), expiresAt });
    }
    for (const [k, fields] of snap.hashes) this.data.set(k, { type: 'hash', fields: new Map(Object.entries(fields)) });
    for (const [k, items] of snap.logs) this.data.set(k, { type: 'log', items: items.map(([id, entry]) => ({ id, entry })), head: 0 });
    this.lastIdMs = snap.lastIdMs;
    this.lastIdSeq = snap.lastIdSeq;
  }
}
