// Detector engine throughput on one core: updates/s and ns/update at 10 k – 5 M series, next
// to a reference pass that only streams through the same state bytes in the same order (the
// memory-bound limit), in three visit orders:
//   sequential  slot order;
//   shuffled    a random permutation: a fully interleaved stream, every update a cache and
//               TLB miss (the worst case);
//   blocked     runs of BLOCK consecutive slots in random run order: a host's series arrive
//               together in one batch and were allocated together when first seen.
// One JSON object per line.
//
// The reference pass reads and writes exactly the fields a normal update of the default
// profile reads and writes (no arithmetic beyond keeping the loads live), at the same places:
//   reads   f64 last ts, ring anchor, ring sums (2), EWMA mean and variance, Holt level,
//           trend and residual variance; u32 sample count / ring position and state word;
//           f32 mean interval and the three likelihood averages; the day-type byte; the ring
//           value at the ring position; every seasonUpdateEvery-th sample of the series (by
//           its sample count, as the engine) the mean and variance of the seasonal bucket of
//           the sample's time of day and day type;
//   writes  the ring sums, EWMA mean and variance, Holt level, trend and residual variance,
//           last ts and last value (f64); mean interval, last d², last z², the likelihood
//           averages and the last score (f32); the sample count word; the ring value; the
//           bucket (on the same samples).
// That is 101 bytes read and 108 written per update (plus 8 + 8 on the bucket samples),
// which lie in the record's first two cache lines, one ring line and, on the bucket samples,
// one bucket line: the cache lines an update moves. Fields are written back with the values
// read, except the last ts (the round's), the last value (the sample's) and the explanation
// fields (last d², z², score: the short likelihood average), so the detector rounds that
// follow see valid state.
// ns are wall clock; cpu_ns_per_update (process CPU time) and the 1-minute load average are
// printed too, since on a shared machine wall time includes time the process was not running.
//
//   npm run bench:detector -- [--cases 10000,1000000,5000000] [--seconds 3] [--warm-rounds 64]
//
// Warm-up runs a full window (64 rounds by default) so the timed rounds see the steady state.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { DetectorEngine, recordLayout } from '../services/detector/engine/index.js';

const {
  B_DAYS_WEEKDAY, F_EW_MEAN, F_EW_VAR, F_H_LEVEL, F_H_TREND, F_LAST_TS, F_LAST_VALUE, F_REF, F_RES_VAR, F_S1, F_S2, RING_F32, S_DT_AVG,
  S_LAST_D2, S_LAST_SCORE, S_LAST_Z2, S_LK_MEAN, S_LK_SHORT, S_LK_VAR, W_NPOS, W_SMALL,
} = recordLayout;
const DAY_MS = 86_400_000;

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000,1000000,5000000' },
    seconds: { type: 'string', default: '3' },
    'warm-rounds': { type: 'string', default: '64' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: npm run bench:detector -- [--cases N,N,...] [--seconds S] [--warm-rounds R]\n');
  process.exit(0);
}
const CASES = args.cases.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
const SECONDS = Number(args.seconds);
const WARM_ROUNDS = Number(args['warm-rounds']);
for (const n of CASES) if (!Number.isInteger(n) || n < 1) throw new RangeError(`--cases: "${n}" is not a positive integer`);
if (!(SECONDS > 0)) throw new RangeError('--seconds must be > 0');
if (!Number.isInteger(WARM_ROUNDS) || WARM_ROUNDS < 0) throw new RangeError('--warm-rounds must be an integer ≥ 0');

const STEP_MS = 15_000;
const NOISE_BITS = 16;
const NOISE_MASK = (1 << NOISE_BITS) - 1;
const MACHINE = { node: process.version, cpu: os.cpus()[0]?.model.trim() ?? 'unknown', cores: os.cpus().length, arch: process.arch };

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian noise around 100 (σ 5), with 1 in 4096 entries a +60 spike so the state machine paths run. */
function makeNoise(): Float64Array {
  const r = rng(42);
  const out = new Float64Array(1 << NOISE_BITS);
  for (let i = 0; i < out.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    out[i] = 100 + 5 * g + ((i & 4095) === 7 ? 60 : 0);
  }
  return out;
}

