// Bus port: keyed, partitioned topics with consumer groups. Real adapter: Kafka (kafkajs);
// embedded adapter: an in-process partitioned log. Every arrow between services crosses it.

export interface TopicSpec {
  name: string;
  partitions: number;
}

export interface OutgoingMessage {
  /** Routing key; messages with the same key land in the same partition, in order. */
  key: string | null;
  value: Uint8Array;
  /**
   * Explicit partition (0-based, below the topic's partition count); overrides `key` routing.
   * Lets a producer pack several keys that `keyPartitions` routes alike into one message.
   */
  partition?: number;
}

export interface BusMessage {
  key: string | null;
  value: Uint8Array;
  /** Offset within the partition (monotonic). */
  offset: number;
  /** Time the message was appended, ms since epoch. */
  timestamp: number;
}

export interface BusBatch {
  topic: string;
  partition: number;
  messages: BusMessage[];
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /**
   * Called with consecutive messages of one partition. When it resolves, the work the
   * batch caused is durable and the batch's offsets are committed; when it throws, the
   * batch is redelivered.
   */
  eachBatch(batch: BusBatch): Promise<void>;
  /** Called before messages of newly owned partitions arrive (restore state here). */
  onAssign?(assigned: { topic: string; partition: number }[]): Promise<void>;
  /** Called when partitions are taken away (flush state here). */
  onRevoke?(revoked: { topic: string; partition: number }[]): Promise<void>;
  /** Start from the earliest retained offset when the group has no commit. Default true. */
  fromBeginning?: boolean;
}

export interface Subscription {
  /** Stop consuming; resolves after the batch in flight finishes and offsets are committed. */
  close(): Promise<void>;
}

export interface Bus {
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Append messages; resolves when they are durable (acked). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /**
   * The partition `send` would route each key to now (same order as `keys`); creates the
   * topic like `send` does when it does not exist.
   */
  keyPartitions(topic: string, keys: readonly string[]): Promise<number[]>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Messages appended but not yet committed by `groupId`, over all partitions of `topic`. */
  lag(topic: string, groupId: string): Promise<number>;
  close(): Promise<void>;
}
