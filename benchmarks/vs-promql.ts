// Foreshock's detector next to what a user would build instead (`npm run bench:vs-promql`): a
// real Prometheus with a recording rule computing the usual z-score every 15 s,
//   (x - avg_over_time(x[1h])) / stddev_over_time(x[1h])
// fed the same synthetic series (benchmarks/scenarios) as Foreshock's engine.
//
// Method. The run starts its own Prometheus (free loopback port, temp data dir, remote-write
// receiver, lifecycle reload; removed at the end) and pushes N series through remote write
// with our own encoder (shared/codecs: remote-write protobuf + snappy): one hour of 15 s
// history written as recent timestamps (Prometheus refuses samples older than its head
// window), then one sample per series every 15 s in real time. CPU is Prometheus's own
// process_cpu_seconds_total from its /metrics, polled every 0.5 s in both phases:
//   baseline   --baseline-ticks × 15 s with no rules: the ingest (and idle, polling) CPU rate;
//   rules      the z-score rule loaded (POST /-/reload); from the reading right after its
//              second evaluation completes to the one right after --rule-ticks more have
//              completed. Rule CPU = CPU over that interval − baseline rate × its duration.
// Series-evaluations = completed evaluations × series in the rule's output
// (prometheus_rule_group_last_evaluation_samples, checked against N). The group's evaluation
// wall time (prometheus_rule_group_duration_seconds) is printed next to it as a cross-check.
// Foreshock: after Prometheus has stopped, the engine (production defaults from the config,
// window 240 = the same hour) scores every sample of the same series in time order;
// process.cpuUsage over all updates, best of --foreshock-passes fresh engines. Each update is
// one series-evaluation, doing everything the defaults do per sample (z-score window, EWMA
// band, Holt trend, seasonal profile, likelihood, score, state machine), more than the rule.
// Caveats: Prometheus also pays for storage (ingest, WAL, writing the rule's output series)
// and the baseline subtraction removes only ingest it would do anyway; on a shared machine the
// difference of two CPU readings is noisy, so the run prints both readings. Talks only to
// 127.0.0.1 and ends by itself (a watchdog stops it).
//
//   npm run bench:vs-promql -- [--series 10000] [--baseline-ticks 4] [--rule-ticks 6] [--prometheus BIN]

import os from 'node:os';
import { parseArgs } from 'node:util';
import { encodeWriteRequest } from '../shared/codecs/index.js';
import { loadConfig } from '../shared/config/index.js';
import { DetectorEngine, EVENT_OPENED, paramsFromConfig } from '../services/detector/engine/index.js';
import { planSeries, renderSeries, SCENARIOS } from './scenarios/index.js';
import { sumOf, type MetricSample } from './vs-promql/metrics-text.js';
import { PrometheusProcess } from './vs-promql/prometheus-process.js';

