export { createLogger, silentLogger, type Logger } from './logger.js';
export { createTelemetry, type Telemetry } from './metrics.js';
export { MemoryGuard, derivedRssMark, memoryAvailable, type MemoryMarks, type MemoryReadings, type Reservation } from './memory-guard.js';
