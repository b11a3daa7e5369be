// The durable embedded adapters against the shared port conformance suites.

import { stateStoreConformance } from '../conformance/index.js';
import { tempDataDir } from '../../../test/support/data-dir.js';
import { SqliteDatabase } from './sqlite-database.js';
import { SqliteStateStore } from './sqlite-state-store.js';

stateStoreConformance('sqlite', async () => new SqliteStateStore(new SqliteDatabase({ dir: tempDataDir('state') }), { closeDatabase: true }));
