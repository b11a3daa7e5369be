export { SCHEMA, type ForeshockConfig } from './schema.js';
export { loadConfig, configKeys, describeConfig, type LoadOptions, type LoadedConfig } from './load.js';
export { envName, parseDuration, formatDuration } from './spec.js';
