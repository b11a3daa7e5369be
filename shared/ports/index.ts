export type * from './bus.js';
export type * from './job-queue.js';
export type * from './state-store.js';
export type * from './metric-sink.js';
export { textEncoder, textDecoder } from './state-store.js';
