// Durable storage of the embedded bus: each topic partition's log is a table of the data
// directory's database (offset, append time, key, value, running byte total), topics and the
// committed offsets of every consumer group are tables too. A send resolves once its commit is
// in the database file, so an accepted write survives kill -9; after a restart each group
// resumes from its committed offset and the log replays what it had not processed.

import type Database from 'better-sqlite3';
import type { BusMessage } from '../../ports/index.js';
import { messageBytes, tpKey, type BusStorage, type PartitionLog } from '../memory/partition-log.js';
import type { SqliteDatabase } from './sqlite-database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bus_topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, id INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS bus_offsets (group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next INTEGER NOT NULL, PRIMARY KEY (group_id, topic, partition)) WITHOUT ROWID;
`;

interface Row {
  offset: number;
  ts: number;
  key: string | null;
  value: Buffer;
  cum: number;
}

/** One partition's table. Offsets and byte totals are mirrored in memory; values stay on disk. */
class SqlitePartitionLog implements PartitionLog {
  private start = 0;
  /** End offset of what is appended (committed or in this turn's transaction). */
  private end = 0;
  /** End offset consumers may read (committed). */
  private visible = 0;
  /** Bytes appended before `end`, and before `start`. */
  private total = 0;
  private totalVisible = 0;
  private startCum = 0;
  private readonly q: Record<string, Database.Statement>;

  constructor(db: Database.Database, readonly table: string) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (offset INTEGER PRIMARY KEY, ts INTEGER NOT NULL, key TEXT, value BLOB NOT NULL, cum INTEGER NOT NULL)`);
    this.q = {
      insert: db.prepare(`INSERT INTO ${table} (offset, ts, key, value, cum) VALUES (?, ?, ?, ?, ?)`),
      read: db.prepare(`SELECT offset, ts, key, value, cum FROM ${table} WHERE offset >= ? AND offset < ? ORDER BY offset LIMIT ?`),
      cumAt: db.prepare(`SELECT cum FROM ${table} WHERE offset = ?`),
      first: db.prepare(`SELECT offset, cum FROM ${table} ORDER BY offset LIMIT 1`),
      last: db.prepare(`SELECT offset, cum, length(value) + coalesce(length(CAST(key AS BLOB)), 0) AS size FROM ${table} ORDER BY offset DESC LIMIT 1`),
      lastOld: db.prepare(`SELECT offset FROM ${table} WHERE offset < ? AND ts < ? ORDER BY offset DESC LIMIT 1`),
      firstWithin: db.prepare(`SELECT offset FROM ${table} WHERE offset < ? AND cum >= ? ORDER BY offset LIMIT 1`),
      trim: db.prepare(`DELETE FROM ${table} WHERE offset < ?`),
    };
    this.reload();
  }

  /** Reads the log's bounds back from the table (on open, and after a failed commit undid appends). */
  reload(): void {
    const first = this.q.first.get() as { offset: number; cum: number } | undefined;
    const last = this.q.last.get() as { offset: number; cum: number; size: number } | undefined;
    if (first === undefined || last === undefined) {
      // Empty: keep the offsets where they were (a trimmed log continues its numbering).
      this.start = this.end = this.visible = Math.max(this.visible, this.start);
      this.startCum = this.total = this.totalVisible;
      return;
    }
    this.start = first.offset;
    this.startCum = first.cum;
    this.end = this.visible = last.offset + 1;
    this.total = this.totalVisible = last.cum + last.size;
  }

  get startOffset(): number {
    return this.start;
  }

  get endOffset(): number {
    return this.visible;
  }

  get bytes(): number {
    return this.totalVisible - this.startCum;
  }

  append(key: string | null, value: Uint8Array, timestamp: number): void {
    const size = messageBytes(key, value);
    this.q.insert.run(this.end, Math.floor(timestamp), key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), this.total);
    this.end++;
    this.total += size;
  }

  publish(): void {
    this.visible = this.end;
    this.totalVisible = this.total;
  }

  read(offset: number, max: number, maxBytes: number): BusMessage[] {
    const out: BusMessage[] = [];
    let first = -1;
    for (const r of this.q.read.iterate(offset, this.visible, max) as IterableIterator<Row>) {
      if (first < 0) first = r.cum;
      else if (r.cum + messageBytes(r.key, r.value) - first > maxBytes) break;
      out.push({ key: r.key, value: new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength), offset: r.offset, timestamp: r.ts });
    }
    return out;
  }

  bytesFrom(offset: number): number {
    if (offset >= this.visible) return 0;
    if (offset <= this.start) return this.totalVisible - this.startCum;
    const r = this.q.cumAt.get(offset) as { cum: number } | undefined;
    return r === undefined ? 0 : this.totalVisible - r.cum;
  }

  trim(below: number, retainBytes: number, olderThan: number): number {
    // The newest message always stays: it carries the log's end offset across a restart.
    const limit = Math.min(below, this.visible - 1);
    if (limit <= this.start) return 0;
    let cut = this.start;
    const old = this.q.lastOld.get(limit, olderThan) as { offset: number } | undefined;
    if (old !== undefined) cut = old.offset + 1;
    if (this.totalVisible - this.startCum > retainBytes) {
      const within = this.q.firstWithin.get(limit, this.totalVisible - retainBytes) as { offset: number } | undefined;
      cut = Math.max(cut, within === undefined ? limit : within.offset);
    }
    cut = Math.min(cut, limit);
    if (cut <= this.start) return 0;
    const dropped = cut - this.start;
    this.q.trim.run(cut);
    this.start = cut;
    this.startCum = (this.q.cumAt.get(cut) as { cum: number } | undefined)?.cum ?? this.totalVisible;
    return dropped;
  }
}

