// The durable embedded adapters against the shared port conformance suites.

import { jobQueueConformance, stateStoreConformance } from '../conformance/index.js';
import { MemoryJobQueue } from '../memory/index.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { tempDataDir } from '../../../test/support/data-dir.js';
import { SqliteDatabase } from './sqlite-database.js';
import { SqliteStateStore } from './sqlite-state-store.js';

stateStoreConformance('sqlite', async () => new SqliteStateStore(new SqliteDatabase({ dir: tempDataDir('state') }), { closeDatabase: true }));

jobQueueConformance('sqlite', async (settings) => {
  const db = new SqliteDatabase({ dir: tempDataDir('queue'), fsync: 'off' });
  const queue = new MemoryJobQueue({ ...settings, store: new SqliteJobStore(db) });
  const close = queue.close.bind(queue);
  queue.close = async () => {
    await close();
    await db.close();
  };
  return queue;
}, { shared: false });
