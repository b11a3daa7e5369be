// Child process for the BullMQ crash test: takes one job of "work", says so on stdout, and hangs
// until the test kills it with SIGKILL (a worker process dying mid-job).
// Env: FS_TEST_REDIS_URL, FS_TEST_PREFIX, FS_TEST_LOCK_MS.

import { BullMqJobQueue } from '../../shared/adapters/bullmq/index.js';

const q = new BullMqJobQueue({
  url: process.env.FS_TEST_REDIS_URL,
  prefix: process.env.FS_TEST_PREFIX,
  lockDurationMs: Number(process.env.FS_TEST_LOCK_MS),
  stalledIntervalMs: Number(process.env.FS_TEST_LOCK_MS),
});
q.process('work', async (job) => {
  process.stdout.write(`started ${job.id} ${job.attempt}\n`);
  await new Promise<void>(() => {});
});
process.stdout.write('ready\n');
