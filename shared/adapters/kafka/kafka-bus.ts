// Bus on Kafka (kafkajs): the real adapter between Foreshock's processes. Idempotent producer
// with acks from all in-sync replicas; consumers commit a batch's offsets only after its
// handler resolved, redeliver a batch whose handler threw, and run onAssign / onRevoke around
// partition moves so state can follow a partition.

import kafkajs from 'kafkajs';
import type { Admin, Cluster, Consumer, EachBatchPayload, Kafka as KafkaClient, KafkaConfig, LogEntry, Message, PartitionAssigner, Producer, SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ForeshockError, UnavailableError } from '../../errors/index.js';
import type { Bus, BusBatch, BusMessage, OutgoingMessage, SubscribeOptions, Subscription, TopicSpec } from '../../ports/index.js';
import { partitionForKey } from '../memory/murmur2.js';
import { COMPRESSION, registerKafkaCodecs, type KafkaCompression } from './codecs.js';

// kafkajs is CommonJS: Node's ESM loader exposes only its default export reliably.
const { Kafka, PartitionAssigners, Partitioners, logLevel: KafkaLogLevel } = kafkajs;

export interface KafkaSasl {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaBusOptions {
  /** Bootstrap brokers, `host:port`. Required. */
  brokers: string[];
  /** Client id the brokers see (logs, quotas). Default `foreshock`. */
  clientId?: string;
  /**
   * Prepended to every consumer group id (subscribe and lag), so deployments or test runs that
   * share a cluster keep their groups apart. Default ''.
   */
  groupIdPrefix?: string;
  /** TLS: `true` for Node's defaults, or options handed to `tls.connect` as they are. Default: none. */
  ssl?: boolean | TlsOptions;
  /** SASL credentials. Default: none. */
  sasl?: KafkaSasl | null;
  /** Timeout of a connection attempt, ms. Default 3_000. */
  connectionTimeoutMs?: number;
  /** Timeout of one request, ms. Default 30_000. */
  requestTimeoutMs?: number;
  /** Consumer session timeout: a member silent this long is dropped from its group, ms. Default 30_000. */
  sessionTimeoutMs?: number;
  /** Time members get to rejoin during a rebalance, ms. Default 60_000. */
  rebalanceTimeoutMs?: number;
  /** Consumer heartbeat interval, ms (well below sessionTimeoutMs). Default 3_000. */
  heartbeatIntervalMs?: number;
  /** Most bytes fetched per partition per request (bounds one `eachBatch`). Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Most bytes per fetch response. Default 10 MiB. */
  maxBytes?: number;
  /** How long the broker holds a fetch open waiting for data, ms. Default 100. */
  maxWaitTimeMs?: number;
  /** Partitions whose batches a subscription handles at once. Default 1. */
  partitionsConsumedConcurrently?: number;
  /** Compression of what this client produces. Default `none`. */
  compression?: KafkaCompression;
  /** Replication factor of topics `ensureTopics` creates (-1: the broker's default). Default -1. */
  replicationFactor?: number;
  /** First redelivery delay after a handler threw, ms; doubles per consecutive failure. Default 100. */
  retryBackoffMs?: number;
  /** Longest redelivery delay, ms. Default 5_000. */
  maxRetryBackoffMs?: number;
  /** Where kafkajs's own log lines go. Default: dropped. */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void;
  /**
   * Asked before each batch is handed to a handler: a non-null answer (the reason) holds the
   * batch back — its partition is paused, rewound to the batch's first offset and resumed after
   * backPressureDelayMs — so a process over its memory mark stops fetching and the data waits
   * in Kafka. Default: never.
   */
  backPressure?: () => string | null;
  /** How long a partition held back by backPressure stays paused, ms. Default 500. */
  backPressureDelayMs?: number;
  /** Told of every error a handler threw (already counted in stats). Default: nothing. */
  onError?: (err: unknown, where: 'eachBatch' | 'onAssign' | 'onRevoke' | 'commit', groupId: string) => void;
}

export const KAFKA_BUS_DEFAULTS = Object.freeze({
  clientId: 'foreshock',
  groupIdPrefix: '',
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 30_000,
  sessionTimeoutMs: 30_000,
  rebalanceTimeoutMs: 60_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1024 * 1024,
  maxBytes: 10 * 1024 * 1024,
  maxWaitTimeMs: 100,
  partitionsConsumedConcurrently: 1,
  compression: 'none' as KafkaCompression,
  replicationFactor: -1,
  retryBackoffMs: 100,
  maxRetryBackoffMs: 5_000,
  backPressureDelayMs: 500,
});

/** Counters of the Kafka bus, for /metrics. */
export interface KafkaBusStats {
  sent: number;
  delivered: number;
  /** Batches whose handler threw; they are delivered again after a backoff. */
  redeliveries: number;
  /** onAssign / onRevoke callbacks that threw (the rebalance goes on without them). */
  callbackErrors: number;
  /** Offset commits that failed (the batch is delivered again, to this member or the next owner). */
  commitErrors: number;
  /** Group joins seen (first join and every rebalance). */
  rebalances: number;
  /** Batches held back by backPressure (fetched again after the pause). */
  heldBack: number;
}

interface TopicPartition {
  topic: string;
  partition: number;
}

function tpKey(topic: string, partition: number): string {
  return topic + '\u0000' + partition;
}

function sortParts(parts: TopicPartition[]): TopicPartition[] {
  return parts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

const EMPTY = new Uint8Array(0);

/** One consumer-group member on its own kafkajs consumer. */
class KafkaSubscription implements Subscription {
  /** Partitions whose onAssign ran, by tpKey. */
  private readonly owned = new Map<string, TopicPartition>();
  /** Rebalance work (onRevoke, then onAssign) runs in order; batches wait for it. */
  private transition: Promise<void> = Promise.resolve();
  private pendingTransitions = 0;
  /** Batches being handled, by tpKey. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** Offsets to commit next, by tpKey (see commitLater). */
  private readonly dirty = new Map<string, { topic: string; partition: number; offset: string }>();
  private committing: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly bus: KafkaBus,
    readonly consumer: Consumer,
    readonly options: SubscribeOptions,
  ) {
    // kafkajs has no revocation callback and rebalances eagerly: when it learns of a rebalance it
    // emits REBALANCING and rejoins at once. Revoke everything there (as Kafka's eager protocol
    // does), and hold the JoinGroup back until onRevoke finished (see gateJoins): the broker
    // completes the join of every member only after all rejoined, so a partition's next owner
    // runs onAssign only after its previous owner's onRevoke.
    consumer.on(consumer.events.REBALANCING, () => {
      this.enqueue(() => this.revoke([...this.owned.values()]));
    });
    // kafkajs emits GROUP_JOIN synchronously after SyncGroup, before it fetches for the new
    // generation: queue the transition here so every later batch waits for it.
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assignment = e.payload.memberAssignment as Record<string, number[]>;
      const next = new Map<string, TopicPartition>();
      for (const [topic, partitions] of Object.entries(assignment)) {
        for (const partition of partitions) next.set(tpKey(topic, partition), { topic, partition });
      }
      this.bus.stats.rebalances++;
      this.enqueue(() => this.moveTo(next));
    });
  }

  /**
   * Makes kafkajs's JoinGroup wait for the queued revocation: the consumer's cluster looks up
   * the group coordinator right before each JoinGroup (and nowhere else in the consumer), and
   * partition assigners are handed that cluster. Bounded, so a hung onRevoke cannot keep the
   * member out of its group past the rebalance timeout.
   */
  gateJoins(cluster: Cluster): void {
    const original = cluster.findGroupCoordinator.bind(cluster);
    const maxWaitMs = Math.max(1_000, this.bus.options.rebalanceTimeoutMs / 2);
    cluster.findGroupCoordinator = async (group) => {
      if (this.pendingTransitions > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.transition, new Promise<void>((r) => (timer = setTimeout(r, maxWaitMs)))]);
        clearTimeout(timer);
      }
      return original(group);
    };
  }

  /** Partitions this member owns (after their onAssign ran). */
  assignment(): TopicPartition[] {
    return sortParts([...this.owned.values()]);
  }

  async start(): Promise<void> {
    for (const topic of this.options.topics) {
      await this.consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning !== false });
    }
    let joined!: () => void;
    let failed!: (err: unknown) => void;
    const firstJoin = new Promise<void>((resolve, reject) => ((joined = resolve), (failed = reject)));
    const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => joined());
    // A consumer that crashed for good before its first join would leave subscribe hanging.
    const offCrash = this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) failed(new UnavailableError('FS_BUS_SUBSCRIBE', `kafka: consumer of ${this.options.groupId} crashed: ${e.payload.error.message}`, 5));
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.bus.options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.handle(payload),
    });
    // Like the embedded bus: subscribe resolves once the member owns its first assignment.
    try {
      await firstJoin;
    } finally {
      off();
      offCrash();
    }
    await this.transition;
  }

  private enqueue(work: () => Promise<void>): void {
    this.pendingTransitions++;
    this.transition = this.transition.then(work).finally(() => {
      this.pendingTransitions--;
    });
  }

  /** Revoke what is no longer ours (after its batch in flight), then assign what is new. */
  private async moveTo(next: Map<string, TopicPartition>): Promise<void> {
    const revoked: TopicPartition[] = [];
    for (const [k, tp] of this.owned) if (!next.has(k)) revoked.push(tp);
    await this.revoke(revoked);
    if (this.stopping) return;
    const added: TopicPartition[] = [];
    for (const [k, tp] of next) if (!this.owned.has(k)) added.push(tp);
    if (added.length > 0 && this.options.onAssign) {
      await this.bus.callback(() => this.options.onAssign!(sortParts([...added])), 'onAssign', this.options.groupId);
    }
    if (added.length > 0 && this.options.fromBeginning === false) await this.startAtEnd(added);
    for (const tp of added) {
      this.owned.set(tpKey(tp.topic, tp.partition), tp);
      this.failures.delete(tpKey(tp.topic, tp.partition));
    }
  }

  /**
   * A group without a commit on a partition starts at its end as of the assignment (kafkajs
   * would resolve "latest" only at its first fetch, skipping what was sent in between).
   */
  private async startAtEnd(parts: TopicPartition[]): Promise<void> {
    try {
      for (const [topic, ends] of await this.bus.uncommittedEnds(this.options.groupId, parts)) {
        for (const [partition, offset] of ends) this.consumer.seek({ topic, partition, offset });
      }
    } catch (err) {
      this.bus.reportError(err, 'onAssign', this.options.groupId);
    }
  }

  private async revoke(revoked: TopicPartition[]): Promise<void> {
    if (revoked.length === 0) return;
    const waits: Promise<void>[] = [];
    for (const tp of revoked) {
      const k = tpKey(tp.topic, tp.partition);
      this.owned.delete(k);
      const f = this.inFlight.get(k);
      if (f !== undefined) waits.push(f);
    }
    await Promise.all(waits);
    await this.flushCommits();
    if (this.options.onRevoke) {
      await this.bus.callback(() => this.options.onRevoke!(sortParts(revoked)), 'onRevoke', this.options.groupId);
    }
  }

  private async handle(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.pendingTransitions > 0) await this.transition;
    const key = tpKey(batch.topic, batch.partition);
    // Not ours (any more, or not yet): leave the offsets alone, the owner reads them.
    if (this.stopping || !this.owned.has(key) || payload.isStale() || batch.messages.length === 0) return;
    let done!: () => void;
    this.inFlight.set(key, new Promise<void>((r) => (done = r)));
    try {
      await this.deliver(payload, key);
    } finally {
      this.inFlight.delete(key);
      done();
    }
  }

  private async deliver(payload: EachBatchPayload, key: string): Promise<void> {
    const { batch } = payload;
    const held = this.bus.options.backPressure?.() ?? null;
    if (held !== null) {
      this.bus.stats.heldBack++;
      this.pauseAndRewind(payload, this.bus.options.backPressureDelayMs);
      return;
    }
    const src = batch.messages;
    const messages: BusMessage[] = new Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const m = src[i];
      const v = m.value;
      messages[i] = {
        key: m.key === null ? null : m.key.toString('utf8'),
        value: v === null ? EMPTY : v,
        offset: Number(m.offset),
        timestamp: Number(m.timestamp),
      };
    }
    const busBatch: BusBatch = { topic: batch.topic, partition: batch.partition, messages };
    try {
      await this.options.eachBatch(busBatch);
    } catch (err) {
      this.bus.stats.redeliveries++;
      this.bus.reportError(err, 'eachBatch', this.options.groupId);
      this.redeliverLater(payload, key);
      return;
    }
    this.failures.delete(key);
    this.bus.stats.delivered += messages.length;
    const last = batch.lastOffset();
    payload.resolveOffset(last);
    this.commitLater(key, batch.topic, batch.partition, String(BigInt(last) + 1n));
  }

  /**
   * Commits run behind the handlers, one request in flight, coalescing every partition whose
   * batch resolved meanwhile: a handler never waits for a commit round trip, and a partition is
   * never revoked (nor the member closed) before its last offsets are committed (flushCommits).
   */
  private commitLater(key: string, topic: string, partition: number, offset: string): void {
    this.dirty.set(key, { topic, partition, offset });
    if (this.committing === null) this.committing = this.commitLoop();
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.dirty.size > 0) {
        const offsets = [...this.dirty.values()];
        this.dirty.clear();
        try {
          await this.consumer.commitOffsets(offsets);
        } catch (err) {
          // Usually a rebalance took the partitions: their next owner resumes from the last
          // commit that went through and reads the tail again (at least once).
          this.bus.stats.commitErrors++;
          this.bus.reportError(err, 'commit', this.options.groupId);
        }
      }
    } finally {
      this.committing = null;
    }
  }

  private async flushCommits(): Promise<void> {
    while (this.committing !== null) await this.committing;
  }

  /** Rewind the partition to the batch's first offset and pause it for the backoff. */
  private redeliverLater(payload: EachBatchPayload, key: string): void {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.pauseAndRewind(payload, this.bus.backoff(n));
  }

  private pauseAndRewind(payload: EachBatchPayload, delayMs: number): void {
    const { batch } = payload;
    const tp = [{ topic: batch.topic, partitions: [batch.partition] }];
    this.consumer.pause(tp);
    this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: batch.firstOffset() ?? String(batch.messages[0].offset) });
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      if (!this.stopping) this.consumer.resume(tp);
    }, delayMs);
    this.resumeTimers.add(timer);
  }

  close(): Promise<void> {
    if (this.closing === null) this.closing = this.stopAndLeave();
    return this.closing;
  }

  /**
   * Flush before leaving: no new batches, the ones in flight finish and commit, onRevoke runs
   * for everything owned, and only then the member leaves the group (so the next owner's
   * onAssign sees what onRevoke saved).
   */
  private async stopAndLeave(): Promise<void> {
    this.stopping = true;
    for (const t of this.resumeTimers) clearTimeout(t);
    this.resumeTimers.clear();
    // Batches are skipped from here on; stop fetching them instead of re-reading them in a loop.
    this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
    await this.transition;
    await Promise.all([...this.inFlight.values()]);
    await this.revoke([...this.owned.values()]);
    await this.flushCommits();
    try {
      await this.consumer.disconnect();
    } finally {
      this.bus.forget(this);
    }
  }
}

