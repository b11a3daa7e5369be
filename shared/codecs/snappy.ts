// Snappy block format (not the framed/stream format): Prometheus remote-write bodies arrive
// in it, and load generators and tests produce it. Decoding is bounds-checked throughout.

import { BadRequestError, PayloadTooLargeError } from '../errors/index.js';

function corrupt(reason: string): BadRequestError {
  return new BadRequestError('FS_SNAPPY', `snappy: ${reason}`);
}

/**
 * Length the block's preamble announces, without decompressing. Throws on a bad preamble.
 */
export function snappyUncompressedLength(src: Uint8Array): number {
  return readPreamble(src)[0];
}

function readPreamble(src: Uint8Array): [length: number, headerBytes: number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) throw corrupt(src.length === 0 ? 'empty input' : 'truncated length preamble');
    const b = src[i];
    if (i === 4 && b > 0x0f) throw corrupt('length preamble exceeds 32 bits');
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [result, i + 1];
    shift += 7;
  }
  throw corrupt('length preamble exceeds 32 bits');
}

/**
 * Most output one input byte can produce: a 3-byte copy emits at most 64 bytes. A preamble
 * announcing more than this allows for the block's size is a lie, refused before allocating.
 */
const MAX_EXPANSION = 64 / 3;

/**
 * Decompress one snappy block. The announced length is checked before any allocation: more
 * than the block could ever produce is corrupt (400, FS_SNAPPY), so the output is at most ~21x
 * the input; more than `maxOutput` is too large (413, FS_SNAPPY_TOO_LARGE). Returns a new array.
 */
export function snappyDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  const [length, header] = readPreamble(src);
  if (length > (src.length - header) * MAX_EXPANSION) {
    throw corrupt(`preamble announces ${length} bytes, more than ${src.length - header} bytes of block can hold`);
  }
  if (length > maxOutput) {
    throw new PayloadTooLargeError('FS_SNAPPY_TOO_LARGE', `snappy: uncompressed length ${length} exceeds the limit of ${maxOutput} bytes`);
  }
  const out = new Uint8Array(length);
  const end = src.length;
  let i = header;
  let o = 0;
  while (i < end) {
    const tag = src[i++];
    const type = tag & 3;
    if (type === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (i + extra > end) throw corrupt(`truncated literal length at byte ${i - 1}`);
        len = src[i];
        if (extra > 1) len |= src[i + 1] << 8;
        if (extra > 2) len |= src[i + 2] << 16;
        if (extra > 3) len = (len | (src[i + 3] << 24)) >>> 0;
        i += extra;
      }
      len += 1;
      if (len > end - i) throw corrupt(`literal of ${len} bytes at byte ${i} runs past the end of the input`);
      if (len > length - o) throw corrupt(`literal of ${len} bytes overflows the announced length ${length}`);
      if (len < 16) {
        for (let k = 0; k < len; k++) out[o + k] = src[i + k];
      } else {
        out.set(src.subarray(i, i + len), o);
      }
      i += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (type === 1) {
      if (i >= end) throw corrupt(`truncated copy at byte ${i - 1}`);
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag & 0xe0) << 3) | src[i++];
    } else if (type === 2) {
      if (i + 2 > end) throw corrupt(`truncated copy at byte ${i - 1}`);
      len = 1 + (tag >>> 2);
      offset = src[i] | (src[i + 1] << 8);
      i += 2;
    } else {
      if (i + 4 > end) throw corrupt(`truncated copy at byte ${i - 1}`);
      len = 1 + (tag >>> 2);
      offset = (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
      i += 4;
    }
    if (offset === 0 || offset > o) throw corrupt(`copy offset ${offset} at output byte ${o} points before the start of the output`);
    if (len > length - o) throw corrupt(`copy of ${len} bytes overflows the announced length ${length}`);
    let from = o - offset;
    if (offset >= len && len >= 16) {
      out.copyWithin(o, from, from + len);
      o += len;
    } else {
      // Overlapping copies repeat the last `offset` bytes: a forward byte loop does exactly that.
      const stop = o + len;
      while (o < stop) out[o++] = out[from++];
    }
  }
  if (o !== length) throw corrupt(`decompressed ${o} bytes, preamble announced ${length}`);
  return out;
}