const USAGE = `usage: npm run bench:vs-promql -- [options]
  --series N            series (default 10000)
  --baseline-ticks K    15 s intervals measured without rules (default 4)
  --rule-ticks K        rule evaluations measured (default 6)
  --foreshock-passes P  engine passes over the samples, best counts (default 3)
  --prometheus BIN      prometheus binary (default: prometheus on PATH)`;

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '10000' },
    'baseline-ticks': { type: 'string', default: '4' },
    'rule-ticks': { type: 'string', default: '6' },
    'foreshock-passes': { type: 'string', default: '3' },
    prometheus: { type: 'string', default: 'prometheus' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
function intArg(name: keyof typeof args, lo: number, hi: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < lo || v > hi) {
    process.stderr.write(`bench:vs-promql: --${name}: "${String(args[name])}" must be an integer in [${lo}, ${hi}]\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
}
const N = intArg('series', 1, 1_000_000);
const BASE_TICKS = intArg('baseline-ticks', 1, 40);
const RULE_TICKS = intArg('rule-ticks', 1, 40);
const PASSES = intArg('foreshock-passes', 1, 20);

const STEP_MS = 15_000;
/** One hour of history: the oldest sample is 59 m 45 s old, inside Prometheus's head window. */
const BACKFILL = 240;
/** Ticks the backfill may take before the live phase (they are pushed as catch-up). */
const MAX_CATCHUP = 20;
const METRIC = 'fs_bench_value';
const RECORD = 'fs_bench:zscore_1h';
const GROUP = 'foreshock_bench';
const RULES = `groups:
  - name: ${GROUP}
    interval: 15s
    rules:
      - record: ${RECORD}
        expr: (${METRIC} - avg_over_time(${METRIC}[1h])) / stddev_over_time(${METRIC}[1h])
`;
/** Series per remote-write request (backfill: × 240 samples). */
const BATCH_BACKFILL = 500;
const BATCH_LIVE = 10_000;

const machine = { node: process.version, cpu: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, load_1m: os.loadavg()[0] };
const log = (msg: string): void => void process.stderr.write(`bench:vs-promql: ${msg}\n`);
const emit = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

// ---- the series: same generator as bench:scenarios, values stored tick-major (M[j·N + i]) ----
const alignedNow = Math.floor(Date.now() / STEP_MS) * STEP_MS;
const startMs = alignedNow - (BACKFILL - 1) * STEP_MS;
const S = BACKFILL + MAX_CATCHUP + BASE_TICKS + 4 * RULE_TICKS + 16;
const M = new Float64Array(S * N);
const labels: (readonly [string, string])[][] = [];
{
  const buf = new Float64Array(S);
  const timeline = { startMs, stepMs: STEP_MS, days: 1, burnInDays: 0, seed: 7 };
  for (let i = 0; i < N; i++) {
    const s = planSeries(SCENARIOS[i % SCENARIOS.length], Math.floor(i / SCENARIOS.length), timeline);
    renderSeries(s, buf);
    for (let j = 0; j < S; j++) M[j * N + i] = buf[j];
    // sorted by name, as Prometheus sends them
    labels.push([['__name__', METRIC], ['host', s.labels.host], ['scenario', s.scenario], ['series', String(i)]]);
  }
}
const timeOf = (j: number): number => startMs + j * STEP_MS;

const prom = new PrometheusProcess({ bin: args.prometheus, evaluationInterval: '15s' });
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await prom.stop().catch((err: Error) => log(`stopping prometheus: ${err.message}`));
  }
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(130));
process.once('SIGTERM', () => void shutdown(143));
const watchdogMs = (MAX_CATCHUP + BASE_TICKS + 4 * RULE_TICKS + 12) * STEP_MS + 180_000;
const watchdog = setTimeout(() => {
  log(`did not finish within ${watchdogMs / 1000} s; stopping`);
  void shutdown(1);
}, watchdogMs);

/** Pushes samples [from, to) of every series, series-batched. */
async function push(from: number, to: number, batch: number): Promise<void> {
  const n = to - from;
  const ts = new Float64Array(n);
  for (let j = 0; j < n; j++) ts[j] = timeOf(from + j);
  const inflight: Promise<void>[] = [];
  for (let i0 = 0; i0 < N; i0 += batch) {
    const series = [];
    for (let i = i0; i < Math.min(N, i0 + batch); i++) {
      const values = new Float64Array(n);
      for (let j = 0; j < n; j++) values[j] = M[(from + j) * N + i];
      series.push({ labels: labels[i], timestamps: ts, values });
    }
    inflight.push(prom.remoteWrite(encodeWriteRequest({ series })));
    if (inflight.length >= 2) await inflight.shift();
  }
  await Promise.all(inflight);
}

interface Reading {
  atMs: number;
  cpuS: number;
  /** Completed rule group iterations (the summary is observed when an iteration ends). */
  completed: number;
  missed: number;
  /** Wall seconds of completed iterations. */
  evalSumS: number;
  lastSamples: number;
}
function reading(m: MetricSample[]): Reading {
  const group = { rule_group: `${prom.rulesPath};${GROUP}` };
  const orZero = (v: number): number => (Number.isNaN(v) ? 0 : v);
  // One rule group runs, so the group-duration summary (not labelled by group) is ours.
  return {
    atMs: Date.now(),
    cpuS: sumOf(m, 'process_cpu_seconds_total'),
    completed: orZero(sumOf(m, 'prometheus_rule_group_duration_seconds_count')),
    missed: orZero(sumOf(m, 'prometheus_rule_group_iterations_missed_total', group)),
    evalSumS: orZero(sumOf(m, 'prometheus_rule_group_duration_seconds_sum')),
    lastSamples: orZero(sumOf(m, 'prometheus_rule_group_last_evaluation_samples', group)),
  };
}

async function sleep(ms: number): Promise<void> {
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/** Polls Prometheus's /metrics this often in both phases (the polling costs it the same in each). */
const POLL_MS = 500;

async function runPrometheus(): Promise<Record<string, unknown>> {
  await prom.start();
  log(`prometheus pid ${prom.pid} on ${prom.baseUrl}, data in ${prom.dir}; backfilling ${N} series × ${BACKFILL} samples`);
  const b0 = Date.now();
  await push(0, BACKFILL, BATCH_BACKFILL);
  const backfillS = (Date.now() - b0) / 1000;
  // Catch up to the present, then push one sample per series every 15 s in the background.
  let next = BACKFILL;
  while (timeOf(next) <= Date.now()) {
    if (next >= BACKFILL + MAX_CATCHUP) throw new Error(`backfill took ${backfillS} s: more than ${MAX_CATCHUP} intervals behind`);
    await push(next, next + 1, BATCH_LIVE);
    next++;
  }
  let pushing = true;
  let pushError: Error | null = null;
  const pusher = (async () => {
    while (pushing) {
      await sleep(timeOf(next) - Date.now());
      if (!pushing) break;
      if (next >= S) throw new Error('ran out of rendered samples');
      await push(next, next + 1, BATCH_LIVE);
      next++;
    }
  })().catch((err: Error) => {
    pushError = err;
  });
  const check = (): void => {
    if (pushError !== null) throw pushError;
  };
  /** Readings every POLL_MS until `done` says stop or `deadline` (ms) passes; returns the last. */
  const pollUntil = async (done: (r: Reading) => boolean, deadline = Infinity): Promise<Reading> => {
    for (;;) {
      check();
      const r = reading(await prom.metrics());
      if (done(r) || r.atMs >= deadline) return r;
      await sleep(POLL_MS);
    }
  };
  try {
    log(`backfill took ${backfillS.toFixed(1)} s; ${BASE_TICKS} intervals without rules`);
    const a0 = await pollUntil(() => true);
    const a1 = await pollUntil((r) => r.atMs - a0.atMs >= BASE_TICKS * STEP_MS);
    prom.setRules(RULES);
    await prom.reload();
    log(`rule loaded; measuring ${RULE_TICKS} evaluations after the first`);
    // Readings right after an evaluation completes, so the interval holds whole evaluations.
    // On a machine too busy to evaluate every 15 s, the interval ends after 4× its time with
    // the evaluations completed by then.
    const first = await pollUntil((r) => r.completed >= 1);
    const b1 = await pollUntil((r) => r.completed > first.completed);
    const deadline = b1.atMs + 4 * RULE_TICKS * STEP_MS;
    const b2 = await pollUntil((r) => r.completed >= b1.completed + RULE_TICKS, deadline);
    if (!(b2.completed > b1.completed)) throw new Error('no rule evaluation completed in the measured interval');
    if (b2.completed < b1.completed + RULE_TICKS) log(`only ${b2.completed - b1.completed} evaluations completed in time`);
    const count = await prom.query(`count(${RECORD})`);
    const outSeries = count.length > 0 ? Number(count[0].value[1]) : 0;

    const baseS = (a1.atMs - a0.atMs) / 1000;
    const baseCpu = a1.cpuS - a0.cpuS;
    const ruleS = (b2.atMs - b1.atMs) / 1000;
    const ruleCpu = b2.cpuS - b1.cpuS;
    const evaluations = b2.completed - b1.completed;
    const seriesPerEval = b2.lastSamples > 0 ? b2.lastSamples : outSeries;
    if (seriesPerEval !== N) throw new Error(`the rule produced ${seriesPerEval} series, expected ${N}`);
    const seriesEvals = evaluations * seriesPerEval;
    const cpuRules = ruleCpu - (baseCpu / baseS) * ruleS;
    return {
      case: 'prometheus',
      series: N,
      rule_output_series: outSeries,
      evaluations,
      evaluations_missed: b2.missed - b1.missed,
      series_evaluations: seriesEvals,
      backfill_samples: N * BACKFILL,
      backfill_s: Math.round(backfillS * 10) / 10,
      baseline_interval_s: Math.round(baseS * 10) / 10,
      baseline_cpu_s: round(baseCpu, 3),
      rules_interval_s: Math.round(ruleS * 10) / 10,
      rules_interval_cpu_s: round(ruleCpu, 3),
      rules_cpu_s: round(cpuRules, 3),
      cpu_s_per_evaluation: round(cpuRules / evaluations, 3),
      cpu_s_per_1m_series_evals: round((cpuRules / seriesEvals) * 1e6, 4),
      rule_eval_wall_s_per_1m_series_evals: round(((b2.evalSumS - b1.evalSumS) / seriesEvals) * 1e6, 4),
    };
  } finally {
    pushing = false;
    await pusher;
    pushedSamples = next;
  }
}

/** Samples per series pushed to Prometheus (and scored by the engine). */
let pushedSamples = 0;

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Every pushed sample of every series through a fresh engine, in time order; CPU seconds. */
function foreshockPass(samples: number): { cpuS: number; opened: number } {
  const params = { ...paramsFromConfig(loadConfig().config.detector), window: BACKFILL };
  const engine = new DetectorEngine([params]);
  const slots = new Int32Array(N);
  for (let i = 0; i < N; i++) slots[i] = engine.allocSlot(0);
  let opened = 0;
  const c0 = process.cpuUsage();
  for (let j = 0; j < samples; j++) {
    const t = timeOf(j);
    const row = j * N;
    for (let i = 0; i < N; i++) if (engine.update(slots[i], t, M[row + i]) === EVENT_OPENED) opened++;
  }
  const c = process.cpuUsage(c0);
  return { cpuS: (c.user + c.system) / 1e6, opened };
}

try {
  const p = await runPrometheus();
  await prom.stop();
  const samples = pushedSamples;
  const updates = N * samples;
  const runs: number[] = [];
  let opened = 0;
  for (let k = 0; k < PASSES; k++) {
    const r = foreshockPass(samples);
    runs.push(r.cpuS);
    opened = r.opened;
  }
  const best = Math.min(...runs);
  const f = {
    case: 'foreshock',
    series: N,
    window: BACKFILL,
    samples_per_series: samples,
    series_evaluations: updates,
    cpu_s: round(best, 4),
    cpu_s_passes: runs.map((x) => round(x, 4)),
    cpu_s_per_1m_series_evals: round((best / updates) * 1e6, 4),
    anomalies_opened: opened,
  };
  emit(p);
  emit(f);
  emit({
    case: 'ratio',
    prometheus_over_foreshock_cpu: round((p.cpu_s_per_1m_series_evals as number) / f.cpu_s_per_1m_series_evals, 1),
    note: 'Prometheus rule CPU net of its ingest baseline vs Foreshock engine CPU, per series-evaluation; measured under shared load',
    machine,
  });
  clearTimeout(watchdog);
} catch (err) {
  log((err as Error).stack ?? String(err));
  clearTimeout(watchdog);
  await shutdown(1);
}
