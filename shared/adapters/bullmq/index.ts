// BullMQ adapter: the JobQueue port on Redis, for jobs that survive restarts and are shared by processes.

export { BullMqJobQueue, BULLMQ_JOB_QUEUE_DEFAULTS, backoffDelayMs } from './bullmq-job-queue.js';
export type { BullMqJobQueueOptions, BullMqJobQueueStats, BullMqProcessOptions, JobRateLimit } from './bullmq-job-queue.js';
export { toBullJobId, fromBullJobId } from './job-id.js';
