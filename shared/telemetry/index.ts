export { createLogger, silentLogger, type Logger } from './logger.js';
export { createTelemetry, type Telemetry } from './metrics.js';
