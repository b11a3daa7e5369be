// Embedded JobQueue: in-process jobs with idempotent ids, retries with exponential backoff and
// full jitter, delayed jobs and a bounded dead-letter list. Used when no Redis/BullMQ is configured.
// With a JobStore (the data directory's database) jobs, completed ids and dead letters survive a
// restart: a job queued or running at kill -9 runs again, a completed one is still known.

import { ForeshockError, UnavailableError } from '../../errors/index.js';
import type { Job, JobOptions, JobQueue, JobQueueCounts, ProcessOptions } from '../../ports/index.js';
import { withDefaults } from './with-defaults.js';

export interface MemoryJobQueueOptions {
  /** Attempts per job before it is dead-lettered (a job may override). Default 12. */
  attempts?: number;
  /** Retry delay cap after the first failure, ms; doubles per attempt. Default 1_000. */
  backoffBaseMs?: number;
  /** Largest retry delay cap, ms. The delay is uniform in [0, cap] ("full jitter"). Default 60_000. */
  backoffMaxMs?: number;
  /** Jobs of one name run at once when `process` names no concurrency. Default 4. */
  concurrency?: number;
  /** How long a completed job's id stays known, so a replayed `add` is a no-op, ms. Default 24 h. */
  completedRetentionMs?: number;
  /** Most completed ids remembered (oldest forgotten first). Default 100_000. */
  completedMax?: number;
  /** Dead letters kept (oldest dropped first; a dropped id is no longer known). Default 1_000. */
  deadLetterMax?: number;
  /** How long `close` waits for jobs in flight, ms. Default 10_000. */
  closeTimeoutMs?: number;
  /** Clock for retention and dead-letter times, ms since epoch. Default `Date.now`. */
  clock?: () => number;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Where jobs are kept across restarts. Default: nowhere (in memory only). */
  store?: JobStore | null;
  /** Told of a failed store write that was not the caller's to handle (completion, retry state), already counted. */
  onStoreError?: (err: unknown) => void;
}

/** A job as a JobStore keeps it. */
export interface StoredJob {
  id: string;
  name: string;
  data: unknown;
  /** Attempt the job runs next (1 before its first). */
  attempt: number;
  attempts: number;
  /** Wall time (ms) before which it does not run. */
  runAt: number;
}

/** Persistence of the embedded queue (see SqliteJobStore). Writes resolve once durable. */
export interface JobStore {
  /** What an earlier run left: jobs not done, completed ids (oldest first), dead letters (oldest first). */
  load(): { jobs: StoredJob[]; completed: { id: string; at: number }[]; dead: { job: Job; error: string; failedAt: number }[] };
  put(job: StoredJob): Promise<void>;
  complete(id: string, at: number): Promise<void>;
  dead(job: Job, error: string, at: number): Promise<void>;
  /** Forget completed ids or dead letters. */
  forget(ids: string[]): Promise<void>;
}

export const MEMORY_JOB_QUEUE_DEFAULTS: Readonly<Required<MemoryJobQueueOptions>> = Object.freeze({
  attempts: 12,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  concurrency: 4,
  completedRetentionMs: 24 * 3600_000,
  completedMax: 100_000,
  deadLetterMax: 1_000,
  closeTimeoutMs: 10_000,
  clock: Date.now,
  random: Math.random,
  store: null,
  onStoreError: () => {},
});

/** Counters beyond `counts()`, for /metrics. */
export interface MemoryJobQueueStats {
  added: number;
  /** `add` calls that were no-ops because the id was known. */
  duplicates: number;
  completed: number;
  /** Attempts that threw (each retry counts). */
  attemptsFailed: number;
  deadLettered: number;
  /** Store writes that failed (a job's completion or retry state; adds fail to their caller). */
  storeErrors: number;
  /** Jobs taken back from the store at start (queued or running when the last run ended). */
  recovered: number;
}

interface Entry {
  id: string;
  name: string;
  data: unknown;
  attempt: number;
  attempts: number;
  state: 'waiting' | 'delayed' | 'active';
  timer: NodeJS.Timeout | null;
}

interface Processor {
  handler: (job: Job<unknown>) => Promise<void>;
  concurrency: number;
  active: number;
}

