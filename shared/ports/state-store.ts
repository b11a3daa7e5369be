// StateStore port: checkpoints, current forecasts, alert state, audit. Real adapter: Redis;
// embedded adapter: in-memory (optional snapshot file).

export interface StateStore {
  get(key: string): Promise<Uint8Array | null>;
  /** Set a value; `ttlMs` makes it expire. */
  set(key: string, value: Uint8Array, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Keys starting with `prefix` (order unspecified). */
  keys(prefix: string): Promise<string[]>;
  /** Hash (map) operations: one small record per field. */
  hset(key: string, entries: Record<string, string>): Promise<void>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, fields: string[]): Promise<void>;
  /** Append to a capped log (audit); returns the entry id (monotonic, sortable). */
  append(log: string, entry: string, maxLen: number): Promise<string>;
  /**
   * Drops the entries of a log appended before wall-clock `beforeMs` (a log kept for a time,
   * not a count); returns how many went. Ids carry their append time, so this is a range delete.
   */
  trimLog(log: string, beforeMs: number): Promise<number>;
  /** Newest-first entries of a log, at most `limit`, older than `beforeId` if given. */
  range(log: string, limit: number, beforeId?: string): Promise<{ id: string; entry: string }[]>;
  close(): Promise<void>;
}

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder();
