// The fuzz loop: runs a decoder on adversarial and mutated inputs and checks the three
// properties every decoder owes hostile input: only coded errors, bounded time, and memory
// bounded by the input's size.

import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { ForeshockError } from '../../shared/errors/index.js';
import { mutate, Rng, subSeed, type Mutator } from './mutate.js';

export interface FuzzTarget {
  name: string;
  /** Decodes one input; what it returns stays alive until memory has been measured. */
  run(input: Uint8Array): unknown;
  /** Valid inputs the mutations start from. */
  corpus: readonly Uint8Array[];
  mutators: Record<string, Mutator>;
  /** Hand-made hostile inputs, run once before the mutated ones. */
  adversarial?: readonly { name: string; input: Uint8Array }[];
  /** Mutated cases to run. */
  cases: number;
  /** Mutated inputs are cut to this many bytes. */
  maxLen?: number;
  /** HTTP statuses a rejection may carry (default 400 and 413). */
  statuses?: readonly number[];
  /** Heap + ArrayBuffer growth allowed per input byte (JS objects for 2-byte fields cost ~50). */
  bytesPerInputByte?: number;
  /**
   * Decompressors: size of an accepted result. Time and memory may then also grow with the
   * output (1 µs and `bytesPerOutputByte` per byte), which the output limit bounds.
   */
  outputBytes?(result: unknown): number;
  bytesPerOutputByte?: number;
  /** Extra property of an accepted input's result; returns a complaint or null. */
  check?(result: unknown, input: Uint8Array): string | null;
}

export interface FuzzFailure {
  case: number;
  ops: string[];
  reason: string;
  /** Where the failing input was saved. */
  file: string;
}

export interface FuzzReport {
  name: string;
  seed: number;
  cases: number;
  accepted: number;
  rejected: Record<string, number>;
  maxMs: number;
  maxGrowthBytes: number;
  failures: FuzzFailure[];
}

/** Constant part of the allowed growth: string caches, lazily compiled code, GC timing. */
const MEMORY_SLACK = 16 * 1024 * 1024;
/** Time allowed per case: generous for a shared CI core, far below what a quadratic loop on the big adversarial inputs takes. */
function timeBudgetMs(bytes: number, outputBytes = 0): number {
  return 400 + (bytes + outputBytes) / 1000;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.slice(0, 300)}`;
  return `non-Error thrown: ${String(err).slice(0, 300)}`;
}

function save(name: string, seed: number, i: number, input: Uint8Array): string {
  const dir = join(tmpdir(), 'foreshock-fuzz');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name.replace(/[^a-z0-9-]+/gi, '_')}-seed${seed}-case${i}.bin`);
  writeFileSync(file, input);
  return file;
}

export function runFuzz(target: FuzzTarget, seed: number): FuzzReport {
  const rng = new Rng(subSeed(seed, target.name));
  const statuses = target.statuses ?? [400, 413];
  const perByte = target.bytesPerInputByte ?? 160;
  const report: FuzzReport = { name: target.name, seed, cases: 0, accepted: 0, rejected: {}, maxMs: 0, maxGrowthBytes: 0, failures: [] };
  const adversarial = target.adversarial ?? [];
  const total = adversarial.length + target.cases;
  for (let i = 0; i < total; i++) {
    let input: Uint8Array;
    let ops: string[];
    if (i < adversarial.length) {
      input = adversarial[i].input;
      ops = [`adversarial:${adversarial[i].name}`];
    } else {
      ({ input, ops } = mutate(rng, target.corpus, target.mutators, target.maxLen ?? 1 << 20));
    }
    const h0 = getHeapStatistics();
    const t0 = performance.now();
    let result: unknown;
    let error: unknown = null;
    let threw = false;
    try {
      result = target.run(input);
    } catch (err) {
      threw = true;
      error = err;
    }
    const ms = performance.now() - t0;
    const h1 = getHeapStatistics();
    const growth = h1.used_heap_size - h0.used_heap_size + (h1.external_memory - h0.external_memory);
    report.cases++;
    if (ms > report.maxMs) report.maxMs = ms;
    if (growth > report.maxGrowthBytes) report.maxGrowthBytes = growth;

    const complaints: string[] = [];
    const out = !threw && target.outputBytes ? target.outputBytes(result) : 0;
    if (threw) {
      const ok = error instanceof ForeshockError && /^FS_[A-Z0-9_]+$/.test(error.code) && statuses.includes(error.status);
      if (ok) {
        const code = (error as ForeshockError).code;
        report.rejected[code] = (report.rejected[code] ?? 0) + 1;
      } else {
        complaints.push(`threw something other than a coded ${statuses.join('/')} error: ${describeError(error)}`);
      }
    } else {
      report.accepted++;
      const c = target.check?.(result, input) ?? null;
      if (c !== null) complaints.push(c);
    }
    const budget = timeBudgetMs(input.length, out);
    if (ms > budget) complaints.push(`took ${ms.toFixed(0)} ms on ${input.length} bytes${out > 0 ? ` (${out} out)` : ''} (budget ${budget.toFixed(0)} ms)`);
    const allowed = perByte * input.length + (target.bytesPerOutputByte ?? 0) * out + MEMORY_SLACK;
    if (growth > allowed) complaints.push(`heap + buffers grew by ${growth} bytes on ${input.length} input bytes (bound ${allowed})`);
    result = undefined;
    if (complaints.length > 0) {
      report.failures.push({ case: i, ops, reason: complaints.join('; '), file: save(target.name, seed, i, input) });
      if (report.failures.length >= 20) break;
    }
  }
  return report;
}

/** Seed of this run: FORESHOCK_FUZZ_SEED to replay one, otherwise a fresh one (printed). */
export function fuzzSeed(env: Record<string, string | undefined> = process.env): number {
  const fixed = env.FORESHOCK_FUZZ_SEED;
  if (fixed !== undefined && fixed !== '') {
    const n = Number(fixed);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FORESHOCK_FUZZ_SEED must be an integer in [0, 2^32), got ${fixed}`);
    return n;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** Total mutated cases: FORESHOCK_FUZZ_CASES, default `def`. */
export function fuzzCases(def: number, env: Record<string, string | undefined> = process.env): number {
  const v = env.FORESHOCK_FUZZ_CASES;
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FORESHOCK_FUZZ_CASES must be a positive integer, got ${v}`);
  return n;
}