/** Kafka implementation of the Bus port (see KafkaBusOptions). */
export class KafkaBus implements Bus {
  readonly stats: KafkaBusStats = { sent: 0, delivered: 0, redeliveries: 0, callbackErrors: 0, commitErrors: 0, rebalances: 0, heldBack: 0 };
  /** @internal */
  readonly options: Required<Omit<KafkaBusOptions, 'ssl' | 'sasl' | 'log' | 'onError' | 'backPressure'>> & Pick<KafkaBusOptions, 'log' | 'onError' | 'backPressure'>;
  private readonly kafka: KafkaClient;
  private producer: Producer | null = null;
  private producerReady: Promise<Producer> | null = null;
  private admin: Promise<Admin> | null = null;
  private static readonly METADATA_MAX_AGE_MS = 30_000;
  /** Most value bytes merged into one produce request (see flushQueue). */
  private static readonly MAX_MERGED_BYTES = 512 * 1024;
  /** Sends waiting for the produce request in flight. */
  private queued: { topic: string; messages: Message[]; bytes: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private flushing = false;
  private readonly partitionCounts = new Map<string, { count: number; at: number }>();
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closed = false;
  private readonly compression: number;

  constructor(options: KafkaBusOptions) {
    registerKafkaCodecs();
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new ForeshockError('FS_BUS_OPTIONS', 'kafka bus: brokers must list at least one host:port');
    }
    for (const b of options.brokers) {
      if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(b)) throw new ForeshockError('FS_BUS_OPTIONS', `kafka bus: broker "${b}" is not host:port`);
    }
    const o = { ...KAFKA_BUS_DEFAULTS } as KafkaBus['options'];
    for (const [k, v] of Object.entries(options)) if (v !== undefined && k !== 'ssl' && k !== 'sasl') (o as Record<string, unknown>)[k] = v;
    for (const k of ['partitionsConsumedConcurrently', 'maxBytesPerPartition', 'maxBytes', 'heartbeatIntervalMs', 'sessionTimeoutMs'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new ForeshockError('FS_BUS_OPTIONS', `kafka bus: ${k} must be a positive integer`);
    }
    if (!(o.compression in COMPRESSION)) throw new ForeshockError('FS_BUS_OPTIONS', `kafka bus: unknown compression "${o.compression}"`);
    this.options = o;
    this.compression = COMPRESSION[o.compression];
    const log = o.log;
    const config: KafkaConfig = {
      clientId: o.clientId,
      brokers: options.brokers,
      connectionTimeout: o.connectionTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      // kafkajs logs every join and fetch at info; its warnings and errors are what operators need.
      logLevel: log ? KafkaLogLevel.WARN : KafkaLogLevel.NOTHING,
      logCreator: () => (entry: LogEntry) => {
        if (!log) return;
        const { message, ...extra } = entry.log;
        const level = entry.level === KafkaLogLevel.ERROR ? 'error' : entry.level === KafkaLogLevel.WARN ? 'warn' : entry.level === KafkaLogLevel.INFO ? 'info' : 'debug';
        log(level, `kafkajs ${entry.namespace}: ${message}`, extra);
      },
      // Reconnects go on for as long as the process runs (a broker restart must not end it).
      retry: { initialRetryTime: 250, maxRetryTime: 5_000, retries: 10 },
    };
    if (options.ssl) config.ssl = options.ssl === true ? true : options.ssl;
    if (options.sasl) config.sasl = { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password } as SASLOptions;
    this.kafka = new Kafka(config);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of topics) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new ForeshockError('FS_BUS_TOPIC', `topic ${spec.name}: partitions must be a positive integer`);
      }
    }
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: this.options.replicationFactor })),
        });
      } catch (err) {
        // Another process may have created them at the same moment; that is fine.
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      }
    }
    const present = topics.filter((t) => existing.has(t.name));
    if (present.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
      const grow: { topic: string; count: number }[] = [];
      for (const t of present) {
        const m = meta.topics.find((x) => x.name === t.name);
        if (m !== undefined && m.partitions.length < t.partitions) grow.push({ topic: t.name, count: t.partitions });
      }
      if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow });
    }
  }

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    await this.getProducer();
    const out: Message[] = new Array(messages.length);
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const v = m.value;
      const p = m.partition;
      if (p !== undefined && (!Number.isInteger(p) || p < 0)) throw new ForeshockError('FS_BUS_SEND', `${topic}: partition ${p} is not a partition number`);
      out[i] = { key: m.key, value: Buffer.from(v.buffer, v.byteOffset, v.byteLength), partition: p };
      bytes += v.byteLength;
    }
    await new Promise<void>((resolve, reject) => {
      this.queued.push({ topic, messages: out, bytes, resolve, reject });
      if (!this.flushing) void this.flushQueue();
    });
    this.stats.sent += messages.length;
  }

  /**
   * One produce request at a time (the producer is idempotent with one request in flight);
   * sends that arrive meanwhile wait and go out together in the next one. Under load this
   * batches without a linger delay, and an idle bus sends at once. Each send resolves (or
   * fails) with the request that carried its messages.
   */
  private async flushQueue(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queued.length > 0) {
        // Bounded so a merged record batch stays below the broker's message.max.bytes (1 MiB by default).
        let n = 0;
        let bytes = 0;
        while (n < this.queued.length && (n === 0 || bytes + this.queued[n].bytes <= KafkaBus.MAX_MERGED_BYTES)) bytes += this.queued[n++].bytes;
        const group = this.queued.splice(0, n);
        const byTopic = new Map<string, Message[]>();
        for (const q of group) {
          const into = byTopic.get(q.topic);
          if (into === undefined) byTopic.set(q.topic, q.messages.slice());
          else for (const m of q.messages) into.push(m);
        }
        try {
          const producer = await this.getProducer();
          await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })), acks: -1, compression: this.compression });
          for (const q of group) q.resolve();
        } catch (err) {
          for (const q of group) q.reject(new UnavailableError('FS_BUS_SEND', `kafka: could not append to ${q.topic}: ${(err as Error).message}`, 5));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Routes like kafkajs's DefaultPartitioner (murmur2 of the key over the partition count).
   * The count is cached for `metadataMaxAgeMs` (a grown topic is seen after at most that long),
   * and a missing topic is created as the broker's auto-creation would.
   */
  async keyPartitions(topic: string, keys: readonly string[]): Promise<number[]> {
    this.assertOpen();
    const now = Date.now();
    let cached = this.partitionCounts.get(topic);
    if (cached === undefined || now - cached.at > KafkaBus.METADATA_MAX_AGE_MS) {
      const admin = await this.getAdmin();
      if (!(await admin.listTopics()).includes(topic)) await this.ensureTopics([{ name: topic, partitions: 1 }]);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const n = meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      if (n < 1) throw new UnavailableError('FS_BUS_METADATA', `kafka: no partitions known for ${topic}`, 5);
      cached = { count: n, at: now };
      this.partitionCounts.set(topic, cached);
    }
    const n = cached.count;
    return keys.map((k) => partitionForKey(k, n));
  }

  /** Joins the group; resolves once this member has its first assignment and onAssign ran. */
  async subscribe(options: SubscribeOptions): Promise<KafkaSubscription> {
    this.assertOpen();
    if (options.topics.length === 0) throw new ForeshockError('FS_BUS_SUBSCRIBE', 'subscribe: no topics');
    const o = this.options;
    let cluster: Cluster | null = null;
    const consumer = this.kafka.consumer({
      groupId: o.groupIdPrefix + options.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
      maxBytes: o.maxBytes,
      maxWaitTimeInMs: o.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      partitionAssigners: [
        (c: Parameters<PartitionAssigner>[0]) => {
          cluster = c.cluster;
          return PartitionAssigners.roundRobin(c);
        },
      ],
      // A consumer that crashed (broker gone longer than its retries) rejoins by itself.
      retry: { initialRetryTime: 250, maxRetryTime: 5_000, retries: 10, restartOnFailure: async () => !this.closed },
    });
    const sub = new KafkaSubscription(this, consumer, options);
    if (cluster === null) throw new ForeshockError('FS_BUS_STATE', 'kafkajs did not build the partition assigner');
    sub.gateJoins(cluster);
    this.subscriptions.add(sub);
    try {
      await consumer.connect();
      await sub.start();
    } catch (err) {
      this.subscriptions.delete(sub);
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    return sub;
  }

  /** @internal end offsets of the partitions among `parts` that `groupId` has no commit on. */
  async uncommittedEnds(groupId: string, parts: TopicPartition[]): Promise<Map<string, Map<number, string>>> {
    const admin = await this.getAdmin();
    const topics = [...new Set(parts.map((p) => p.topic))];
    const committed = await admin.fetchOffsets({ groupId: this.options.groupIdPrefix + groupId, topics });
    const out = new Map<string, Map<number, string>>();
    for (const topic of topics) {
      const c = new Map<number, number>();
      for (const t of committed) if (t.topic === topic) for (const p of t.partitions) c.set(p.partition, Number(p.offset));
      const ends = await admin.fetchTopicOffsets(topic);
      const wanted = new Set(parts.filter((p) => p.topic === topic).map((p) => p.partition));
      const m = new Map<number, string>();
      for (const e of ends) if (wanted.has(e.partition) && (c.get(e.partition) ?? -1) < 0) m.set(e.partition, e.high);
      out.set(topic, m);
    }
    return out;
  }

  async lag(topic: string, groupId: string): Promise<number> {
    const admin = await this.getAdmin();
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId: this.options.groupIdPrefix + groupId, topics: [topic] });
    const byPartition = new Map<number, number>();
    for (const t of committed) for (const p of t.partitions) byPartition.set(p.partition, Number(p.offset));
    let lag = 0;
    for (const p of ends) {
      const high = Number(p.high);
      const low = Number(p.low);
      const c = byPartition.get(p.partition) ?? -1;
      lag += high - Math.max(c < 0 ? low : c, low);
    }
    return lag;
  }

  /** Closes every subscription (batches in flight finish and commit, onRevoke runs), then the clients. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    const producer = this.producer;
    this.producer = null;
    if (producer !== null) await producer.disconnect().catch(() => undefined);
    const admin = this.admin;
    this.admin = null;
    if (admin !== null) await (await admin.catch(() => null))?.disconnect().catch(() => undefined);
  }

  /** @internal */
  forget(sub: KafkaSubscription): void {
    this.subscriptions.delete(sub);
  }

  /** @internal redelivery delay after `failures` consecutive throws. */
  backoff(failures: number): number {
    return Math.min(this.options.maxRetryBackoffMs, this.options.retryBackoffMs * 2 ** Math.min(failures - 1, 30));
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
  reportError(err: unknown, where: 'eachBatch' | 'onAssign' | 'onRevoke' | 'commit', groupId: string): void {
    try {
      this.options.onError?.(err, where, groupId);
    } catch {
      // A failing error hook must not break delivery; the error itself is already counted.
    }
  }

  private getProducer(): Promise<Producer> {
    let ready = this.producerReady;
    if (ready === null) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: true,
        retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
      });
      ready = this.producerReady = producer.connect().then(
        () => {
          this.producer = producer;
          return producer;
        },
        (err: unknown) => {
          this.producerReady = null;
          throw new UnavailableError('FS_BUS_CONNECT', `kafka: cannot connect the producer: ${(err as Error).message}`, 5);
        },
      );
    }
    return ready;
  }

  private getAdmin(): Promise<Admin> {
    let ready = this.admin;
    if (ready === null) {
      const admin = this.kafka.admin();
      ready = this.admin = admin.connect().then(
        () => admin,
        (err: unknown) => {
          this.admin = null;
          throw new UnavailableError('FS_BUS_CONNECT', `kafka: cannot connect the admin client: ${(err as Error).message}`, 5);
        },
      );
    }
    return ready;
  }

  private assertOpen(): void {
    if (this.closed) throw new ForeshockError('FS_BUS_CLOSED', 'kafka bus is closed', 503);
  }
}
