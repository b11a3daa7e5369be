export { DetectorService, type DetectorDeps } from './detector-service.js';
export { SeriesTable } from './series-table.js';
