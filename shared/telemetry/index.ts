export { createLogger, silentLogger, type Logger } from './logger.js';
export { createTelemetry, type Telemetry } from './metrics.js';
export { MemoryGuard, type MemoryMarks, type MemoryReadings } from './memory-guard.js';
