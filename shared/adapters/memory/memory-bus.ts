// Embedded Bus: an in-process partitioned log with consumer groups, used when no Kafka is
// configured. Keys are partitioned as Kafka's default partitioner does, so data lands alike.
// Its logs and committed offsets live in a BusStorage: in memory, or in the data directory's
// database (durable: a send resolves once its messages are on disk, groups resume after restart).

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ForeshockError } from '../../errors/index.js';
import type {
  Bus,
  BusBatch,
  BusMessage,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from '../../ports/index.js';
import { partitionForKey } from './murmur2.js';
import { MemoryBusStorage, tpKey, type BusStorage, type PartitionLog } from './partition-log.js';
import { withDefaults } from './with-defaults.js';

export interface MemoryBusOptions {
  /**
   * Bytes of consumed messages a partition keeps (for a group that joins late); older consumed
   * messages are deleted first (`stats.dropped`). Messages some group has not consumed yet are
   * never deleted: `backlogBytes()` tells how much waits, for back-pressure. Default 64 MiB.
   */
  retainBytes?: number;
  /** Consumed messages older than this are deleted whatever their bytes, ms. Default 1 h. */
  retainAgeMs?: number;
  /** How often a partition's consumed messages are trimmed, at most, ms. Default 1_000. */
  trimIntervalMs?: number;
  /** Most messages in one `eachBatch` call. Default 500. */
  maxBatchSize?: number;
  /** Most bytes in one `eachBatch` call (one message at least). Default 4 MiB. */
  maxBatchBytes?: number;
  /** Where logs and offsets are kept. Default: in memory. */
  storage?: BusStorage;
  /** Partitions of a topic that `send` or `subscribe` create before `ensureTopics` names it. Default 1. */
  defaultPartitions?: number;
  /** Delay before a batch whose handler threw is redelivered, ms; doubles per consecutive failure. Default 100. */
  retryBackoffMs?: number;
  /** Longest redelivery delay, ms. Default 5_000. */
  maxRetryBackoffMs?: number;
  /** Clock for message timestamps, ms since epoch. Default `Date.now`. */
  clock?: () => number;
  /** Told of every error a handler threw (already counted in stats), e.g. to log it. Default: nothing. */
  onError?: (err: unknown, where: BusErrorSite, groupId: string) => void;
}

export type BusErrorSite = 'eachBatch' | 'onAssign' | 'onRevoke' | 'commit' | 'trim';

export const MEMORY_BUS_DEFAULTS: Readonly<Required<Omit<MemoryBusOptions, 'storage'>>> = Object.freeze({
  retainBytes: 64 * 1024 * 1024,
  retainAgeMs: 3600_000,
  trimIntervalMs: 1_000,
  maxBatchSize: 500,
  maxBatchBytes: 4 * 1024 * 1024,
  defaultPartitions: 1,
  retryBackoffMs: 100,
  maxRetryBackoffMs: 5_000,
  clock: Date.now,
  onError: () => {},
});

/** Counters of the embedded bus, for /metrics. */
export interface MemoryBusStats {
  /** Messages appended. */
  appended: number;
  /** Consumed messages deleted by retention (oldest first). */
  dropped: number;
  /** Messages a group never saw because retention dropped them before it read them. */
  lost: number;
  /** Batches whose handler threw and that were redelivered. */
  redeliveries: number;
  /** onAssign / onRevoke callbacks that threw (the rebalance goes on without them). */
  callbackErrors: number;
  /** Group rebalances run. */
  rebalances: number;
  /** Offset commits that could not be stored (the batch is delivered again after a restart). */
  commitErrors: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

interface Topic {
  name: string;
  partitions: PartitionLog[];
  /** Round-robin cursor for null keys. */
  nextPartition: number;
  /** Members of any group subscribed to this topic, woken on append. */
  listeners: Set<MemorySubscription>;
}

interface Group {
  id: string;
  /** Wall time (ms, monotonic) of the last trim per partition (`tpKey`). */
  trimmedAt: Map<string, number>;
  /** Members in join order (ids increase). */
  members: MemorySubscription[];
  /** Next offset to read per partition (`tpKey`). */
  committed: Map<string, number>;
  /** Rebalances of one group run one after another. */
  rebalancing: Promise<void>;
}

/** A partition owned by a member, with its redelivery state. */
interface OwnedPartition {
  key: string;
  topic: Topic;
  partition: number;
  failures: number;
  /** Time (ms, monotonic clock) before which the partition is not redelivered. */
  retryAt: number;
}

function sortParts(parts: TopicPartition[]): TopicPartition[] {
  return parts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

function monotonicMs(): number {
  return performance.now();
}

/**
 * One consumer-group member: owns some partitions of its topics and delivers their batches
 * one at a time, committing after each batch resolves.
 */
export class MemorySubscription implements Subscription {
  private readonly owned = new Map<string, OwnedPartition>();
  /** Round-robin position over owned partitions, so one busy partition cannot starve others. */
  private cursor = 0;
  private inFlight: { key: string; done: Promise<void> } | null = null;
  private stopping = false;
  private closing: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly loop: Promise<void>;

  /** @internal created by MemoryBus.subscribe */
  constructor(
    readonly id: number,
    private readonly bus: MemoryBus,
    private readonly group: Group,
    readonly options: SubscribeOptions,
  ) {
    this.loop = this.run();
  }

  /** Partitions this member currently owns (after onAssign resolved). */
  assignment(): TopicPartition[] {
    return sortParts([...this.owned.values()].map((o) => ({ topic: o.topic.name, partition: o.partition })));
  }

  close(): Promise<void> {
    if (this.closing === null) this.closing = this.stopAndLeave();
    return this.closing;
  }

  /** @internal */
  get stopped(): boolean {
    return this.stopping;
  }

  /** @internal */
  ownedKeys(): string[] {
    return [...this.owned.keys()];
  }

  /** @internal new messages may be available */
  wake(): void {
    const w = this.wakeUp;
    if (w !== null) {
      this.wakeUp = null;
      w();
    }
  }

  /** @internal stop the loop; resolves once the batch in flight has finished and committed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
  }

  /** @internal take partitions away: no new batches, wait for the one in flight, then onRevoke. */
  async revoke(keys: string[]): Promise<void> {
    const revoked: TopicPartition[] = [];
    for (const k of keys) {
      const o = this.owned.get(k);
      if (o === undefined) continue;
      this.owned.delete(k);
      revoked.push({ topic: o.topic.name, partition: o.partition });
    }
    const inFlight = this.inFlight;
    if (inFlight !== null && keys.includes(inFlight.key)) await inFlight.done;
    if (revoked.length > 0 && this.options.onRevoke) {
      await this.bus.callback(() => this.options.onRevoke!(sortParts(revoked)), 'onRevoke', this.group.id);
    }
  }

  /** @internal hand partitions over: onAssign first, then their messages. */
  async assign(parts: { key: string; topic: Topic; partition: number }[]): Promise<void> {
    if (parts.length === 0) return;
    if (this.options.onAssign) {
      const list = sortParts(parts.map((p) => ({ topic: p.topic.name, partition: p.partition })));
      await this.bus.callback(() => this.options.onAssign!(list), 'onAssign', this.group.id);
    }
    for (const p of parts) this.owned.set(p.key, { ...p, failures: 0, retryAt: 0 });
    this.wake();
  }

  private async stopAndLeave(): Promise<void> {
    await this.stop();
    await this.bus.leave(this);
  }

  private async run(): Promise<void> {
    // Start after the constructor returned and the member joined its group.
    await yieldToLoop();
    while (!this.stopping) {
      const pick = this.pick();
      if (pick.part === null) {
        await this.idle(pick.waitMs);
        continue;
      }
      const part = pick.part;
      const done = this.deliver(part);
      this.inFlight = { key: part.key, done };
      await done;
      this.inFlight = null;
      // Let I/O and other members run between batches even when handlers resolve at once.
      await yieldToLoop();
    }
  }

  /** Next owned partition with messages to deliver, or how long to wait (null: until woken). */
  private pick(): { part: OwnedPartition | null; waitMs: number | null } {
    const parts = [...this.owned.values()];
    const now = monotonicMs();
    let waitMs: number | null = null;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[(this.cursor + i) % parts.length];
      const log = p.topic.partitions[p.partition];
      const next = this.bus.position(this.group, p.key, log);
      if (next >= log.endOffset) continue;
      if (p.retryAt > now) {
        const w = p.retryAt - now;
        if (waitMs === null || w < waitMs) waitMs = w;
        continue;
      }
      this.cursor = (this.cursor + i + 1) % parts.length;
      return { part: p, waitMs: null };
    }
    return { part: null, waitMs };
  }

  private idle(waitMs: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      this.wakeUp = () => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      };
      if (waitMs !== null) {
        timer = setTimeout(() => this.wake(), Math.ceil(waitMs));
        timer.unref();
      }
    });
  }

  private async deliver(part: OwnedPartition): Promise<void> {
    const log = part.topic.partitions[part.partition];
    const from = this.bus.position(this.group, part.key, log);
    const messages = log.read(from, this.bus.maxBatchSize, this.bus.maxBatchBytes);
    const batch: BusBatch = { topic: part.topic.name, partition: part.partition, messages };
    try {
      await this.options.eachBatch(batch);
    } catch (err) {
      part.failures++;
      part.retryAt = monotonicMs() + this.bus.backoff(part.failures);
      this.bus.stats.redeliveries++;
      this.bus.reportError(err, 'eachBatch', this.group.id);
      return;
    }
    part.failures = 0;
    part.retryAt = 0;
    const next = messages[messages.length - 1].offset + 1;
    this.group.committed.set(part.key, next);
    await this.bus.committed(this.group, part.topic, part.partition, next);
  }
}

