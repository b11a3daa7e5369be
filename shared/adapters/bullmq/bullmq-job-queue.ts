// JobQueue on BullMQ (Redis): the intervention worker's jobs survive restarts and are shared by
// every process. One BullMQ queue (and at most one Worker per process) per job name.

import { Queue, Worker, type Job as BullJob, type JobsOptions, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ForeshockError, UnavailableError } from '../../errors/index.js';
import type { Job, JobOptions, JobQueue, JobQueueCounts, ProcessOptions } from '../../ports/index.js';
import { createRedisClient, quitOrDisconnect, type RedisConnectionOptions } from '../redis/index.js';
import { fromBullJobId, toBullJobId } from './job-id.js';

/** At most `max` jobs of a name start per `durationMs`, across every worker of the queue. */
export interface JobRateLimit {
  max: number;
  durationMs: number;
}

export interface BullMqJobQueueOptions extends RedisConnectionOptions {
  /**
   * BullMQ key prefix. Each job name is its own BullMQ queue, keys `<prefix>:<name>:…`. Keep it
   * apart from the state store's `foreshock:` so `keys('')` there never lists queue internals.
   * Default `foreshock-bull`.
   */
  prefix?: string;
  /** Attempts per job before it is dead-lettered (a job may override). Default 12. */
  attempts?: number;
  /**
   * Retry delay cap after the first failure, ms; doubles per attempt. Recorded on each job
   * when it is added. Default 1_000.
   */
  backoffBaseMs?: number;
  /** Largest retry delay cap, ms, applied by the worker. The delay is uniform in [0, cap] ("full jitter"). Default 60_000. */
  backoffMaxMs?: number;
  /** Jobs of one name run at once in this process when `process` names no concurrency. Default 4. */
  concurrency?: number;
  /**
   * How long a completed job stays in Redis, so a replayed `add` of its id is a no-op, ms
   * (BullMQ `removeOnComplete.age`, whole seconds; BullMQ prunes when a later job of the name
   * completes, so an id can stay known longer). Default 24 h.
   */
  completedRetentionMs?: number;
  /** Most completed jobs kept per job name (oldest removed first). Default 100_000. */
  completedMax?: number;
  /** Dead letters (failed jobs) kept per job name; a removed one's id is no longer known. Default 1_000. */
  deadLetterMax?: number;
  /**
   * How long `close` waits for jobs in flight, ms. Past it the workers are closed without
   * waiting: their locks lapse after `lockDurationMs` and any worker's stalled check puts the
   * jobs back in the queue. Default 10_000.
   */
  closeTimeoutMs?: number;
  /** Rate limit of every job name whose `process` call names none. Default none. */
  limiter?: JobRateLimit | null;
  /** Lock of a running job, renewed while its handler runs; a crashed worker's jobs return after it lapses, ms. Default 30_000. */
  lockDurationMs?: number;
  /** Interval of the check that returns jobs of crashed workers to the queue, ms. Default 30_000. */
  stalledIntervalMs?: number;
  /** Times a job may be returned by the stalled check before it is dead-lettered instead. Default 1. */
  maxStalledCount?: number;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

type QueueOwnOptions = Omit<BullMqJobQueueOptions, keyof RedisConnectionOptions>;

export const BULLMQ_JOB_QUEUE_DEFAULTS: Readonly<Required<QueueOwnOptions>> = Object.freeze({
  prefix: 'foreshock-bull',
  attempts: 12,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  concurrency: 4,
  completedRetentionMs: 24 * 3600_000,
  completedMax: 100_000,
  deadLetterMax: 1_000,
  closeTimeoutMs: 10_000,
  limiter: null,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 1,
  random: Math.random,
});

/** `process` options of this adapter: the port's, plus a rate limit for the job name. */
export interface BullMqProcessOptions extends ProcessOptions {
  /** Overrides the queue's `limiter` for this job name; null: none. */
  limiter?: JobRateLimit | null;
}

/** Counters of this process's queue and workers, for /metrics. */
export interface BullMqJobQueueStats {
  added: number;
  /** `add` calls that were no-ops because the id was known. */
  duplicates: number;
  completed: number;
  /** Attempts that threw (each retry counts). */
  attemptsFailed: number;
  deadLettered: number;
  /** 'error' events of connections, queues and workers (ioredis and BullMQ retry by themselves). */
  errors: number;
}

/** Backoff type recorded on our jobs; computed by the workers' custom strategy. */
const BACKOFF_TYPE = 'foreshock-exponential';
/** How long one `add` holds the id while it checks and creates the job, ms. */
const ADD_LOCK_MS = 5_000;
/** Job names become BullMQ queue names: no ':' (key separator), and '_' starts our own keys. */
const JOB_NAME = /^[^:_][^:]*$/;

/**
 * Returns 0 when the job exists (duplicate), 1 when this caller may create it (lock taken),
 * 2 when another `add` of the same id is between its check and its create.
 */
const ADD_GUARD_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 2`;
const ADD_RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface GuardCommands {
  fsJobAddGuard(jobKey: string, lockKey: string, token: string, ttlMs: number): Promise<number>;
  fsJobAddRelease(lockKey: string, token: string): Promise<number>;
}

function errorText(err: unknown): string {
  if (err instanceof ForeshockError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry delay before attempt `failures + 1`: uniform in [0, min(max, base·2^(failures-1))]. */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.floor(random() * cap);
}

/**
 * BullMQ implementation of the JobQueue port (options: BullMqJobQueueOptions). Where it differs
 * from the embedded queue:
 * - ids are unique per job name (each name is its own BullMQ queue), not across names;
 * - a completed id stays known at least `completedRetentionMs` (BullMQ prunes lazily);
 * - `concurrency` is per process; `limiter` is shared by all processes;
 * - a run cut short by a crash is not an attempt: the job returns with the same `attempt`,
 *   and after `maxStalledCount` such returns BullMQ dead-letters it;
 * - `close` leaves jobs not yet started in Redis for the next process (the embedded queue loses them);
 * - data travels as JSON.
 */
export class BullMqJobQueue implements JobQueue {
  readonly stats: BullMqJobQueueStats = { added: 0, duplicates: 0, completed: 0, attemptsFailed: 0, deadLettered: 0, errors: 0 };
  /** Last error event, for logs and /readyz. */
  lastError: Error | null = null;
  private readonly options: Required<QueueOwnOptions>;
  private readonly connection: RedisConnectionOptions;
  /** Commands, Queue instances, add guards; rejects commands after a few reconnects (fail fast). */
  private readonly producer: Redis & GuardCommands;
  /** Workers' command connection: waits out reconnects, as BullMQ requires (`maxRetriesPerRequest: null`). */
  private workerRedis: Redis | null = null;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private readonly registered = new Set<string>();
  private readonly namesKey: string;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Starts connecting at once. */
  constructor(options: BullMqJobQueueOptions = {}) {
    const own: Required<QueueOwnOptions> = { ...BULLMQ_JOB_QUEUE_DEFAULTS };
    const connection: RedisConnectionOptions = {};
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      if (k in BULLMQ_JOB_QUEUE_DEFAULTS) (own as Record<string, unknown>)[k] = v;
      else (connection as Record<string, unknown>)[k] = v;
    }
    this.options = own;
    this.connection = connection;
    this.validate();
    this.namesKey = `${own.prefix}:_names`;
    this.producer = createRedisClient(connection) as Redis & GuardCommands;
    this.producer.on('error', (err: Error) => this.onError(err));
    this.producer.defineCommand('fsJobAddGuard', { numberOfKeys: 2, lua: ADD_GUARD_LUA });
    this.producer.defineCommand('fsJobAddRelease', { numberOfKeys: 1, lua: ADD_RELEASE_LUA });
  }

  /**
   * Adds the job unless a job with this id exists in Redis (waiting, delayed, running, failed, or
   * completed within the retention). Exact under concurrent adds from any number of processes.
   * `data` travels as JSON (undefined becomes null).
   */
  async add<T>(name: string, id: string, data: T, options: JobOptions = {}): Promise<boolean> {
    if (this.closed) throw new UnavailableError('FS_QUEUE_CLOSED', 'job queue is closed');
    const attempts = options.attempts ?? this.options.attempts;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new ForeshockError('FS_QUEUE_ATTEMPTS', `job ${id}: attempts must be a positive integer`, 400);
    }
    const queue = this.queueFor(name);
    await this.register(name);
    const jobId = toBullJobId(id);
    const lockKey = `${this.options.prefix}:_adding:${name}:${jobId}`;
    const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
    const giveUpAt = Date.now() + 2 * ADD_LOCK_MS;
    for (;;) {
      const r = await this.producer.fsJobAddGuard(queue.toKey(jobId), lockKey, token, ADD_LOCK_MS);
      if (r === 0) {
        this.stats.duplicates++;
        return false;
      }
      if (r === 1) break;
      if (Date.now() > giveUpAt) throw new UnavailableError('FS_QUEUE_BUSY', `job ${id}: another add of this id does not finish`);
      await sleep(5);
    }
    try {
      const opts: JobsOptions = {
        jobId,
        attempts,
        backoff: { type: BACKOFF_TYPE, delay: this.options.backoffBaseMs },
        removeOnComplete: { age: Math.max(1, Math.ceil(this.options.completedRetentionMs / 1000)), count: this.options.completedMax },
        removeOnFail: { count: this.options.deadLetterMax },
      };
      if (options.delayMs !== undefined && options.delayMs > 0) opts.delay = Math.ceil(options.delayMs);
      await queue.add(name, data === undefined ? null : data, opts);
    } finally {
      await this.producer.fsJobAddRelease(lockKey, token).catch((err: Error) => this.onError(err));
    }
    this.stats.added++;
    return true;
  }

  /**
   * Starts this process's worker for `name`. `concurrency` is per process; `limiter` is shared by
   * every worker of the name. A throw retries with capped exponential backoff and full jitter.
   */
  process<T>(name: string, handler: (job: Job<T>) => Promise<void>, options: BullMqProcessOptions = {}): void {
    if (this.closed) throw new UnavailableError('FS_QUEUE_CLOSED', 'job queue is closed');
    if (this.workers.has(name)) throw new ForeshockError('FS_QUEUE_PROCESSOR', `jobs "${name}" already have a processor`);
    checkName(name);
    const concurrency = options.concurrency ?? this.options.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ForeshockError('FS_QUEUE_CONCURRENCY', `jobs "${name}": concurrency must be a positive integer`);
    }
    const limiter = options.limiter === undefined ? this.options.limiter : options.limiter;
    if (limiter !== null) checkLimiter(limiter);
    this.register(name).catch((err: Error) => this.onError(err));
    const { backoffBaseMs, backoffMaxMs, random } = this.options;
    const workerOptions: WorkerOptions = {
      connection: this.workerConnection(),
      prefix: this.options.prefix,
      concurrency,
      lockDuration: this.options.lockDurationMs,
      stalledInterval: this.options.stalledIntervalMs,
      maxStalledCount: this.options.maxStalledCount,
      removeOnComplete: { age: Math.max(1, Math.ceil(this.options.completedRetentionMs / 1000)), count: this.options.completedMax },
      removeOnFail: { count: this.options.deadLetterMax },
      settings: {
        backoffStrategy: (failures, _type, _err, job) => {
          const b = job?.opts.backoff;
          const base = typeof b === 'object' && b.delay !== undefined ? b.delay : backoffBaseMs;
          return backoffDelayMs(failures, base, backoffMaxMs, random);
        },
      },
      ...(limiter !== null ? { limiter: { max: limiter.max, duration: limiter.durationMs } } : {}),
    };
    const worker = new Worker(name, (bj: BullJob) => this.run(bj, handler as (job: Job<unknown>) => Promise<void>), workerOptions);
    worker.on('error', (err: Error) => this.onError(err));
    worker.on('completed', () => void this.stats.completed++);
    worker.on('failed', (bj: BullJob | undefined) => {
      this.stats.attemptsFailed++;
      if (bj !== undefined && bj.attemptsMade >= (bj.opts.attempts ?? 1)) this.stats.deadLettered++;
    });
    this.workers.set(name, worker);
  }

  /** Sums over every job name ever added or processed under this prefix (by any process). */
  async counts(): Promise<JobQueueCounts> {
    const names = await this.knownNames();
    const per = await Promise.all(
      names.map((n) => this.queueFor(n).getJobCounts('wait', 'paused', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed', 'completed')),
    );
    const out: JobQueueCounts = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
    for (const c of per) {
      out.waiting += (c.wait ?? 0) + (c.paused ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
      out.active += c.active ?? 0;
      out.delayed += c.delayed ?? 0;
      out.failed += c.failed ?? 0;
      out.completed += c.completed ?? 0;
    }
    return out;
  }

  /** Failed jobs of every job name, newest first; `attempt` is the attempts made. */
  async deadLetters(limit: number): Promise<{ job: Job; error: string; failedAt: number }[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    const names = await this.knownNames();
    const lists = await Promise.all(names.map((name) => this.queueFor(name).getFailed(0, n - 1)));
    const out: { job: Job; error: string; failedAt: number }[] = [];
    for (const list of lists) {
      for (const bj of list) {
        if (bj === undefined || bj === null || bj.id === undefined) continue;
        out.push({
          job: { id: fromBullJobId(bj.id), name: bj.name, data: bj.data as unknown, attempt: Math.max(1, bj.attemptsMade) },
          error: bj.failedReason ?? '',
          failedAt: bj.finishedOn ?? bj.processedOn ?? bj.timestamp,
        });
      }
    }
    out.sort((a, b) => b.failedAt - a.failedAt);
    return out.slice(0, n);
  }

  /**
   * Stops taking jobs and waits up to `closeTimeoutMs` for the handlers in flight, then closes
   * the workers (gracefully, or without waiting if a handler is still running: its job returns
   * to the queue through the stalled check) and the connections. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = this.shutdown();
    }
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const deadline = Date.now() + this.options.closeTimeoutMs;
    // pause() stops fetching and resolves once the worker's jobs (fetched or running) are done.
    await Promise.all([...this.workers.values()].map((w) => this.closeWorker(w, deadline)));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch((err: Error) => this.onError(err))));
    await quitOrDisconnect(this.producer);
    if (this.workerRedis !== null) await quitOrDisconnect(this.workerRedis);
  }

  /** Graceful close if the worker drains by `deadline`, else close without waiting for its jobs. */
  private async closeWorker(worker: Worker, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      worker.pause().then(
        () => true,
        (err: Error) => {
          this.onError(err);
          return false;
        },
      ),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    await worker.close(!drained).catch((err: Error) => this.onError(err));
  }

  private async run(bj: BullJob, handler: (job: Job<unknown>) => Promise<void>): Promise<void> {
    const job: Job<unknown> = { id: fromBullJobId(bj.id ?? ''), name: bj.name, data: bj.data as unknown, attempt: bj.attemptsMade + 1 };
    try {
      await handler(job);
    } catch (err) {
      // BullMQ keeps `message` as the failed reason: carry the code of a coded error in it.
      throw new Error(errorText(err), { cause: err });
    }
  }

  private queueFor(name: string): Queue {
    let q = this.queues.get(name);
    if (q === undefined) {
      checkName(name);
      q = new Queue(name, { connection: this.producer, prefix: this.options.prefix });
      q.on('error', (err: Error) => this.onError(err));
      this.queues.set(name, q);
    }
    return q;
  }

  private workerConnection(): Redis {
    if (this.workerRedis === null) {
      this.workerRedis = createRedisClient({ ...this.connection, maxRetriesPerRequest: null });
      this.workerRedis.on('error', (err: Error) => this.onError(err));
    }
    return this.workerRedis;
  }

  /** Records the job name in Redis once per process, so counts and dead letters of any process cover it. */
  private async register(name: string): Promise<void> {
    if (this.registered.has(name)) return;
    await this.producer.sadd(this.namesKey, name);
    this.registered.add(name);
  }

  private async knownNames(): Promise<string[]> {
    const names = new Set(await this.producer.smembers(this.namesKey));
    for (const n of this.queues.keys()) names.add(n);
    for (const n of this.workers.keys()) names.add(n);
    return [...names].filter((n) => JOB_NAME.test(n));
  }

  private onError(err: Error): void {
    this.stats.errors++;
    this.lastError = err;
  }

  private validate(): void {
    const o = this.options;
    const positiveInt = (k: keyof QueueOwnOptions, v: number) => {
      if (!Number.isInteger(v) || v < 1) throw new ForeshockError('FS_QUEUE_OPTIONS', `bullmq job queue: ${k} must be a positive integer`);
    };
    positiveInt('attempts', o.attempts);
    positiveInt('concurrency', o.concurrency);
    positiveInt('completedMax', o.completedMax);
    positiveInt('deadLetterMax', o.deadLetterMax);
    positiveInt('lockDurationMs', o.lockDurationMs);
    positiveInt('stalledIntervalMs', o.stalledIntervalMs);
    if (!Number.isInteger(o.maxStalledCount) || o.maxStalledCount < 0) {
      throw new ForeshockError('FS_QUEUE_OPTIONS', 'bullmq job queue: maxStalledCount must be a non-negative integer');
    }
    if (!(o.backoffBaseMs >= 0) || !(o.backoffMaxMs >= 0)) {
      throw new ForeshockError('FS_QUEUE_OPTIONS', 'bullmq job queue: backoffBaseMs and backoffMaxMs must be non-negative');
    }
    if (!(o.completedRetentionMs > 0) || !(o.closeTimeoutMs >= 0)) {
      throw new ForeshockError('FS_QUEUE_OPTIONS', 'bullmq job queue: completedRetentionMs must be positive and closeTimeoutMs non-negative');
    }
    if (o.prefix === '' || o.prefix.includes('{') !== o.prefix.includes('}')) {
      throw new ForeshockError('FS_QUEUE_OPTIONS', 'bullmq job queue: prefix must be non-empty (braces, for a cluster hash tag, in pairs)');
    }
    if (o.limiter !== null) checkLimiter(o.limiter);
  }
}

function checkName(name: string): void {
  if (!JOB_NAME.test(name)) {
    throw new ForeshockError('FS_QUEUE_NAME', `job name ${JSON.stringify(name)}: must be non-empty, without ':' and not start with '_'`);
  }
}

function checkLimiter(l: JobRateLimit): void {
  if (!Number.isInteger(l.max) || l.max < 1 || !(l.durationMs > 0)) {
    throw new ForeshockError('FS_QUEUE_OPTIONS', 'bullmq job queue: limiter needs a positive integer max and a positive durationMs');
  }
}