/** BusStorage in the data directory's database. */
export class SqliteBusStorage implements BusStorage {
  private readonly logs = new Map<string, SqlitePartitionLog>();
  private readonly q: Record<string, Database.Statement>;

  constructor(private readonly database: SqliteDatabase) {
    const db = database.db;
    db.exec(SCHEMA);
    this.q = {
      topics: db.prepare('SELECT name, partitions, id FROM bus_topics'),
      topicId: db.prepare('SELECT id FROM bus_topics WHERE name = ?'),
      nextId: db.prepare('SELECT coalesce(max(id), 0) + 1 AS id FROM bus_topics'),
      putTopic: db.prepare('INSERT INTO bus_topics (name, partitions, id) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET partitions = max(partitions, excluded.partitions)'),
      offsets: db.prepare('SELECT topic, partition, next FROM bus_offsets WHERE group_id = ?'),
      groups: db.prepare('SELECT DISTINCT group_id FROM bus_offsets WHERE topic = ?'),
      commit: db.prepare('INSERT INTO bus_offsets (group_id, topic, partition, next) VALUES (?, ?, ?, ?) ON CONFLICT(group_id, topic, partition) DO UPDATE SET next = excluded.next'),
    };
    database.onRollback(() => {
      for (const log of this.logs.values()) log.reload();
    });
  }

  loadTopics(): { name: string; partitions: number }[] {
    return (this.q.topics.all() as { name: string; partitions: number }[]).map((t) => ({ name: t.name, partitions: t.partitions }));
  }

  partition(topic: string, partition: number): PartitionLog {
    const key = tpKey(topic, partition);
    let log = this.logs.get(key);
    if (log === undefined) {
      log = new SqlitePartitionLog(this.database.db, `bus_log_${this.topicId(topic)}_${partition}`);
      this.logs.set(key, log);
    }
    return log;
  }

  saveTopic(name: string, partitions: number): void {
    // Joins this turn's transaction: it commits with the first send to the topic.
    void this.database.write(() => this.q.putTopic.run(name, partitions, this.topicId(name))).catch(() => undefined);
  }

  loadCommitted(groupId: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.q.offsets.all(groupId) as { topic: string; partition: number; next: number }[]) out.set(tpKey(r.topic, r.partition), r.next);
    return out;
  }

  groupsOf(topic: string): string[] {
    return (this.q.groups.all(topic) as { group_id: string }[]).map((r) => r.group_id);
  }

  write(fn: () => void): Promise<void> {
    return this.database.write(fn);
  }

  commit(groupId: string, topic: string, partition: number, next: number): Promise<void> {
    return this.database.write(() => void this.q.commit.run(groupId, topic, partition, next));
  }

  /** The database is shared and closed by its owner; pending writes are committed. */
  async close(): Promise<void> {
    await this.database.flush().catch(() => undefined);
  }

  /** Table names use a small id per topic, not the (free-form) topic name. */
  private topicId(name: string): number {
    const row = this.q.topicId.get(name) as { id: number } | undefined;
    if (row !== undefined) return row.id;
    const id = (this.q.nextId.get() as { id: number }).id;
    // Registered at once (outside a transaction if none is open) so the id is stable.
    this.q.putTopic.run(name, 1, id);
    return id;
  }
}
