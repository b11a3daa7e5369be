export { SCHEMA, type ForeshockConfig } from './schema.js';
export { loadConfig, configKeys, describeConfig, type LoadOptions, type LoadedConfig } from './load.js';
export { envName, parseDuration, formatDuration } from './spec.js';
export { urlAllowed } from './allow-list.js';
export type { PagerDutyRoute, RunbookRule } from './intervention-schema.js';
