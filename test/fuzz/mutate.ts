// Seeded randomness and input mutations for the decoder fuzz suite: every case is a seed
// input run through a few mutations chosen by a PRNG, so one printed seed replays a run.

/** sfc32: small, fast, good enough for fuzzing, and identical on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** Derives an independent seed per decoder, so running one decoder alone replays its cases. */
export function subSeed(seed: number, name: string): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Protobuf-style varint of an unsigned value up to 2^64 (as a bigint), `pad` extra 0x80 bytes allowed. */
export function varint(v: bigint): Uint8Array {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

const HUGE = [2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 35n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 256n * 1024n * 1024n, 4n * 1024n ** 3n];
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x12, 0x0b, 0x2b, 0x0c, 0x22, 0x09, 0x10];

export type Mutator = (rng: Rng, input: Uint8Array, other: Uint8Array) => Uint8Array;

function range(rng: Rng, n: number): [number, number] {
  const a = rng.int(n + 1);
  const b = a + rng.int(Math.min(n - a, 64) + 1);
  return [a, b];
}

/** Generic byte-level mutations; each returns a new array (inputs are shared corpus entries). */
export const BYTE_MUTATORS: Record<string, Mutator> = {
  bitFlip(rng, input) {
    const out = input.slice();
    if (out.length === 0) return out;
    for (let k = 1 + rng.int(8); k > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  interestingByte(rng, input) {
    const out = input.slice();
    if (out.length === 0) return Uint8Array.of(rng.pick(INTERESTING));
    for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(out.length)] = rng.chance(0.7) ? rng.pick(INTERESTING) : rng.int(256);
    return out;
  },
  truncate(rng, input) {
    return input.slice(0, rng.int(input.length + 1));
  },
  dropHead(rng, input) {
    return input.slice(rng.int(Math.min(input.length, 16) + 1));
  },
  deleteChunk(rng, input) {
    const [a, b] = range(rng, input.length);
    return concat(input.subarray(0, a), input.subarray(b));
  },
  duplicateChunk(rng, input) {
    const [a, b] = range(rng, input.length);
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), input.subarray(a, b), input.subarray(at));
  },
  insertRandom(rng, input) {
    const n = 1 + rng.int(32);
    const junk = new Uint8Array(n);
    for (let i = 0; i < n; i++) junk[i] = rng.int(256);
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), junk, input.subarray(at));
  },
  splice(rng, input, other) {
    return concat(input.subarray(0, rng.int(input.length + 1)), other.subarray(rng.int(other.length + 1)));
  },
  hugeVarint(rng, input) {
    // Overwrite (or insert) a varint that claims a huge length or value.
    const v = varint(rng.pick(HUGE));
    const at = rng.int(input.length + 1);
    const skip = rng.chance(0.5) ? Math.min(v.length, input.length - at) : 0;
    return concat(input.subarray(0, at), v, input.subarray(at + skip));
  },
  overlongVarint(rng, input) {
    // 11+ continuation bytes: longer than any valid varint.
    const n = 10 + rng.int(20);
    const v = new Uint8Array(n).fill(0xff);
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), v, input.subarray(at));
  },
  inflateU32(rng, input) {
    // Length fields stored as fixed 32-bit integers (either byte order).
    const out = input.slice();
    if (out.length < 4) return out;
    const at = rng.int(out.length - 3);
    const v = rng.pick([0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0x00ffffff]);
    if (rng.chance(0.5)) new DataView(out.buffer).setUint32(at, v, true);
    else new DataView(out.buffer).setUint32(at, v, false);
    return out;
  },
  repeat(rng, input) {
    const k = 2 + rng.int(6);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < k; i++) parts.push(input);
    return concat(...parts);
  },
};

const TEXT_TOKENS = ['\\', '"', ',', '=', ' ', '\n', '\r\n', '\r', '#', '\t', 'i', 'u', 'e', 'E', '-', '+', '.', '0', '9', '\\\n', '\\"', '\u0000', '\u00e9', '\ud83d\ude00', '\ufffd', 'true', 'NaN', 'Inf', '99999999999999999999', ':', '- ', '[', ']', '{', '}', '&a', '*a', '!!', '|', '>', "'", '%', '@', '`'];

/** Text-aware mutations for line protocol, CSV and YAML (applied on the UTF-8 bytes). */
export const TEXT_MUTATORS: Record<string, Mutator> = {
  insertToken(rng, input) {
    const tok = new TextEncoder().encode(rng.pick(TEXT_TOKENS));
    const at = rng.int(input.length + 1);
    return concat(input.subarray(0, at), tok, input.subarray(at));
  },
  replaceByte(rng, input) {
    const out = input.slice();
    if (out.length === 0) return out;
    const tok = rng.pick(TEXT_TOKENS);
    for (let k = 1 + rng.int(3); k > 0; k--) out[rng.int(out.length)] = tok.charCodeAt(0) & 0xff;
    return out;
  },
  duplicateLine(rng, input) {
    const text = new TextDecoder().decode(input);
    const lines = text.split('\n');
    const i = rng.int(lines.length);
    lines.splice(i, 0, ...new Array<string>(1 + rng.int(4)).fill(lines[i]));
    return new TextEncoder().encode(lines.join('\n'));
  },
  swapLines(rng, input, other) {
    const a = new TextDecoder().decode(input).split('\n');
    const b = new TextDecoder().decode(other).split('\n');
    a[rng.int(a.length)] = b[rng.int(b.length)];
    return new TextEncoder().encode(a.join('\n'));
  },
};

/**
 * Applies 1..4 mutations picked from `mutators`; returns the input and the names applied
 * (printed with a failure).
 */
export function mutate(rng: Rng, corpus: readonly Uint8Array[], mutators: Record<string, Mutator>, maxLen: number): { input: Uint8Array; ops: string[] } {
  const names = Object.keys(mutators);
  let input = rng.pick(corpus);
  const ops: string[] = [];
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const name = rng.pick(names);
    input = mutators[name](rng, input, rng.pick(corpus));
    ops.push(name);
    if (input.length > maxLen) input = input.subarray(0, maxLen);
  }
  return { input, ops };
}
