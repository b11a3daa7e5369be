// Durable embedded adapters: the StateStore, the Bus's partition logs and the JobQueue's jobs in
// one SQLite database in the data directory (better-sqlite3), so `foreshock start` survives kill -9.

export { SqliteDatabase, SQLITE_DATABASE_DEFAULTS } from './sqlite-database.js';
export type { FsyncPolicy, SqliteDatabaseOptions, SqliteDatabaseStats } from './sqlite-database.js';
export { SqliteStateStore } from './sqlite-state-store.js';
export type { SqliteStateStoreOptions, SqliteStateStoreStats } from './sqlite-state-store.js';
export { SqliteBusStorage } from './sqlite-bus-storage.js';
export { SqliteJobStore } from './sqlite-job-store.js';