/** FIFO of waiting entries of one job name. */
class WaitList {
  private items: Entry[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(e: Entry): void {
    this.items.push(e);
  }
  shift(): Entry | undefined {
    if (this.head >= this.items.length) return undefined;
    const e = this.items[this.head++];
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }
}

function errorText(err: unknown): string {
  if (err instanceof ForeshockError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** In-process implementation of the JobQueue port (see MemoryJobQueueOptions for its limits). */
export class MemoryJobQueue implements JobQueue {
  readonly stats: MemoryJobQueueStats = { added: 0, duplicates: 0, completed: 0, attemptsFailed: 0, deadLettered: 0, storeErrors: 0, recovered: 0 };
  private readonly options: Required<MemoryJobQueueOptions>;
  /** Jobs waiting, delayed or running, by id. */
  private readonly live = new Map<string, Entry>();
  private readonly waiting = new Map<string, WaitList>();
  private readonly processors = new Map<string, Processor>();
  /** Completed ids and when they completed, oldest first (Map keeps insertion order). */
  private readonly completed = new Map<string, number>();
  /** Oldest first; `deadLetters` reads it backwards. */
  private readonly dead: { job: Job; error: string; failedAt: number }[] = [];
  private readonly deadIds = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private active = 0;
  private delayed = 0;
  private closed = false;
  private readonly store: JobStore | null;

  constructor(options: MemoryJobQueueOptions = {}) {
    this.options = withDefaults(MEMORY_JOB_QUEUE_DEFAULTS, options);
    if (!Number.isInteger(this.options.attempts) || this.options.attempts < 1) {
      throw new ForeshockError('FS_QUEUE_OPTIONS', 'memory job queue: attempts must be a positive integer');
    }
    this.store = this.options.store;
    if (this.store !== null) this.recover(this.store);
  }

  /** Takes back what the store kept: jobs run again (after their backoff), known ids stay known. */
  private recover(store: JobStore): void {
    const { jobs, completed, dead } = store.load();
    for (const c of completed) this.completed.set(c.id, c.at);
    for (const d of dead) {
      this.dead.push(d);
      this.deadIds.add(d.job.id);
    }
    const now = this.options.clock();
    for (const j of jobs) {
      const entry: Entry = { id: j.id, name: j.name, data: j.data, attempt: j.attempt, attempts: j.attempts, state: 'waiting', timer: null };
      this.live.set(j.id, entry);
      this.stats.recovered++;
      if (j.runAt > now) this.delay(entry, j.runAt - now);
      else this.enqueue(entry);
    }
  }

  /** A store write nobody awaits: counted and reported; the job's state in memory stands. */
  private persist(write: Promise<void>): void {
    write.catch((err: unknown) => {
      this.stats.storeErrors++;
      try {
        this.options.onStoreError(err);
      } catch {
        // counted above
      }
    });
  }

  async add<T>(name: string, id: string, data: T, options: JobOptions = {}): Promise<boolean> {
    if (this.closed) throw new UnavailableError('FS_QUEUE_CLOSED', 'job queue is closed');
    if (this.isKnown(id)) {
      this.stats.duplicates++;
      return false;
    }
    const attempts = options.attempts ?? this.options.attempts;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new ForeshockError('FS_QUEUE_ATTEMPTS', `job ${id}: attempts must be a positive integer`, 400);
    }
    const entry: Entry = { id, name, data, attempt: 1, attempts, state: 'waiting', timer: null };
    this.live.set(id, entry);
    const delay = options.delayMs ?? 0;
    if (this.store !== null) {
      // Durable before the caller hears "added" (it may commit what the job stands for).
      try {
        await this.store.put({ id, name, data, attempt: 1, attempts, runAt: this.options.clock() + Math.max(0, delay) });
      } catch (err) {
        this.live.delete(id);
        throw new UnavailableError('FS_QUEUE_STORE', `job ${id} could not be stored: ${(err as Error).message}`);
      }
      if (this.closed) return true;
    }
    this.stats.added++;
    if (delay > 0) this.delay(entry, delay);
    else this.enqueue(entry);
    return true;
  }

  process<T>(name: string, handler: (job: Job<T>) => Promise<void>, options: ProcessOptions = {}): void {
    if (this.closed) throw new UnavailableError('FS_QUEUE_CLOSED', 'job queue is closed');
    if (this.processors.has(name)) {
      throw new ForeshockError('FS_QUEUE_PROCESSOR', `jobs "${name}" already have a processor`);
    }
    const concurrency = options.concurrency ?? this.options.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ForeshockError('FS_QUEUE_CONCURRENCY', `jobs "${name}": concurrency must be a positive integer`);
    }
    // The port is generic per call; jobs of one name carry that name's data type by contract.
    this.processors.set(name, { handler: handler as (job: Job<unknown>) => Promise<void>, concurrency, active: 0 });
    this.dispatch(name);
  }

  async counts(): Promise<JobQueueCounts> {
    this.expireCompleted();
    let waiting = 0;
    for (const w of this.waiting.values()) waiting += w.length;
    return { waiting, active: this.active, delayed: this.delayed, failed: this.dead.length, completed: this.completed.size };
  }

  async deadLetters(limit: number): Promise<{ job: Job; error: string; failedAt: number }[]> {
    const out: { job: Job; error: string; failedAt: number }[] = [];
    for (let i = this.dead.length - 1; i >= 0 && out.length < limit; i--) {
      const d = this.dead[i];
      out.push({ job: { ...d.job }, error: d.error, failedAt: d.failedAt });
    }
    return out;
  }

  /**
   * Stops starting jobs and cancels retry timers (jobs not started are lost with the process
   * unless a store keeps them for the next one); resolves when the jobs in flight finish or
   * `closeTimeoutMs` passes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.live.values()) {
      if (e.timer !== null) {
        clearTimeout(e.timer);
        e.timer = null;
      }
    }
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeTimeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
    clearTimeout(timer);
  }

  private isKnown(id: string): boolean {
    if (this.live.has(id) || this.deadIds.has(id)) return true;
    const doneAt = this.completed.get(id);
    if (doneAt === undefined) return false;
    if (this.options.clock() - doneAt <= this.options.completedRetentionMs) return true;
    this.completed.delete(id);
    return false;
  }

  private expireCompleted(): void {
    const cutoff = this.options.clock() - this.options.completedRetentionMs;
    let forgotten: string[] | null = null;
    for (const [id, at] of this.completed) {
      if (at >= cutoff && this.completed.size <= this.options.completedMax) break;
      this.completed.delete(id);
      (forgotten ??= []).push(id);
    }
    if (forgotten !== null && this.store !== null) this.persist(this.store.forget(forgotten));
  }

  private enqueue(entry: Entry): void {
    entry.state = 'waiting';
    let list = this.waiting.get(entry.name);
    if (list === undefined) {
      list = new WaitList();
      this.waiting.set(entry.name, list);
    }
    list.push(entry);
    this.dispatch(entry.name);
  }

  private delay(entry: Entry, ms: number): void {
    entry.state = 'delayed';
    this.delayed++;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      this.delayed--;
      this.enqueue(entry);
    }, ms);
    // A pending retry alone must not keep the process alive; close() clears the rest.
    entry.timer.unref();
  }

  private dispatch(name: string): void {
    if (this.closed) return;
    const proc = this.processors.get(name);
    const list = this.waiting.get(name);
    if (proc === undefined || list === undefined) return;
    while (proc.active < proc.concurrency) {
      const entry = list.shift();
      if (entry === undefined) return;
      this.start(proc, entry);
    }
  }

  private start(proc: Processor, entry: Entry): void {
    entry.state = 'active';
    proc.active++;
    this.active++;
    const job: Job<unknown> = { id: entry.id, name: entry.name, data: entry.data, attempt: entry.attempt };
    const run = Promise.resolve()
      .then(() => proc.handler(job))
      .then(
        () => this.succeeded(entry),
        (err: unknown) => this.failed(entry, err),
      )
      .finally(() => {
        proc.active--;
        this.active--;
        this.inFlight.delete(run);
        this.dispatch(entry.name);
      });
    this.inFlight.add(run);
  }

  private succeeded(entry: Entry): void {
    this.live.delete(entry.id);
    const at = this.options.clock();
    this.completed.set(entry.id, at);
    this.stats.completed++;
    if (this.store !== null) this.persist(this.store.complete(entry.id, at));
    this.expireCompleted();
  }

  private failed(entry: Entry, err: unknown): void {
    this.stats.attemptsFailed++;
    if (entry.attempt < entry.attempts) {
      const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** (entry.attempt - 1));
      entry.attempt++;
      const wait = this.options.random() * cap;
      if (this.store !== null) {
        this.persist(this.store.put({ id: entry.id, name: entry.name, data: entry.data, attempt: entry.attempt, attempts: entry.attempts, runAt: this.options.clock() + wait }));
      }
      if (this.closed) {
        entry.state = 'delayed';
        this.delayed++;
      } else {
        this.delay(entry, wait);
      }
      return;
    }
    this.live.delete(entry.id);
    const job: Job = { id: entry.id, name: entry.name, data: entry.data, attempt: entry.attempt };
    const failedAt = this.options.clock();
    this.dead.push({ job, error: errorText(err), failedAt });
    this.deadIds.add(entry.id);
    this.stats.deadLettered++;
    if (this.store !== null) this.persist(this.store.dead(job, errorText(err), failedAt));
    const dropped: string[] = [];
    while (this.dead.length > this.options.deadLetterMax) {
      const id = this.dead.shift()!.job.id;
      this.deadIds.delete(id);
      dropped.push(id);
    }
    if (dropped.length > 0 && this.store !== null) this.persist(this.store.forget(dropped));
  }
}
