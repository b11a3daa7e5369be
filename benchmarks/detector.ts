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
//   npm run bench:detector -- [--cases 10000,1000000,5000000] [--seconds 3] [--warm-rounds 64]
//
// Warm-up runs a full window (64 rounds by default) so the timed rounds see the steady state.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { DetectorEngine, recordLayout } from '../services/detector/engine/index.js';

const { RING_F32, W_NPOS } = recordLayout;
/** The scalars a normal sample touches: the record's first two cache lines. */
const SCALAR_F64 = 16;

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
 * The memory-bound limit: for every series in the same order, read the 128 bytes of scalars a
 * normal sample uses and its current ring value, and (seasonal profiles, every fourth round)
 * its bucket, and write both cache lines of scalars, the ring value and the bucket back — the bytes an update touches, with no arithmetic. State is left as the detector
 * needs it (the timestamp written is the round's).
 */
function referenceRound(engine: DetectorEngine, slots: Int32Array, order: Int32Array, noise: Float64Array, tsMs: number, round: number): number {
  const t = engine.table;
  const shift = (round * 7919) & NOISE_MASK;
  const seasonCap = t.seasonCap;
  const seasonF32 = t.seasonF32;
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    const slot = slots[order[i]];
    const chunk = t.chunks[slot >>> t.chunkShift];
    const f64 = chunk.f64;
    const f32 = chunk.f32;
    const b = (slot & t.chunkMask) * t.strideF64;
    let s = noise[(i + shift) & NOISE_MASK];
    for (let k = 1; k < SCALAR_F64; k++) s += f64[b + k];
    const ri = b * 2 + RING_F32 + (chunk.u32[b * 2 + W_NPOS] >>> 16);
    const r = f32[ri];
    f32[ri] = r;
    f64[b] = tsMs; // first cache line of scalars
    f64[b + 12] = f64[b + 12]; // second line (a double field: round-trips exactly)
    if (seasonCap > 0 && (round & 3) === 0) {
      // the seasonal bucket of this sample's time of day: one more line, read and written on
      // every fourth sample (as the engine updates it)
      const si = b * 2 + seasonF32 + 2 * (((tsMs / 3_600_000) | 0) % seasonCap);
      f32[si] = f32[si] + 0;
    }
    acc += s + r;
  }
  return acc;
}

interface Timing {
  updates: number;
  seconds: number;
  events: number;
}

function measure(
  fn: typeof detectorRound, engine: DetectorEngine, slots: Int32Array, order: Int32Array, noise: Float64Array,
  clock: { ts: number; round: number },
): Timing {
  let updates = 0;
  let events = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    clock.ts += STEP_MS;
    events += fn(engine, slots, order, noise, clock.ts, clock.round++);
    updates += order.length;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < SECONDS);
  return { updates, seconds: elapsed, events };
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
