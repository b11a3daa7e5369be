export { IngestService, INGEST_GROUP, type IngestDeps } from './ingest-service.js';
export { Normaliser, type NormaliseOptions, type DropReason } from './normalise.js';
