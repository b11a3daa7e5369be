// The embedded adapters against the shared port conformance suites (the Redis and BullMQ
// adapters run the same suites in test/adapters/).

import { jobQueueConformance, stateStoreConformance } from '../conformance/index.js';
import { MemoryJobQueue } from './memory-job-queue.js';
import { MemoryStateStore } from './memory-state-store.js';

stateStoreConformance('memory', async () => new MemoryStateStore());

jobQueueConformance('memory', async (s) => new MemoryJobQueue(s), { shared: false });
