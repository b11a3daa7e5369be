// Port conformance suites (vitest): one contract, run against every adapter of a port.

export { stateStoreConformance } from './state-store-conformance.js';
export { jobQueueConformance, JOB_QUEUE_CONFORMANCE_SETTINGS } from './job-queue-conformance.js';
export type { JobQueueConformanceSettings } from './job-queue-conformance.js';
export { busConformance } from './bus-conformance.js';
export type { BusConformanceOptions } from './bus-conformance.js';
export { embeddedBusConformance } from './embedded-bus-conformance.js';
