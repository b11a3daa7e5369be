export { DetectorService, DETECTOR_GROUP, type DetectorDeps } from './detector-service.js';
export { SeriesTable } from './series-table.js';
export { ViewPublisher, forecastFromModel, thresholdsFromConfig, viewPublisherFor, type ThresholdsOf, type ViewPublisherOptions } from './view-publisher.js';
