// Embedded Bus: an in-process partitioned log with consumer groups, used when no Kafka is
// configured. Keys are partitioned as Kafka's default partitioner does, so data lands alike.

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
import { withDefaults } from './with-defaults.js';

export interface MemoryBusOptions {
  /**
   * Messages kept per partition. Appending beyond it drops the oldest, consumed or not, as
   * Kafka's retention does (counted in `stats.dropped`; a group that had not read them yet
   * skips ahead and counts `stats.lost`). Default 100_000.
   */
  retainMessages?: number;
  /** Most messages in one `eachBatch` call. Default 500. */
  maxBatchSize?: number;
  /** Partitions of a topic that `send` or `subscribe` create before `ensureTopics` names it. Default 1. */
  defaultPartitions?: number;
  /** Delay before a batch whose handler threw is redelivered, ms; doubles per consecutive failure. Default 100. */
  retryBackoffMs?: number;
  /** Longest redelivery delay, ms. Default 5_000. */
  maxRetryBackoffMs?: number;
  /** Clock for message timestamps, ms since epoch. Default `Date.now`. */
  clock?: () => number;
  /** Told of every error a handler threw (already counted in stats), e.g. to log it. Default: nothing. */
  onError?: (err: unknown, where: 'eachBatch' | 'onAssign' | 'onRevoke', groupId: string) => void;
}

export const MEMORY_BUS_DEFAULTS: Readonly<Required<MemoryBusOptions>> = Object.freeze({
  retainMessages: 100_000,
  maxBatchSize: 500,
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
  /** Messages dropped by retention (oldest first). */
  dropped: number;
  /** Messages a group never saw because retention dropped them before it read them. */
  lost: number;
  /** Batches whose handler threw and that were redelivered. */
  redeliveries: number;
  /** onAssign / onRevoke callbacks that threw (the rebalance goes on without them). */
  callbackErrors: number;
  /** Group rebalances run. */
  rebalances: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Append-only log of one partition with a bounded retained window. */
class PartitionLog {
  private messages: BusMessage[] = [];
  /** Index in `messages` of the first retained message (dropped ones are compacted away lazily). */
  private head = 0;
  /** Offset of `messages[head]`. */
  private base = 0;

  /** Earliest retained offset. */
  get startOffset(): number {
    return this.base;
  }

  /** Offset the next message will get (Kafka's log end offset). */
  get endOffset(): number {
    return this.base + this.messages.length - this.head;
  }

  /** Appends and returns how many old messages retention dropped (0 or 1). */
  append(key: string | null, value: Uint8Array, timestamp: number, retain: number): number {
    this.messages.push({ key, value, offset: this.endOffset, timestamp });
    if (this.messages.length - this.head <= retain) return 0;
    this.head++;
    this.base++;
    if (this.head >= 1024 && this.head * 2 >= this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
    return 1;
  }

  /** Up to `max` consecutive messages from `offset` (which must be within the retained window). */
  read(offset: number, max: number): BusMessage[] {
    const from = this.head + (offset - this.base);
    return this.messages.slice(from, Math.min(from + max, this.messages.length));
  }
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

function tpKey(topic: string, partition: number): string {
  return topic + '\u0000' + partition;
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
    const messages = log.read(from, this.bus.maxBatchSize);
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
    this.group.committed.set(part.key, messages[messages.length - 1].offset + 1);
  }
}

/** In-process implementation of the Bus port (see MemoryBusOptions for its limits). */
export class MemoryBus implements Bus {
  readonly stats: MemoryBusStats = { appended: 0, dropped: 0, lost: 0, redeliveries: 0, callbackErrors: 0, rebalances: 0 };
  /** @internal */
  readonly maxBatchSize: number;
  private readonly options: Required<MemoryBusOptions>;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private nextMemberId = 1;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.options = withDefaults(MEMORY_BUS_DEFAULTS, options);
    for (const k of ['retainMessages', 'maxBatchSize', 'defaultPartitions'] as const) {
      if (!Number.isInteger(this.options[k]) || this.options[k] < 1) {
        throw new ForeshockError('FS_BUS_OPTIONS', `memory bus: ${k} must be a positive integer`);
      }
    }
    this.maxBatchSize = this.options.maxBatchSize;
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
        while (existing.partitions.length < spec.partitions) existing.partitions.push(new PartitionLog());
        grown.push(existing);
      }
    }
    const affected = new Set<Group>();
    for (const t of grown) for (const m of t.listeners) affected.add(this.groupOf(m));
    await Promise.all([...affected].map((g) => this.rebalance(g)));
  }

  /**
   * Appends synchronously; the returned promise is already resolved (memory is the log).
   * Values are kept by reference: do not mutate a value after sending it.
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
        this.stats.dropped += topic.partitions[p].append(m.key, m.value, now, this.options.retainMessages);
      }
      this.stats.appended += messages.length;
      for (const l of topic.listeners) l.wake();
      return Promise.resolve();
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
      group = { id: options.groupId, members: [], committed: new Map(), rebalancing: Promise.resolve() };
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
    const group = this.groups.get(groupId);
    let lag = 0;
    for (let p = 0; p < topic.partitions.length; p++) {
      const log = topic.partitions[p];
      const committed = group?.committed.get(tpKey(topicName, p)) ?? log.startOffset;
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
  reportError(err: unknown, where: 'eachBatch' | 'onAssign' | 'onRevoke', groupId: string): void {
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
    const topic: Topic = { name, partitions: [], nextPartition: 0, listeners: new Set() };
    for (let i = 0; i < partitions; i++) topic.partitions.push(new PartitionLog());
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
