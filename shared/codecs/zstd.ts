// Zstandard frames as Kafka carries them (compression.type=zstd, e.g. from Telegraf's Kafka
// output). Decoding uses fzstd (pure JS, streaming, so the size limit holds before memory is
// spent); encoding writes valid frames of raw blocks, enough for tests and interop: Foreshock
// never chooses zstd for what it produces.

import { Decompress } from 'fzstd';
import { BadRequestError, PayloadTooLargeError } from '../errors/index.js';

const MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;

class TooLarge extends Error {}

/**
 * Decompresses one or more concatenated zstd frames (skippable frames too). Throws
 * BadRequestError FS_ZSTD on malformed input and PayloadTooLargeError beyond `maxOutput` bytes.
 */
export function zstdDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  if (src.length === 0) throw new BadRequestError('FS_ZSTD', 'zstd: empty input');
  checkWindows(src);
  const parts: Uint8Array[] = [];
  let total = 0;
  const d = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxOutput) throw new TooLarge();
    parts.push(chunk);
  });
  try {
    d.push(src, true);
  } catch (err) {
    if (err instanceof TooLarge) throw new PayloadTooLargeError('FS_ZSTD_TOO_LARGE', `zstd: content exceeds ${maxOutput} bytes`);
    throw new BadRequestError('FS_ZSTD', `zstd: ${(err as Error).message}`, { cause: err });
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Largest window (history buffer) accepted: 8 MiB is what the zstd format asks every decoder
 * to support, and what Kafka producers' levels use. fzstd allocates the window a frame header
 * announces before reading a block, so a 10-byte frame could otherwise cost 2 GiB.
 */
const MAX_WINDOW = 8 * 1024 * 1024;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/**
 * Walks the frame and block headers (no decoding) and refuses a frame whose window, or whose
 * single-segment content size, is above MAX_WINDOW (the output limit is checked while
 * decoding). Malformed structure is left for the decoder to report.
 */
function checkWindows(src: Uint8Array): void {
  const limit = MAX_WINDOW;
  const n = src.length;
  const u32 = (i: number) => (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
  let i = 0;
  while (i + 5 <= n) {
    const magic = u32(i);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (i + 8 > n) return;
      i += 8 + u32(i + 4);
      continue;
    }
    if (magic !== MAGIC) return;
    const fhd = src[i + 4];
    const fcsFlag = fhd >>> 6;
    const single = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    const dictBytes = [0, 1, 2, 4][fhd & 3];
    let p = i + 5;
    let window = 0;
    if (!single) {
      if (p >= n) return;
      const wd = src[p++];
      const base = 2 ** (10 + (wd >>> 3));
      window = base + (base / 8) * (wd & 7);
    }
    p += dictBytes;
    const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag;
    if (p + fcsBytes > n) return;
    if (single) {
      let fcs = 0;
      for (let k = fcsBytes - 1; k >= 0; k--) fcs = fcs * 256 + src[p + k];
      window = fcsBytes === 2 ? fcs + 256 : fcs;
    }
    if (window > limit) {
      throw new PayloadTooLargeError('FS_ZSTD_TOO_LARGE', `zstd: frame at byte ${i} needs a ${window}-byte window, more than the ${limit} bytes accepted`);
    }
    p += fcsBytes;
    for (;;) {
      if (p + 3 > n) return;
      const bh = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16);
      const type = (bh >>> 1) & 3;
      p += 3 + (type === 1 ? 1 : bh >>> 3);
      if ((bh & 1) !== 0) break;
    }
    i = p + (checksum ? 4 : 0);
  }
}

/** One zstd frame holding `src` in raw blocks, with the content size in the header. */
export function zstdCompressStored(src: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(src.length / MAX_BLOCK));
  const out = new Uint8Array(4 + 1 + 8 + blocks * 3 + src.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = 0xe0; // 8-byte content size, single segment, no checksum, no dictionary
  view.setUint32(5, src.length >>> 0, true);
  view.setUint32(9, Math.floor(src.length / 2 ** 32), true);
  let o = 13;
  for (let b = 0; b < blocks; b++) {
    const s = b * MAX_BLOCK;
    const n = Math.min(MAX_BLOCK, src.length - s);
    const header = (n << 3) | (0 << 1) | (b === blocks - 1 ? 1 : 0); // raw block
    out[o] = header & 0xff;
    out[o + 1] = (header >>> 8) & 0xff;
    out[o + 2] = (header >>> 16) & 0xff;
    out.set(src.subarray(s, s + n), o + 3);
    o += 3 + n;
  }
  return out;
}