const BLOCK = 256;

/** Runs of BLOCK consecutive indices, the runs in random order. */
function blocked(n: number): Int32Array {
  const runs = shuffled(Math.ceil(n / BLOCK));
  const a = new Int32Array(n);
  let k = 0;
  for (let r = 0; r < runs.length; r++) {
    const start = runs[r] * BLOCK;
    const end = Math.min(n, start + BLOCK);
    for (let i = start; i < end; i++) a[k++] = i;
  }
  return a;
}

function shuffled(n: number): Int32Array {
  const r = rng(7);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/** One round of updates: every series once, in `order`. Returns the number of events. */
function detectorRound(engine: DetectorEngine, slots: Int32Array, order: Int32Array, noise: Float64Array, tsMs: number, round: number): number {
  let events = 0;
  const shift = (round * 7919) & NOISE_MASK;
  for (let i = 0; i < order.length; i++) {
    const code = engine.update(slots[order[i]], tsMs, noise[(i + shift) & NOISE_MASK]);
    if (code !== 0) events++;
  }
  return events;
}

/**
 * The memory-bound limit: for every series in the same order, the loads and stores of a normal
 * update (see the header), with the values written back unchanged.
 */
function referenceRound(engine: DetectorEngine, slots: Int32Array, order: Int32Array, noise: Float64Array, tsMs: number, round: number): number {
  const t = engine.table;
  const shift = (round * 7919) & NOISE_MASK;
  // the seasonal bucket of this round's time of day and day type, as the engine finds it
  const q = engine.rows[0];
  const day = Math.floor(tsMs / DAY_MS);
  const dow = (((day + 4) % 7) + 7) % 7;
  const type = q.seasonWeekly && (dow === 0 || dow === 6) ? 1 : 0;
  const bucket = Math.min(q.seasonBuckets - 1, ((tsMs - day * DAY_MS) * q.bucketPerMs) | 0);
  const seasonal = q.seasonal;
  const seasonMask = q.seasonMask;
  const bucketF32 = t.seasonF32 + 2 * (type * q.seasonBuckets + bucket);
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    const slot = slots[order[i]];
    const chunk = t.chunks[slot >>> t.chunkShift];
    const f64 = chunk.f64;
    const f32 = chunk.f32;
    const u32 = chunk.u32;
    const b = (slot & t.chunkMask) * t.strideF64;
    const b4 = b * 2;
    const x = noise[(i + shift) & NOISE_MASK];
    // reads
    const npos = u32[b4 + W_NPOS];
    const small = u32[b4 + W_SMALL];
    const ref = f64[b + F_REF];
    const s1 = f64[b + F_S1];
    const s2 = f64[b + F_S2];
    const mE = f64[b + F_EW_MEAN];
    const vE = f64[b + F_EW_VAR];
    const level = f64[b + F_H_LEVEL];
    const trend = f64[b + F_H_TREND];
    const vR = f64[b + F_RES_VAR];
    const dtAvg = f32[b4 + S_DT_AVG];
    const sh = f32[b4 + S_LK_SHORT];
    const lm = f32[b4 + S_LK_MEAN];
    const lv = f32[b4 + S_LK_VAR];
    const days = chunk.u8[b * 8 + B_DAYS_WEEKDAY + type];
    const ri = b4 + RING_F32 + (npos >>> 16);
    const old = f32[ri];
    acc += f64[b + F_LAST_TS] + ref + small + days;
    // writes (the values read; the last ts is the round's, the last value the sample's)
    f32[ri] = old;
    f64[b + F_S1] = s1;
    f64[b + F_S2] = s2;
    u32[b4 + W_NPOS] = npos;
    f64[b + F_EW_VAR] = vE;
    f64[b + F_EW_MEAN] = mE;
    if (seasonal && ((npos & 0xffff) & seasonMask) === 0) {
      const si = b4 + bucketF32;
      const mu = f32[si];
      const vS = f32[si + 1];
      f32[si] = mu;
      f32[si + 1] = vS;
    }
    f64[b + F_RES_VAR] = vR;
    f64[b + F_H_LEVEL] = level;
    f64[b + F_H_TREND] = trend;
    f32[b4 + S_DT_AVG] = dtAvg;
    f64[b + F_LAST_TS] = tsMs;
    f64[b + F_LAST_VALUE] = x;
    f32[b4 + S_LAST_D2] = sh;
    f32[b4 + S_LAST_Z2] = sh;
    f32[b4 + S_LK_SHORT] = sh;
    f32[b4 + S_LK_MEAN] = lm;
    f32[b4 + S_LK_VAR] = lv;
    f32[b4 + S_LAST_SCORE] = sh;
  }
  return acc;
}

