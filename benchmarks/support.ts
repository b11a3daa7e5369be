// What several benchmarks share: their numeric command-line options and the deterministic
// noise their synthetic fleets carry.

/**
 * The number after `--name` on the command line, or `def` when the option is absent. Anything
 * but a finite number ≥ 0 there stops the benchmark with a message naming the option (exit 2).
 */
export function numberArg(name: string, def: number): number {
  const argv = process.argv;
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`--${name} needs a non-negative number, got ${JSON.stringify(argv[i + 1])}\n`);
    process.exit(2);
  }
  return v;
}

/** Deterministic noise in [-1, 1) for a series and a tick (an integer hash, no state). */
export function hashNoise(series: number, tick: number): number {
  let h = Math.imul(series + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(tick + 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) / 2 ** 31 - 1;
}
