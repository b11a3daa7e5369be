// Embedded adapters: every port implemented in-process, so `npm start` needs nothing installed.

export { MemoryBus, MemorySubscription, MEMORY_BUS_DEFAULTS } from './memory-bus.js';
export type { BusErrorSite, MemoryBusOptions, MemoryBusStats, TopicPartition } from './memory-bus.js';
export { MemoryBusStorage, MemoryPartitionLog, messageBytes, tpKey } from './partition-log.js';
export type { BusStorage, PartitionLog } from './partition-log.js';
export { MemoryJobQueue, MEMORY_JOB_QUEUE_DEFAULTS } from './memory-job-queue.js';
export type { MemoryJobQueueOptions, MemoryJobQueueStats } from './memory-job-queue.js';
export { MemoryStateStore, MEMORY_STATE_STORE_DEFAULTS } from './memory-state-store.js';
export type { MemoryStateStoreOptions, MemoryStateStoreStats } from './memory-state-store.js';
export { MemoryMetricSink, NullMetricSink, MEMORY_METRIC_SINK_DEFAULTS } from './memory-metric-sink.js';
export type { MemoryMetricSinkOptions, MetricSinkStats } from './memory-metric-sink.js';
export { murmur2, partitionForKey } from './murmur2.js';
