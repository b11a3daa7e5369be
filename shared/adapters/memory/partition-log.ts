// Storage of the embedded bus: one log per topic partition, and where topics and consumer-group
// offsets are kept. In memory here; the data directory's database implements the same
// interfaces (shared/adapters/sqlite/sqlite-bus-storage.ts), so the bus's group logic is one.

import type { BusMessage } from '../../ports/index.js';

/** Append-only log of one partition. Offsets are dense and never reused. */
export interface PartitionLog {
  /** Earliest retained offset. */
  readonly startOffset: number;
  /** Offset the next visible message will get; consumers read below it (Kafka's log end offset). */
  readonly endOffset: number;
  /** Bytes (values and keys) of the retained messages. */
  readonly bytes: number;
  /** Appends one message (visible once the storage's write resolved and `publish` ran). */
  append(key: string | null, value: Uint8Array, timestamp: number): void;
  /** Makes what `append` added visible to consumers. */
  publish(): void;
  /** Consecutive messages from `offset` (within the retained window): at most `max`, and no more bytes than `maxBytes` unless the first alone is larger. */
  read(offset: number, max: number, maxBytes: number): BusMessage[];
  /** Bytes of the retained messages at or above `offset`. */
  bytesFrom(offset: number): number;
  /**
   * Deletes messages below `below` (every group consumed them) that are older than `olderThan`
   * (append time, ms) or beyond the newest `retainBytes`; returns how many.
   */
  trim(below: number, retainBytes: number, olderThan: number): number;
}

/** Where the bus keeps its topics, logs and committed offsets. */
export interface BusStorage {
  /** Topics kept from an earlier run (none in memory). */
  loadTopics(): { name: string; partitions: number }[];
  /** The log of a partition, created empty when new. */
  partition(topic: string, partition: number): PartitionLog;
  /** Records a topic and its partition count (inside `write`). */
  saveTopic(name: string, partitions: number): void;
  /** Committed next offsets of a group, by `tpKey`, from an earlier run (none in memory). */
  loadCommitted(groupId: string): Map<string, number>;
  /** Groups that ever committed on `topic` (their offsets bound what retention may delete). */
  groupsOf(topic: string): string[];
  /** Runs appends (synchronous calls on partition logs); resolves once they are durable. */
  write(fn: () => void): Promise<void>;
  /** Stores a group's next offset on a partition; resolves once durable. */
  commit(groupId: string, topic: string, partition: number, next: number): Promise<void>;
  close(): Promise<void>;
}

export function tpKey(topic: string, partition: number): string {
  return topic + '\u0000' + partition;
}

/** A partition log in memory: an array of messages with running byte totals. */
export class MemoryPartitionLog implements PartitionLog {
  private messages: BusMessage[] = [];
  /** `cum[i]` = bytes appended before `messages[i]`. */
  private cum: number[] = [];
  /** Index in `messages` of the first retained message (dropped ones are compacted away lazily). */
  private head = 0;
  /** Offset of `messages[head]`. */
  private base = 0;
  private total = 0;

  get startOffset(): number {
    return this.base;
  }

  get endOffset(): number {
    return this.base + this.messages.length - this.head;
  }

  get bytes(): number {
    return this.head < this.cum.length ? this.total - this.cum[this.head] : 0;
  }

  append(key: string | null, value: Uint8Array, timestamp: number): void {
    this.messages.push({ key, value, offset: this.endOffset, timestamp });
    this.cum.push(this.total);
    this.total += messageBytes(key, value);
  }

  publish(): void {}

  read(offset: number, max: number, maxBytes: number): BusMessage[] {
    const from = this.head + (offset - this.base);
    let to = Math.min(from + max, this.messages.length);
    // Byte bound: stop before the message that would pass maxBytes (one message at least).
    const first = this.cum[from];
    for (let i = from + 1; i < to; i++) {
      const endOfI = i + 1 < this.cum.length ? this.cum[i + 1] : this.total;
      if (endOfI - first > maxBytes) {
        to = i;
        break;
      }
    }
    return this.messages.slice(from, to);
  }

  bytesFrom(offset: number): number {
    const i = this.head + (offset - this.base);
    if (i >= this.messages.length) return 0;
    return this.total - this.cum[Math.max(this.head, i)];
  }

  trim(below: number, retainBytes: number, olderThan: number): number {
    const stop = Math.min(this.head + (below - this.base), this.messages.length);
    let h = this.head;
    while (h < stop && (this.messages[h].timestamp < olderThan || this.total - this.cum[h] > retainBytes)) h++;
    const dropped = h - this.head;
    if (dropped === 0) return 0;
    this.base += dropped;
    this.head = h;
    if (this.head >= 1024 && this.head * 2 >= this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.cum = this.cum.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }
}

/** Bytes a message accounts for: its value and key (UTF-16 length is close enough for keys). */
export function messageBytes(key: string | null, value: Uint8Array): number {
  return value.byteLength + (key === null ? 0 : key.length);
}

/** Storage that keeps everything in the process (nothing survives it). */
export class MemoryBusStorage implements BusStorage {
  private readonly groups = new Map<string, Set<string>>();

  loadTopics(): { name: string; partitions: number }[] {
    return [];
  }

  partition(): PartitionLog {
    return new MemoryPartitionLog();
  }

  saveTopic(): void {}

  loadCommitted(): Map<string, number> {
    return new Map();
  }

  groupsOf(topic: string): string[] {
    return [...(this.groups.get(topic) ?? [])];
  }

  write(fn: () => void): Promise<void> {
    try {
      fn();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  commit(groupId: string, topic: string): Promise<void> {
    let g = this.groups.get(topic);
    if (g === undefined) this.groups.set(topic, (g = new Set()));
    g.add(groupId);
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}
