// LZ4 frame format (lz4 -B…, LZ4F): how Kafka compresses record batches with
// compression.type=lz4, and so how Telegraf's Kafka output sends them. Decoding is
// bounds-checked and verifies every checksum the frame carries; encoding writes independent
// blocks of up to 64 KiB with a content checksum, compressed by a greedy hash-chain-free matcher.

import { BadRequestError, PayloadTooLargeError } from '../errors/index.js';
import { xxhash32 } from './xxhash32.js';

const MAGIC = 0x184d2204;
const SKIPPABLE_MIN = 0x184d2a50;
const SKIPPABLE_MAX = 0x184d2a5f;
const BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
const MIN_MATCH = 4;
const ENCODE_BLOCK = 64 * 1024;

function corrupt(reason: string): BadRequestError {
  return new BadRequestError('FS_LZ4', `lz4: ${reason}`);
}

function read32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function write32(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff;
  b[i + 1] = (v >>> 8) & 0xff;
  b[i + 2] = (v >>> 16) & 0xff;
  b[i + 3] = (v >>> 24) & 0xff;
}

/** Growable output buffer with a hard size limit. */
class Output {
  buf: Uint8Array;
  len = 0;
  constructor(initial: number, private readonly max: number) {
    this.buf = new Uint8Array(Math.max(64, Math.min(initial, max)));
  }
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need > this.max) throw new PayloadTooLargeError('FS_LZ4_TOO_LARGE', `lz4: content exceeds ${this.max} bytes`);
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.min(this.max, Math.max(need, this.buf.length * 2)));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/**
 * Decodes one LZ4 block from `src[start, end)` onto `out`; matches may reach back into what
 * `out` already holds (linked blocks).
 */
function decodeBlock(src: Uint8Array, start: number, end: number, out: Output): void {
  let i = start;
  for (;;) {
    if (i >= end) throw corrupt('block ends inside a sequence');
    const token = src[i++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (i >= end) throw corrupt('truncated literal length');
        b = src[i++];
        lit += b;
      } while (b === 255);
    }
    if (i + lit > end) throw corrupt('literals run past the block');
    out.ensure(lit);
    out.buf.set(src.subarray(i, i + lit), out.len);
    out.len += lit;
    i += lit;
    if (i === end) return; // the last sequence has literals only
    if (i + 2 > end) throw corrupt('truncated match offset');
    const offset = src[i] | (src[i + 1] << 8);
    i += 2;
    if (offset === 0 || offset > out.len) throw corrupt(`match offset ${offset} outside the output`);
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (i >= end) throw corrupt('truncated match length');
        b = src[i++];
        ml += b;
      } while (b === 255);
    }
    ml += MIN_MATCH;
    out.ensure(ml);
    const buf = out.buf;
    let from = out.len - offset;
    let to = out.len;
    if (offset >= ml) {
      buf.copyWithin(to, from, from + ml);
    } else {
      // Overlapping copy repeats the last `offset` bytes.
      for (const stop = to + ml; to < stop; ) buf[to++] = buf[from++];
    }
    out.len += ml;
  }
}

/**
 * Decompresses one or more concatenated LZ4 frames (skippable frames are skipped).
 * Throws BadRequestError FS_LZ4 on malformed input or a checksum mismatch, and
 * PayloadTooLargeError when the content would exceed `maxOutput` bytes.
 */
export function lz4FrameDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  const out = new Output(src.length * 3, maxOutput);
  let i = 0;
  if (src.length === 0) throw corrupt('empty input');
  while (i < src.length) {
    if (i + 4 > src.length) throw corrupt('truncated frame magic');
    const magic = read32(src, i);
    if (magic >= SKIPPABLE_MIN && magic <= SKIPPABLE_MAX) {
      if (i + 8 > src.length) throw corrupt('truncated skippable frame');
      i += 8 + read32(src, i + 4);
      if (i > src.length) throw corrupt('skippable frame runs past the input');
      continue;
    }
    if (magic !== MAGIC) throw corrupt(`bad frame magic 0x${magic.toString(16)}`);
    i += 4;
    if (i + 3 > src.length) throw corrupt('truncated frame descriptor');
    const descStart = i;
    const flg = src[i++];
    const bd = src[i++];
    if (flg >>> 6 !== 1) throw corrupt(`unsupported frame version ${flg >>> 6}`);
    if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw corrupt('reserved descriptor bits set');
    const blockChecksum = (flg & 0x10) !== 0;
    const hasSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDict = (flg & 0x01) !== 0;
    const blockMax = BLOCK_MAX[(bd >>> 4) & 7];
    if (blockMax === 0) throw corrupt(`bad block size code ${(bd >>> 4) & 7}`);
    let contentSize = -1;
    if (hasSize) {
      if (i + 8 > src.length) throw corrupt('truncated content size');
      contentSize = read32(src, i) + read32(src, i + 4) * 2 ** 32;
      i += 8;
    }
    if (hasDict) throw corrupt('frames with a dictionary id are not supported');
    if (i >= src.length) throw corrupt('truncated header checksum');
    const hc = (xxhash32(src, 0, descStart, i) >>> 8) & 0xff;
    if (hc !== src[i]) throw corrupt('frame header checksum mismatch');
    i++;
    const frameStart = out.len;
    for (;;) {
      if (i + 4 > src.length) throw corrupt('truncated block size');
      const word = read32(src, i);
      i += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      const stored = (word & 0x80000000) !== 0;
      if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's ${blockMax}`);
      if (i + size + (blockChecksum ? 4 : 0) > src.length) throw corrupt('block runs past the input');
      if (blockChecksum && xxhash32(src, 0, i, i + size) !== read32(src, i + size)) throw corrupt('block checksum mismatch');
      if (stored) {
        out.ensure(size);
        out.buf.set(src.subarray(i, i + size), out.len);
        out.len += size;
      } else {
        decodeBlock(src, i, i + size, out);
      }
      i += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) {
      if (i + 4 > src.length) throw corrupt('truncated content checksum');
      if (xxhash32(out.buf, 0, frameStart, out.len) !== read32(src, i)) throw corrupt('content checksum mismatch');
      i += 4;
    }
    if (contentSize >= 0 && out.len - frameStart !== contentSize) {
      throw corrupt(`frame announced ${contentSize} bytes but held ${out.len - frameStart}`);
    }
  }
  return out.buf.subarray(0, out.len);
}

