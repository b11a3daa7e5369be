export * from './labels.js';
export * from './samples.js';
export * from './events.js';
export * from './views.js';
export * from './sink-points.js';
export * from './alerts.js';
export * from './intervention.js';
export * from './published-view.js';