const MAX_BLOCK = 65536;
const INPUT_MARGIN = 15;
const MIN_NON_LITERAL_BLOCK = 1 + 1 + INPUT_MARGIN;
const MAX_TABLE_BITS = 14;
// Reused across calls (compression is synchronous): no per-call table allocation.
const table = new Uint16Array(1 << MAX_TABLE_BITS);

/** Worst-case compressed size of `n` input bytes (as in the reference implementation). */
export function snappyMaxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/**
 * Compress `src` into one snappy block (the reference algorithm: 64 KiB blocks, a 4-byte
 * hash table, literal/copy emission as the C++ and Go encoders do). Any snappy decoder reads it.
 */
export function snappyCompress(src: Uint8Array): Uint8Array {
  const n = src.length;
  const dst = new Uint8Array(snappyMaxCompressedLength(n));
  let d = 0;
  let v = n;
  while (v >= 0x80) {
    dst[d++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  dst[d++] = v;
  for (let p = 0; p < n; p += MAX_BLOCK) {
    const blockEnd = Math.min(p + MAX_BLOCK, n);
    if (blockEnd - p < MIN_NON_LITERAL_BLOCK) d = emitLiteral(dst, d, src, p, blockEnd);
    else d = compressBlock(dst, d, src, p, blockEnd);
  }
  return dst.slice(0, d);
}

function load32(s: Uint8Array, i: number): number {
  return s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24);
}

function hash(u: number, shift: number): number {
  return Math.imul(u, 0x1e35a7bd) >>> shift;
}

function compressBlock(dst: Uint8Array, d: number, src: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let tableSize = 1 << 8;
  let shift = 32 - 8;
  while (tableSize < (1 << MAX_TABLE_BITS) && tableSize < len) {
    tableSize <<= 1;
    shift--;
  }
  table.fill(0, 0, tableSize);
  // Table entries are offsets from `start` (fit in 16 bits: blocks are at most 64 KiB).
  const sLimit = end - INPUT_MARGIN;
  let nextEmit = start;
  let s = start + 1;
  let nextHash = hash(load32(src, s), shift);
  outer: for (;;) {
    let skip = 32;
    let nextS = s;
    let candidate = 0;
    for (;;) {
      s = nextS;
      const step = skip >>> 5;
      nextS = s + step;
      skip += step;
      if (nextS > sLimit) break outer;
      candidate = start + table[nextHash];
      table[nextHash] = s - start;
      nextHash = hash(load32(src, nextS), shift);
      if (load32(src, s) === load32(src, candidate)) break;
    }
    d = emitLiteral(dst, d, src, nextEmit, s);
    for (;;) {
      const base = s;
      s += 4;
      let i = candidate + 4;
      while (s < end && src[i] === src[s]) {
        i++;
        s++;
      }
      d = emitCopy(dst, d, base - candidate, s - base);
      nextEmit = s;
      if (s >= sLimit) break outer;
      const prevHash = hash(load32(src, s - 1), shift);
      table[prevHash] = s - 1 - start;
      const cur = load32(src, s);
      const currHash = hash(cur, shift);
      candidate = start + table[currHash];
      table[currHash] = s - start;
      if (cur !== load32(src, candidate)) {
        nextHash = hash(load32(src, s + 1), shift);
        s++;
        break;
      }
    }
  }
  if (nextEmit < end) d = emitLiteral(dst, d, src, nextEmit, end);
  return d;
}

function emitLiteral(dst: Uint8Array, d: number, src: Uint8Array, from: number, to: number): number {
  const len = to - from;
  if (len === 0) return d;
  const n = len - 1;
  if (n < 60) {
    dst[d++] = n << 2;
  } else if (n < 0x100) {
    dst[d++] = 60 << 2;
    dst[d++] = n;
  } else {
    // Blocks are at most 64 KiB, so two length bytes always suffice.
    dst[d++] = 61 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = n >>> 8;
  }
  if (len < 16) {
    for (let k = 0; k < len; k++) dst[d + k] = src[from + k];
  } else {
    dst.set(src.subarray(from, to), d);
  }
  return d + len;
}

function emitCopy(dst: Uint8Array, d: number, offset: number, length: number): number {
  while (length >= 68) {
    dst[d++] = (63 << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 64;
  }
  if (length > 64) {
    dst[d++] = (59 << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) {
    dst[d++] = ((length - 1) << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    return d;
  }
  dst[d++] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1;
  dst[d++] = offset & 0xff;
  return d;
}
