// Public surface of the detector engine (pure math: numbers and typed arrays in, numbers out).

export {
  DetectorEngine, MAX_ABS_VALUE, normalCdf, FIRED_EWMA, FIRED_HOLT, FIRED_ROBUST, FIRED_SEASONAL, FIRED_STALE, FIRED_FLAT, FIRED_ZSCORE,
  type DetectorEngineOptions, type EngineOutputs, type SlotSnapshot,
} from './detector-engine.js';
export {
  DAY_MS, DEFAULT_DETECTOR_PARAMS, MAX_SEASON_BUCKETS, MAX_WINDOW, seasonBucketsOf, MIN_WINDOW, paramsFromConfig, resolveDetectorParams, validateDetectorParams,
  type DetectorConfigSection, type DetectorParams, type ParamProblem,
} from './params.js';
export {
  EVENT_BREACH_CLEARED, EVENT_FORECAST_BREACH, EVENT_SATURATED, EVENT_SATURATION_CLEARED, EVENT_NONE, EVENT_OPENED, EVENT_RESOLVED, EVENT_UPDATED, STATE_NORMAL, STATE_OPEN, STATE_PENDING, STATE_RESOLVING,
  type EventCode,
} from './state-machine.js';
export { explain, firedNames, formatValue } from './explain.js';
export { CHECKPOINT_VERSION } from './checkpoint.js';
/** Record layout of the state table (benchmarks' reference pass, tools); not an API for services. */
export * as recordLayout from './layout.js';
export { dampedSteps, forecastHolt, holtTimeToThreshold, holtVarianceFactor, type HoltSnapshot } from './forecast.js';
export { MAD_TO_SD, medianInPlace, medianMad, selectKth } from './robust.js';
export {
  KIND_DEFAULTS, METRIC_KINDS, NAB_PARAMS, ProfileResolver, kindOfMetric, profileResolverFromConfig, parseDetectorRules, type DetectorRule, type MetricKind,
} from './profiles.js';
export { nabScores } from './nab.js';
