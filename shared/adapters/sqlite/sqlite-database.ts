// The embedded database of `foreshock start`: one SQLite file (WAL mode) in the data directory
// that the durable embedded adapters (state store, bus log, job queue) share. Writes of one
// event-loop turn are grouped into one transaction; a write's promise resolves once that
// transaction committed, i.e. once the data is in the database's write-ahead log on disk.

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ForeshockError } from '../../errors/index.js';
import { withDefaults } from '../memory/with-defaults.js';

/**
 * When the log is forced to the disk itself (fsync), beyond being written to the file:
 * - `always`: at every commit (survives power loss; costs an fsync per commit);
 * - `interval`: every `fsyncIntervalMs` (a power loss can lose that much; a crash or kill -9 of
 *   the process loses nothing, the data is in the file);
 * - `off`: when SQLite checkpoints its log (a power loss can lose more; kill -9 still loses nothing).
 */
export type FsyncPolicy = 'always' | 'interval' | 'off';

export interface SqliteDatabaseOptions {
  /** Data directory; created if missing. The database is `<dir>/foreshock.db`. */
  dir: string;
  /** Default 'interval'. */
  fsync?: FsyncPolicy;
  /** Period of the forced sync under `interval`, ms. Default 1_000. */
  fsyncIntervalMs?: number;
  /** Largest database, bytes (0: no limit); a write beyond it fails like a full disk. Default 0. */
  maxBytes?: number;
  /** Told of every failed commit (already counted in stats), e.g. to log it. */
  onError?: (err: ForeshockError) => void;
}

export const SQLITE_DATABASE_DEFAULTS: Readonly<Required<SqliteDatabaseOptions>> = Object.freeze({
  dir: '',
  fsync: 'interval',
  fsyncIntervalMs: 1_000,
  maxBytes: 0,
  onError: () => {},
});

export interface SqliteDatabaseStats {
  commits: number;
  /** Commits that failed (their writes were rolled back and their callers told). */
  commitErrors: number;
  /** Forced syncs (interval policy) and those that failed. */
  syncs: number;
  syncErrors: number;
}

const PAGE_SIZE = 4096;

type Waiter = { resolve: () => void; reject: (err: unknown) => void };

/** The shared SQLite connection, its data-directory lock and its group commit. */
export class SqliteDatabase {
  readonly db: Database.Database;
  readonly path: string;
  readonly stats: SqliteDatabaseStats = { commits: 0, commitErrors: 0, syncs: 0, syncErrors: 0 };
  /** The last failed commit or sync, until a later one succeeds (shown by /readyz). */
  lastError: ForeshockError | null = null;
  private readonly options: Required<SqliteDatabaseOptions>;
  private readonly lockPath: string;
  private waiters: Waiter[] = [];
  private commitScheduled = false;
  private dirtySinceSync = false;
  private readonly timer: NodeJS.Timeout | null = null;
  private readonly rollbackHooks: (() => void)[] = [];
  private closed = false;

