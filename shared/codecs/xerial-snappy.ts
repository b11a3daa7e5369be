// Snappy as Kafka carries it: the Java client (snappy-java) writes the "xerial" stream framing
// — an 8-byte magic, two version ints, then length-prefixed snappy blocks — around our
// snappy block format; librdkafka and sarama accept and may send a bare block. Both decode.

import { BadRequestError, PayloadTooLargeError } from '../errors/index.js';
import { snappyCompress, snappyDecompress, snappyUncompressedLength } from './snappy.js';

const XERIAL_MAGIC = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00);
const HEADER = 16;
/** snappy-java's default block size. */
const BLOCK = 32 * 1024;

function corrupt(reason: string): BadRequestError {
  return new BadRequestError('FS_SNAPPY', `snappy (xerial): ${reason}`);
}

/** True when `src` starts with the xerial magic. */
export function isXerialSnappy(src: Uint8Array): boolean {
  if (src.length < XERIAL_MAGIC.length) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (src[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Decodes xerial-framed snappy, or a bare snappy block when the magic is absent. */
export function xerialSnappyDecompress(src: Uint8Array, maxOutput: number): Uint8Array {
  if (!isXerialSnappy(src)) return snappyDecompress(src, maxOutput);
  if (src.length < HEADER) throw corrupt('truncated header');
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = HEADER; i < src.length; ) {
    if (i + 4 > src.length) throw corrupt('truncated block length');
    const n = view.getInt32(i);
    i += 4;
    if (n < 0 || i + n > src.length) throw corrupt(`block of ${n} bytes runs past the input`);
    const block = src.subarray(i, i + n);
    const len = snappyUncompressedLength(block);
    if (total + len > maxOutput) throw new PayloadTooLargeError('FS_SNAPPY_TOO_LARGE', `snappy: content exceeds ${maxOutput} bytes`);
    const part = snappyDecompress(block, maxOutput - total);
    parts.push(part);
    total += part.length;
    i += n;
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

/** Encodes as snappy-java's SnappyOutputStream does: xerial header and 32 KiB blocks. */
export function xerialSnappyCompress(src: Uint8Array): Uint8Array {
  const blocks: Uint8Array[] = [];
  let size = HEADER;
  for (let s = 0; s < src.length; s += BLOCK) {
    const b = snappyCompress(src.subarray(s, Math.min(src.length, s + BLOCK)));
    blocks.push(b);
    size += 4 + b.length;
  }
  const out = new Uint8Array(size);
  out.set(XERIAL_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setInt32(8, 1); // version
  view.setInt32(12, 1); // minimum compatible version
  let o = HEADER;
  for (const b of blocks) {
    view.setInt32(o, b.length);
    out.set(b, o + 4);
    o += 4 + b.length;
  }
  return out;
}
