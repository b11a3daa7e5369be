export * from './labels.js';
export * from './samples.js';
export * from './events.js';
