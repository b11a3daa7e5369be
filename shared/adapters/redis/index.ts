// Redis adapters: the StateStore on Redis, and the connection options the BullMQ JobQueue shares.

export { RedisStateStore, REDIS_STATE_STORE_DEFAULTS, quitOrDisconnect } from './redis-state-store.js';
export type { RedisStateStoreOptions, RedisStateStoreStats } from './redis-state-store.js';
export { createRedisClient, redisClientOptions, redactUrl, reconnectDelayMs, REDIS_CONNECTION_DEFAULTS } from './redis-connection.js';
export type { RedisConnectionOptions } from './redis-connection.js';
