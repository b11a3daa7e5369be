// Labelled SRE scenarios (`npm run bench:scenarios`): seeded synthetic series of a trading
// platform — a normal daily rhythm with the market open, CPU creeping with trading volume,
// a memory leak, a filling disk, a deploy step, short spikes, a dead or frozen series, pure
// noise — each with the ground truth of when its trouble starts and when it would breach its
// threshold (benchmarks/scenarios/generator.ts). Every series runs at 15 s through the
// production detector engine with the production profiles: the per-kind defaults chosen by
// metric name, the `detector` config section (FORESHOCK_CONFIG / FORESHOCK_DETECTOR_* when
// set) and, after its rules, the scenarios' thresholds (CPU 90 %, disk 95 %, memory limit) as
// `detector.rules`, so forecast-breach warnings count. Scoring: benchmarks/scenarios/scoring.ts.
// One JSON line per scenario, then the total:
//   recall                              troubled series with an alert between trouble start and breach/window end
//   false_alerts_per_1000_series_days   alerts on normal series or before trouble starts, per 1000 days of normal time
//   median_detection_delay_s            first alert in the window − trouble start
//   median_lead_time_s                  breach − first alert or forecast-breach warning before it
// Series are a week long (Monday to Sunday); the first two days are burn-in (the detectors
// learn; signals there are reported as burn_in_signals and not scored).
//
//   npm run bench:scenarios -- [--series 100] [--days 7] [--burn-in-days 2] [--seed 1] [--scenarios a,b]

import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../shared/config/index.js';
import { DetectorEngine, profileResolverFromConfig } from '../services/detector/engine/index.js';
import {
  aggregate, DAY_MS, DEFAULT_TIMELINE, planSeries, runSeries, SCENARIOS, scoreSeries, thresholdRules, type ScenarioName, type SeriesScore,
  type Timeline,
} from './scenarios/index.js';

const USAGE = `usage: npm run bench:scenarios -- [options]
  --series N          series per scenario (default 100)
  --days D            days of event time per series (default ${DEFAULT_TIMELINE.days}, starting on a Monday)
  --burn-in-days B    leading days not scored (default ${DEFAULT_TIMELINE.burnInDays})
  --seed S            run seed (default ${DEFAULT_TIMELINE.seed})
  --scenarios LIST    comma-separated subset of ${SCENARIOS.join(',')}`;

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '100' },
    days: { type: 'string', default: String(DEFAULT_TIMELINE.days) },
    'burn-in-days': { type: 'string', default: String(DEFAULT_TIMELINE.burnInDays) },
    seed: { type: 'string', default: String(DEFAULT_TIMELINE.seed) },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`bench:scenarios: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const perScenario = Number(args.series);
if (!Number.isInteger(perScenario) || perScenario < 1) fail(`--series: "${args.series}" is not a positive integer`);
const timeline: Timeline = {
  ...DEFAULT_TIMELINE,
  days: Number(args.days),
  burnInDays: Number(args['burn-in-days']),
  seed: Number(args.seed),
};
if (!(timeline.days > 0) || !(timeline.days <= 60)) fail(`--days: "${args.days}" must be in (0, 60]`);
if (!(timeline.burnInDays >= 0) || timeline.burnInDays >= timeline.days) fail(`--burn-in-days: "${args['burn-in-days']}" must be ≥ 0 and < --days`);
if (!Number.isInteger(timeline.seed)) fail(`--seed: "${args.seed}" is not an integer`);
const chosen = args.scenarios.split(',').map((s) => s.trim()) as ScenarioName[];
for (const s of chosen) if (!SCENARIOS.includes(s)) fail(`--scenarios: unknown scenario "${s}"`);

// Production profiles: the per-kind defaults picked by metric name, the configured rules
// first, then the scenarios' thresholds as the team would configure them.
const detectorConfig = loadConfig().config.detector;
const rules = [...detectorConfig.rules, ...thresholdRules()];
const resolver = profileResolverFromConfig({ ...detectorConfig, rules });
const engine = new DetectorEngine(resolver.profiles);
const machine = { node: process.version, cpu: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, shared_load: os.loadavg()[0] };
const samplesPerSeries = Math.floor((timeline.days * DAY_MS) / timeline.stepMs);
const buf = new Float64Array(samplesPerSeries);

const all: SeriesScore[] = [];
const t0 = process.hrtime.bigint();
let samples = 0;
for (const scenario of chosen) {
  const scores: SeriesScore[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < perScenario; i++) {
    const s = planSeries(scenario, i, timeline);
    scores.push(scoreSeries(runSeries(engine, s, buf, resolver.resolve(s.metric, s.labels))));
    samples += s.samples;
  }
  const cpu = process.cpuUsage(c0);
  all.push(...scores);
  const line = { case: `scenario:${scenario}`, ...aggregate(scores), cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100 };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
const total = {
  case: 'total',
  ...aggregate(all),
  samples,
  interval_s: timeline.stepMs / 1000,
  days: timeline.days,
  burn_in_days: timeline.burnInDays,
  seed: timeline.seed,
  rules,
  wall_s: Math.round(wallS * 100) / 100,
  machine,
};
process.stdout.write(`${JSON.stringify(total)}\n`);
