// Child process for the crash test: an intervention worker on BullMQ + Redis that pages through
// PagerDuty (the test's receiver) and posts to Alertmanager. The test kills it with SIGKILL.
// Env: FS_TEST_REDIS_URL, FS_TEST_NS, FS_TEST_PD_URL, FS_TEST_PD_KEY, FS_TEST_AM_URL, FS_TEST_LOCK_MS.

import { BullMqJobQueue } from '../../../shared/adapters/bullmq/index.js';
import { RedisStateStore } from '../../../shared/adapters/redis/index.js';
import { InterventionService } from '../../../services/intervention/index.js';

const env = process.env;
const ns = env.FS_TEST_NS!;
const lockMs = Number(env.FS_TEST_LOCK_MS);
const queue = new BullMqJobQueue({
  url: env.FS_TEST_REDIS_URL,
  prefix: `${ns}q`,
  lockDurationMs: lockMs,
  stalledIntervalMs: Math.max(100, Math.floor(lockMs / 2)),
  backoffBaseMs: 100,
  backoffMaxMs: 1000,
  closeTimeoutMs: 2000,
});
const store = new RedisStateStore({ url: env.FS_TEST_REDIS_URL, keyPrefix: `${ns}s:` });
const log = (level: string) => (obj: object, msg?: string) => process.stderr.write(`${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
const service = new InterventionService(
  {
    alertmanagerUrls: env.FS_TEST_AM_URL ? [env.FS_TEST_AM_URL] : [],
    resendIntervalMs: 1000,
    timeoutMs: 5000,
    pagerduty: { url: env.FS_TEST_PD_URL!, routes: [{ name: 'ops', routingKey: env.FS_TEST_PD_KEY!, match: {} }], minSeverity: 'critical', ratePerMinute: 100, timeoutMs: 30_000 },
  },
  { queue, store, logger: { info: log('info'), warn: log('warn'), error: log('error') }, clock: Date.now },
);
await service.start();
process.on('SIGTERM', () => {
  void (async () => {
    await queue.close();
    await service.close();
    await store.close();
    process.exit(0);
  })();
});
process.stdout.write('ready\n');
