// Durable jobs of the embedded queue: jobs not done, completed ids (a replayed add stays a
// no-op after a restart) and dead letters, in the data directory's database.

import type Database from 'better-sqlite3';
import type { JobStore, StoredJob } from '../memory/memory-job-queue.js';
import type { Job } from '../../ports/index.js';
import type { SqliteDatabase } from './sqlite-database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_jobs (id TEXT PRIMARY KEY, name TEXT NOT NULL, data TEXT NOT NULL, attempt INTEGER NOT NULL, attempts INTEGER NOT NULL, run_at INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queue_done (id TEXT PRIMARY KEY, at INTEGER NOT NULL, dead INTEGER NOT NULL, job TEXT, error TEXT, seq INTEGER NOT NULL);
`;

export class SqliteJobStore implements JobStore {
  private readonly q: Record<string, Database.Statement>;
  private seq: number;

  constructor(private readonly database: SqliteDatabase) {
    const db = database.db;
    db.exec(SCHEMA);
    this.q = {
      jobs: db.prepare('SELECT id, name, data, attempt, attempts, run_at FROM queue_jobs ORDER BY seq'),
      done: db.prepare('SELECT id, at, dead, job, error FROM queue_done ORDER BY seq'),
      seq: db.prepare('SELECT max(coalesce((SELECT max(seq) FROM queue_jobs), 0), coalesce((SELECT max(seq) FROM queue_done), 0)) AS seq'),
      put: db.prepare('INSERT INTO queue_jobs (id, name, data, attempt, attempts, run_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET attempt = excluded.attempt, run_at = excluded.run_at'),
      delJob: db.prepare('DELETE FROM queue_jobs WHERE id = ?'),
      putDone: db.prepare('INSERT OR REPLACE INTO queue_done (id, at, dead, job, error, seq) VALUES (?, ?, ?, ?, ?, ?)'),
      delDone: db.prepare('DELETE FROM queue_done WHERE id = ?'),
    };
    this.seq = (this.q.seq.get() as { seq: number }).seq;
  }

  load(): ReturnType<JobStore['load']> {
    const jobs: StoredJob[] = (this.q.jobs.all() as { id: string; name: string; data: string; attempt: number; attempts: number; run_at: number }[]).map((r) => ({
      id: r.id, name: r.name, data: JSON.parse(r.data) as unknown, attempt: r.attempt, attempts: r.attempts, runAt: r.run_at,
    }));
    const completed: { id: string; at: number }[] = [];
    const dead: { job: Job; error: string; failedAt: number }[] = [];
    for (const r of this.q.done.all() as { id: string; at: number; dead: number; job: string | null; error: string | null }[]) {
      if (r.dead === 0) completed.push({ id: r.id, at: r.at });
      else dead.push({ job: JSON.parse(r.job ?? '{}') as Job, error: r.error ?? '', failedAt: r.at });
    }
    return { jobs, completed, dead };
  }

  put(job: StoredJob): Promise<void> {
    const data = JSON.stringify(job.data ?? null);
    return this.database.write(() => void this.q.put.run(job.id, job.name, data, job.attempt, job.attempts, Math.floor(job.runAt), ++this.seq));
  }

  complete(id: string, at: number): Promise<void> {
    return this.database.write(() => {
      this.q.delJob.run(id);
      this.q.putDone.run(id, Math.floor(at), 0, null, null, ++this.seq);
    });
  }

  dead(job: Job, error: string, at: number): Promise<void> {
    return this.database.write(() => {
      this.q.delJob.run(job.id);
      this.q.putDone.run(job.id, Math.floor(at), 1, JSON.stringify(job), error, ++this.seq);
    });
  }

  forget(ids: string[]): Promise<void> {
    return this.database.write(() => {
      for (const id of ids) this.q.delDone.run(id);
    });
  }
}