/** In-process implementation of the Bus port (see MemoryBusOptions for its limits). */
export class MemoryBus implements Bus {
  readonly stats: MemoryBusStats = { appended: 0, dropped: 0, lost: 0, redeliveries: 0, callbackErrors: 0, rebalances: 0, commitErrors: 0 };
  /** @internal */
  readonly maxBatchSize: number;
  /** @internal */
  readonly maxBatchBytes: number;
  private readonly options: Required<Omit<MemoryBusOptions, 'storage'>>;
  private readonly storage: BusStorage;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private nextMemberId = 1;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    const { storage, ...rest } = options;
    this.options = withDefaults(MEMORY_BUS_DEFAULTS, rest);
    for (const k of ['maxBatchSize', 'maxBatchBytes', 'defaultPartitions'] as const) {
      if (!Number.isInteger(this.options[k]) || this.options[k] < 1) {
        throw new ForeshockError('FS_BUS_OPTIONS', `memory bus: ${k} must be a positive integer`);
      }
    }
    if (!(this.options.retainBytes >= 0) || !(this.options.retainAgeMs >= 0)) {
      throw new ForeshockError('FS_BUS_OPTIONS', 'memory bus: retainBytes and retainAgeMs must not be negative');
    }
    this.maxBatchSize = this.options.maxBatchSize;
    this.maxBatchBytes = this.options.maxBatchBytes;
    this.storage = storage ?? new MemoryBusStorage();
    for (const t of this.storage.loadTopics()) this.addTopic(t.name, t.partitions);
  }

  /**
   * Bytes of messages that some group has not consumed yet, over every topic (a topic no group
   * reads counts whole): what back-pressure weighs. In memory this is memory; on disk, disk.
   */
  backlogBytes(): number {
    let bytes = 0;
    for (const topic of this.topics.values()) {
      const groups = this.groupsReading(topic.name);
      for (let p = 0; p < topic.partitions.length; p++) {
        const log = topic.partitions[p];
        bytes += log.bytesFrom(groups.length === 0 ? log.startOffset : this.slowest(groups, topic.name, p, log));
      }
    }
    return bytes;
  }

  /** Bytes of all retained messages (consumed ones kept by retention included). */
  retainedBytes(): number {
    let bytes = 0;
    for (const topic of this.topics.values()) for (const log of topic.partitions) bytes += log.bytes;
    return bytes;
  }

  /** Creates missing topics; a topic that exists with fewer partitions grows (as Kafka allows). */
  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    const grown: Topic[] = [];
    for (const spec of topics) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new ForeshockError('FS_BUS_TOPIC', `topic ${spec.name}: partitions must be a positive integer`);
      }
      const existing = this.topics.get(spec.name);
      if (existing === undefined) {
        this.createTopic(spec.name, spec.partitions);
      } else if (existing.partitions.length < spec.partitions) {
        while (existing.partitions.length < spec.partitions) existing.partitions.push(this.storage.partition(spec.name, existing.partitions.length));
        this.storage.saveTopic(spec.name, spec.partitions);
        grown.push(existing);
      }
    }
    await this.storage.write(() => undefined);
    const affected = new Set<Group>();
    for (const t of grown) for (const m of t.listeners) affected.add(this.groupOf(m));
    await Promise.all([...affected].map((g) => this.rebalance(g)));
  }

  /**
   * Appends all messages or none; resolves once the storage has them (in memory: at once; on
   * disk: after the commit) and only then are they delivered. In memory, values are kept by
   * reference: do not mutate a value after sending it.
   */
  send(topicName: string, messages: OutgoingMessage[]): Promise<void> {
    try {
      this.assertOpen();
      const topic = this.topics.get(topicName) ?? this.createTopic(topicName, this.options.defaultPartitions);
      const n = topic.partitions.length;
      const now = this.options.clock();
      // All or nothing: check explicit partitions before appending any message.
      for (const m of messages) {
        const p = m.partition;
        if (p !== undefined && (!Number.isInteger(p) || p < 0 || p >= n)) {
          throw new ForeshockError('FS_BUS_SEND', `${topicName}: partition ${p} is not one of its ${n} partitions`);
        }
      }
      const touched = new Set<PartitionLog>();
      const write = this.storage.write(() => {
        for (const m of messages) {
          let p: number;
          if (m.partition !== undefined) {
            p = m.partition;
          } else if (m.key === null) {
            p = topic.nextPartition;
            topic.nextPartition = (p + 1) % n;
          } else {
            p = partitionForKey(m.key, n);
          }
          const log = topic.partitions[p];
          log.append(m.key, m.value, now);
          touched.add(log);
        }
      });
      return write.then(() => {
        for (const log of touched) log.publish();
        this.stats.appended += messages.length;
        for (const l of topic.listeners) l.wake();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  keyPartitions(topicName: string, keys: readonly string[]): Promise<number[]> {
    try {
      this.assertOpen();
      const topic = this.topics.get(topicName) ?? this.createTopic(topicName, this.options.defaultPartitions);
      const n = topic.partitions.length;
      return Promise.resolve(keys.map((k) => partitionForKey(k, n)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Joins the group; resolves after the rebalance this causes (onAssign / onRevoke awaited). */
  async subscribe(options: SubscribeOptions): Promise<MemorySubscription> {
    this.assertOpen();
    if (options.topics.length === 0) throw new ForeshockError('FS_BUS_SUBSCRIBE', 'subscribe: no topics');
    let group = this.groups.get(options.groupId);
    if (group === undefined) {
      group = { id: options.groupId, members: [], committed: this.storage.loadCommitted(options.groupId), trimmedAt: new Map(), rebalancing: Promise.resolve() };
      this.groups.set(options.groupId, group);
    }
    const member = new MemorySubscription(this.nextMemberId++, this, group, options);
    group.members.push(member);
    for (const name of options.topics) {
      const topic = this.topics.get(name) ?? this.createTopic(name, this.options.defaultPartitions);
      topic.listeners.add(member);
    }
    await this.rebalance(group);
    return member;
  }

  async lag(topicName: string, groupId: string): Promise<number> {
    const topic = this.topics.get(topicName);
    if (topic === undefined) return 0;
    const committedOf = this.groups.get(groupId)?.committed ?? this.storage.loadCommitted(groupId);
    let lag = 0;
    for (let p = 0; p < topic.partitions.length; p++) {
      const log = topic.partitions[p];
      const committed = committedOf.get(tpKey(topicName, p)) ?? log.startOffset;
      lag += log.endOffset - Math.max(committed, log.startOffset);
    }
    return lag;
  }

  /** Stops every member (batches in flight finish and commit), calls their onRevoke, rejects later sends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const members = [...this.groups.values()].flatMap((g) => g.members);
    await Promise.all(members.map((m) => m.close()));
    await this.storage.close();
  }

  /** @internal a batch was committed: store the offset, and trim what every group consumed now and then. */
  async committed(group: Group, topic: Topic, partition: number, next: number): Promise<void> {
    try {
      await this.storage.commit(group.id, topic.name, partition, next);
    } catch (err) {
      this.stats.commitErrors++;
      this.reportError(err, 'commit', group.id);
      return;
    }
    const key = tpKey(topic.name, partition);
    const now = monotonicMs();
    if (now - (group.trimmedAt.get(key) ?? -Infinity) < this.options.trimIntervalMs) return;
    group.trimmedAt.set(key, now);
    const log = topic.partitions[partition];
    const below = this.slowest(this.groupsReading(topic.name), topic.name, partition, log);
    const olderThan = this.options.clock() - this.options.retainAgeMs;
    try {
      let dropped = 0;
      await this.storage.write(() => void (dropped = log.trim(below, this.options.retainBytes, olderThan)));
      this.stats.dropped += dropped;
    } catch (err) {
      this.reportError(err, 'trim', group.id);
    }
  }

  /** Groups that read `topic` now or committed on it before. */
  private groupsReading(topic: string): string[] {
    const ids = new Set(this.storage.groupsOf(topic));
    for (const g of this.groups.values()) if (g.members.some((m) => m.options.topics.includes(topic))) ids.add(g.id);
    return [...ids];
  }

  /** Lowest next offset of `groups` on a partition (what every one of them consumed is below it). */
  private slowest(groups: string[], topic: string, partition: number, log: PartitionLog): number {
    const key = tpKey(topic, partition);
    let min = log.endOffset;
    for (const id of groups) {
      const committed = (this.groups.get(id)?.committed ?? this.storage.loadCommitted(id)).get(key) ?? log.startOffset;
      if (committed < min) min = committed;
    }
    return Math.max(min, log.startOffset);
  }

  /** @internal next offset a group reads on a partition; skips what retention dropped. */
  position(group: Group, key: string, log: PartitionLog): number {
    const committed = group.committed.get(key) ?? log.startOffset;
    if (committed >= log.startOffset) return committed;
    this.stats.lost += log.startOffset - committed;
    group.committed.set(key, log.startOffset);
    return log.startOffset;
  }

  /** @internal redelivery delay after `failures` consecutive throws. */
  backoff(failures: number): number {
    return Math.min(this.options.maxRetryBackoffMs, this.options.retryBackoffMs * 2 ** (failures - 1));
  }

  /** @internal run a user callback; a throw is counted and reported, never stops a rebalance. */
  async callback(fn: () => Promise<void>, where: 'onAssign' | 'onRevoke', groupId: string): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.stats.callbackErrors++;
      this.reportError(err, where, groupId);
    }
  }

  /** @internal */
  reportError(err: unknown, where: BusErrorSite, groupId: string): void {
    try {
      this.options.onError(err, where, groupId);
    } catch {
      // A failing error hook must not break delivery; the error itself is already counted.
    }
  }

  /** @internal a closed member leaves its group; the others take over its partitions. */
  async leave(member: MemorySubscription): Promise<void> {
    const group = this.groupOf(member);
    for (const name of member.options.topics) this.topics.get(name)?.listeners.delete(member);
    await this.rebalance(group);
    group.members = group.members.filter((m) => m !== member);
  }

  private groupOf(member: MemorySubscription): Group {
    const g = this.groups.get(member.options.groupId);
    if (g === undefined) throw new ForeshockError('FS_BUS_STATE', `group ${member.options.groupId} vanished`);
    return g;
  }

  private createTopic(name: string, partitions: number): Topic {
    const topic = this.addTopic(name, partitions);
    this.storage.saveTopic(name, partitions);
    return topic;
  }

  private addTopic(name: string, partitions: number): Topic {
    const topic: Topic = { name, partitions: [], nextPartition: 0, listeners: new Set() };
    for (let i = 0; i < partitions; i++) topic.partitions.push(this.storage.partition(name, i));
    this.topics.set(name, topic);
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) throw new ForeshockError('FS_BUS_CLOSED', 'memory bus is closed', 503);
  }

  /** Queue a rebalance of `group` behind any running one; resolves when it has run. */
  private rebalance(group: Group): Promise<void> {
    const next = group.rebalancing.then(() => this.runRebalance(group));
    group.rebalancing = next;
    return next;
  }

  /**
   * Range assignment per topic over the live members in join order. Only partitions that
   * change owner move: the old owner finishes its batch and runs onRevoke before the new
   * owner's onAssign, so state can be flushed and restored in that order.
   */
  private async runRebalance(group: Group): Promise<void> {
    this.stats.rebalances++;
    const live = group.members.filter((m) => !m.stopped);
    const desired = new Map<MemorySubscription, Map<string, { key: string; topic: Topic; partition: number }>>();
    for (const m of live) desired.set(m, new Map());
    const topicNames = new Set(live.flatMap((m) => m.options.topics));
    for (const name of topicNames) {
      const topic = this.topics.get(name);
      if (topic === undefined) continue;
      const members = live.filter((m) => m.options.topics.includes(name));
      const n = topic.partitions.length;
      const per = Math.floor(n / members.length);
      const extra = n % members.length;
      let p = 0;
      for (let i = 0; i < members.length; i++) {
        const count = per + (i < extra ? 1 : 0);
        for (let j = 0; j < count; j++, p++) {
          const key = tpKey(name, p);
          desired.get(members[i])!.set(key, { key, topic, partition: p });
        }
      }
    }
    await Promise.all(
      group.members.map((m) => {
        const want = desired.get(m);
        const revoked = m.ownedKeys().filter((k) => want === undefined || !want.has(k));
        return revoked.length > 0 ? m.revoke(revoked) : Promise.resolve();
      }),
    );
    await Promise.all(
      live.map((m) => {
        const have = new Set(m.ownedKeys());
        const added = [...desired.get(m)!.values()].filter((p) => !have.has(p.key));
        for (const p of added) {
          if (!group.committed.has(p.key)) {
            const log = p.topic.partitions[p.partition];
            group.committed.set(p.key, m.options.fromBeginning === false ? log.endOffset : log.startOffset);
          }
        }
        return m.assign(added);
      }),
    );
  }
}
