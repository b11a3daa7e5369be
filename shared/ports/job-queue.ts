// JobQueue port: idempotent jobs with retries and backoff. Real adapter: BullMQ on Redis;
// embedded adapter: an in-process queue.

export interface JobOptions {
  /** Delay before the first attempt, ms. */
  delayMs?: number;
  /** Total attempts before the job is dead-lettered. Default from the queue's options. */
  attempts?: number;
}

export interface Job<T = unknown> {
  /** Idempotency key: a second `add` with the same id while the job is known is a no-op. */
  id: string;
  name: string;
  data: T;
  /** 1 on the first attempt. */
  attempt: number;
}

export interface JobQueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface ProcessOptions {
  concurrency?: number;
}

export interface JobQueue {
  /** Returns false when a job with this id already exists (idempotent add). */
  add<T>(name: string, id: string, data: T, options?: JobOptions): Promise<boolean>;
  /** Run `handler` for jobs of `name`; a throw retries with exponential backoff and jitter. */
  process<T>(name: string, handler: (job: Job<T>) => Promise<void>, options?: ProcessOptions): void;
  counts(): Promise<JobQueueCounts>;
  /** Jobs that used up their attempts, newest first. */
  deadLetters(limit: number): Promise<{ job: Job; error: string; failedAt: number }[]>;
  /** Stop taking jobs; wait for the ones in flight (or return them to the queue). */
  close(): Promise<void>;
}
