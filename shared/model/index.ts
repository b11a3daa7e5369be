export * from './labels.js';
export * from './samples.js';
export * from './events.js';
export * from './views.js';
export * from './alerts.js';
