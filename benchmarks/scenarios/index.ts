// Public surface of the scenario generator and its scoring (bench:scenarios, bench:vs-promql).

export {
  CPU_THRESHOLD, DAY_MS, DEFAULT_TIMELINE, DISK_THRESHOLD, expectedValue, HOUR_MS, MARKET_PEAK, marketShape, MEMORY_LIMITS_GIB, NORMAL_SCENARIOS, planSeries,
  renderSeries, SCENARIOS, thresholdRules,
  type ScenarioName, type ScenarioSeries, type Timeline,
} from './generator.js';
export { aggregate, median, scoreSeries, type ScenarioScore, type SeriesOutcome, type SeriesScore } from './scoring.js';
export { runSeries } from './run.js';
export { mixSeed, Rng } from './rng.js';