interface Timing {
  updates: number;
  seconds: number;
  /** Process CPU time (user + system) of the timed rounds. */
  cpuSeconds: number;
  events: number;
}

function measure(
  fn: typeof detectorRound, engine: DetectorEngine, slots: Int32Array, order: Int32Array, noise: Float64Array,
  clock: { ts: number; round: number },
): Timing {
  let updates = 0;
  let events = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    clock.ts += STEP_MS;
    events += fn(engine, slots, order, noise, clock.ts, clock.round++);
    updates += order.length;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < SECONDS);
  const cpu = process.cpuUsage(c0);
  return { updates, seconds: elapsed, cpuSeconds: (cpu.user + cpu.system) / 1e6, events };
}

function runCase(series: number, noise: Float64Array): void {
  const engine = new DetectorEngine();
  const slots = new Int32Array(series);
  for (let i = 0; i < series; i++) slots[i] = engine.allocSlot(0);
  const sequential = new Int32Array(series);
  for (let i = 0; i < series; i++) sequential[i] = i;
  const shuffledOrder = shuffled(series);
  const blockedOrder = blocked(series);
  const clock = { ts: Date.UTC(2025, 0, 1), round: 0 };
  const w0 = process.hrtime.bigint();
  for (let r = 0; r < WARM_ROUNDS; r++) {
    clock.ts += STEP_MS;
    detectorRound(engine, slots, sequential, noise, clock.ts, clock.round++);
  }
  const warmS = Number(process.hrtime.bigint() - w0) / 1e9;
  const orders = [['sequential', sequential], ['shuffled', shuffledOrder], ['blocked', blockedOrder]] as const;
  for (const [order, visit] of orders) {
    // One untimed round of each so both run optimised code on a warm cache/TLB state.
    clock.ts += STEP_MS;
    referenceRound(engine, slots, visit, noise, clock.ts, clock.round++);
    clock.ts += STEP_MS;
    detectorRound(engine, slots, visit, noise, clock.ts, clock.round++);
    const det = measure(detectorRound, engine, slots, visit, noise, clock);
    const ref = measure(referenceRound, engine, slots, visit, noise, clock);
    const detRate = det.updates / det.seconds;
    const refRate = ref.updates / ref.seconds;
    const mem = process.memoryUsage();
    process.stdout.write(
      JSON.stringify({
        case: 'detector',
        series,
        order,
        updates_per_s: Math.round(detRate),
        ns_per_update: round2(1e9 / detRate),
        bytes_per_series: engine.bytesPerSeries,
        reference_updates_per_s: Math.round(refRate),
        reference_ns_per_update: round2(1e9 / refRate),
        ratio_vs_reference: round2(refRate / detRate),
        cpu_ns_per_update: round2((1e9 * det.cpuSeconds) / det.updates),
        reference_cpu_ns_per_update: round2((1e9 * ref.cpuSeconds) / ref.updates),
        load_avg_1m: round2(os.loadavg()[0]),
        updates: det.updates,
        events: det.events,
        warmup_rounds: WARM_ROUNDS,
        warmup_s: round2(warmS),
        state_bytes: engine.table.allocatedBytes,
        rss_bytes: mem.rss,
        ...MACHINE,
      }) + '\n',
    );
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

const noise = makeNoise();
for (const n of CASES) {
  runCase(n, noise);
  (globalThis as { gc?: () => void }).gc?.();
}