  /** Opens (or creates) the database; throws FS_DATA_DIR when the directory cannot be used or another live process holds it. */
  constructor(options: SqliteDatabaseOptions) {
    this.options = withDefaults(SQLITE_DATABASE_DEFAULTS, options);
    const dir = resolve(this.options.dir);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ForeshockError('FS_DATA_DIR', `data directory ${dir} cannot be created: ${(err as Error).message}`, 500, { cause: err });
    }
    this.lockPath = join(dir, 'LOCK');
    takeLock(this.lockPath);
    this.path = join(dir, 'foreshock.db');
    try {
      this.db = new Database(this.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${this.options.fsync === 'always' ? 'FULL' : 'NORMAL'}`);
      // Keep the log file itself from staying large after a burst.
      this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
      if (this.options.maxBytes > 0) this.db.pragma(`max_page_count = ${Math.max(16, Math.floor(this.options.maxBytes / PAGE_SIZE))}`);
    } catch (err) {
      rmSync(this.lockPath, { force: true });
      throw new ForeshockError('FS_DATA_DIR', `database ${this.path} cannot be opened: ${(err as Error).message}`, 500, { cause: err });
    }
    if (this.options.fsync === 'interval') {
      this.timer = setInterval(() => this.sync(), this.options.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  /** Bytes the database file and its log take on disk. */
  sizeBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    return pages * PAGE_SIZE;
  }

  /**
   * Runs `fn` (synchronous statements) in this turn's write transaction and resolves with its
   * result once the transaction committed; rejects when `fn` throws or the commit fails (then
   * every write of the transaction is undone, and the rollback hooks run).
   */
  write<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new ForeshockError('FS_DATA_CLOSED', 'the embedded database is closed', 503));
    if (!this.db.inTransaction) {
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        return Promise.reject(this.failure(err, 'begin'));
      }
    }
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(() => this.commit());
    }
    let result: T;
    try {
      result = fn();
    } catch (err) {
      // A statement that failed hard (disk full) can end the transaction: undo the rest with it.
      if (!this.db.inTransaction) this.abort(this.failure(err, 'write'));
      return Promise.reject(err instanceof ForeshockError ? err : this.failure(err, 'write'));
    }
    return new Promise<T>((res, rej) => this.waiters.push({ resolve: () => res(result), reject: rej }));
  }

  /** Called after a failed commit undid writes, so in-memory mirrors of the data can reload. */
  onRollback(hook: () => void): void {
    this.rollbackHooks.push(hook);
  }

  /** Commits what is pending (now rather than at the end of the turn). */
  flush(): Promise<void> {
    return this.write(() => undefined);
  }

  /** Commits, syncs, closes and releases the data directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.commitScheduled) await this.flush().catch(() => undefined);
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    try {
      if (this.db.inTransaction) this.commit();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Closing anyway; the log is replayed on the next open.
    }
    this.db.close();
    rmSync(this.lockPath, { force: true });
  }

  private commit(): void {
    this.commitScheduled = false;
    const waiters = this.waiters;
    this.waiters = [];
    if (!this.db.inTransaction) {
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      const e = this.failure(err, 'commit');
      this.abort(e, waiters);
      return;
    }
    this.stats.commits++;
    this.dirtySinceSync = true;
    if (this.lastError !== null && this.lastError.code === 'FS_DATA_WRITE') this.lastError = null;
    for (const w of waiters) w.resolve();
  }

  private abort(err: ForeshockError, waiters: Waiter[] = this.waiters): void {
    if (waiters === this.waiters) this.waiters = [];
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // Already rolled back by SQLite itself.
    }
    for (const hook of this.rollbackHooks) hook();
    for (const w of waiters) w.reject(err);
  }

  private failure(err: unknown, where: string): ForeshockError {
    const e = new ForeshockError('FS_DATA_WRITE', `embedded database ${this.path}: ${where} failed: ${(err as Error).message}`, 503, { cause: err });
    this.stats.commitErrors++;
    this.lastError = e;
    try {
      this.options.onError(e);
    } catch {
      // The error is counted and kept; a failing hook must not hide it.
    }
    return e;
  }

  /** Interval policy: checkpoint the log into the database with fsync (both files forced to disk). */
  private sync(): void {
    if (!this.dirtySinceSync || this.closed || this.db.inTransaction) return;
    this.dirtySinceSync = false;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.stats.syncs++;
      if (this.lastError !== null && this.lastError.code === 'FS_DATA_SYNC') this.lastError = null;
    } catch (err) {
      this.stats.syncErrors++;
      this.lastError = new ForeshockError('FS_DATA_SYNC', `embedded database ${this.path}: sync failed: ${(err as Error).message}`, 503, { cause: err });
      try {
        this.options.onError(this.lastError);
      } catch {
        // counted above
      }
    }
  }
}

/**
 * One process per data directory: the lock file holds the owner's pid. A lock left by a process
 * that no longer runs (kill -9) is taken over.
 */
function takeLock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ForeshockError('FS_DATA_DIR', `cannot lock ${path}: ${(err as Error).message}`, 500, { cause: err });
      }
    }
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new ForeshockError('FS_DATA_DIR', `data directory is in use by process ${pid} (${path}); stop it or set data.dir to another directory`);
    }
    rmSync(path, { force: true });
  }
  throw new ForeshockError('FS_DATA_DIR', `cannot lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