const HASH_BITS = 14;
const hashTable = new Int32Array(1 << HASH_BITS);

/** Compresses `src[start, end)` as one LZ4 block into `dst` at `at`; returns the bytes written. */
function encodeBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  const table = hashTable;
  table.fill(-1);
  let o = at;
  let anchor = start;
  let ip = start;
  const matchLimit = end - 5; // the last 5 bytes are always literals
  const mfLimit = end - 12; // no match starts in the last 12 bytes
  while (ip < mfLimit) {
    const seq = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24);
    const h = Math.imul(seq, 2654435761) >>> (32 - HASH_BITS);
    const ref = table[h];
    table[h] = ip;
    if (ref < start || ip - ref > 65535 || (src[ref] | (src[ref + 1] << 8) | (src[ref + 2] << 16) | (src[ref + 3] << 24)) !== seq) {
      ip++;
      continue;
    }
    let ml = MIN_MATCH;
    while (ip + ml < matchLimit && src[ref + ml] === src[ip + ml]) ml++;
    o = writeSequence(src, anchor, ip - anchor, ip - ref, ml, dst, o);
    ip += ml;
    anchor = ip;
  }
  return writeSequence(src, anchor, end - anchor, 0, 0, dst, o) - at;
}

function writeSequence(src: Uint8Array, litStart: number, lit: number, offset: number, ml: number, dst: Uint8Array, o: number): number {
  const tokenAt = o++;
  let token = (lit >= 15 ? 15 : lit) << 4;
  if (lit >= 15) {
    let r = lit - 15;
    for (; r >= 255; r -= 255) dst[o++] = 255;
    dst[o++] = r;
  }
  dst.set(src.subarray(litStart, litStart + lit), o);
  o += lit;
  if (ml > 0) {
    dst[o++] = offset & 0xff;
    dst[o++] = offset >>> 8;
    const m = ml - MIN_MATCH;
    token |= m >= 15 ? 15 : m;
    if (m >= 15) {
      let r = m - 15;
      for (; r >= 255; r -= 255) dst[o++] = 255;
      dst[o++] = r;
    }
  }
  dst[tokenAt] = token;
  return o;
}

/** Compresses `src` as one LZ4 frame: independent 64 KiB blocks, content size and checksum. */
export function lz4FrameCompress(src: Uint8Array): Uint8Array {
  const blocks = Math.ceil(src.length / ENCODE_BLOCK);
  const dst = new Uint8Array(4 + 2 + 8 + 1 + blocks * (4 + ENCODE_BLOCK + ENCODE_BLOCK / 255 + 16) + 4 + 4);
  write32(dst, 0, MAGIC);
  dst[4] = 0x40 | 0x20 | 0x08 | 0x04; // version 01, independent blocks, content size, content checksum
  dst[5] = 4 << 4; // 64 KiB blocks
  write32(dst, 6, src.length >>> 0);
  write32(dst, 10, Math.floor(src.length / 2 ** 32));
  dst[14] = (xxhash32(dst, 0, 4, 14) >>> 8) & 0xff;
  let o = 15;
  for (let s = 0; s < src.length; s += ENCODE_BLOCK) {
    const e = Math.min(src.length, s + ENCODE_BLOCK);
    const n = encodeBlock(src, s, e, dst, o + 4);
    if (n >= e - s) {
      // Incompressible: store it as it is.
      write32(dst, o, ((e - s) | 0x80000000) >>> 0);
      dst.set(src.subarray(s, e), o + 4);
      o += 4 + (e - s);
    } else {
      write32(dst, o, n);
      o += 4 + n;
    }
  }
  write32(dst, o, 0);
  write32(dst, o + 4, xxhash32(src));
  return dst.subarray(0, o + 8);
}
