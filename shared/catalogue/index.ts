// Public surface of the metric catalogue (roles, kinds, directions, saturation models).
export * from './catalogue.js';
