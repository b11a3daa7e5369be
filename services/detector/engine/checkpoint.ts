// Checkpoints of series state (the detector stage stores them per partition in the StateStore,
// so a restart or a rebalance restores series mid-stream instead of warming them up again).
//
// Format, version 4 (header fields little-endian):
//   0  "FSDE"            magic
//   4  u8   version      4
//   5  u8   flags        bit 0: records are little-endian
//   6  u16  scalarBytes  320 (the record layout of layout.ts)
//   8  u32  count
//  12  count × record:  u16 window, u16 seasonal buckets, scalarBytes of scalars,
//                       window × f32 ring, buckets × (f32 mean, f32 variance)
// A record is the series' bytes as the engine holds them, so a restored series continues with
// bit-identical state (ring, sums, baselines, seasonal profile, likelihood, breach and anomaly
// state machines, profile). The ring length and bucket count must match the slot's profile
// in the importing engine; a changed layout, window or bucket count is refused (ForeshockError
// FS_DETECTOR_CHECKPOINT) and the caller starts those series cold.
// Older versions are still read, their series starting the newer state fresh: version 3
// (256-byte scalars: no fill run) keeps everything else; version 2
// (192-byte scalars: no long trend) keeps everything else; version 1 (128-byte scalars, no
// seasonal buckets, the second u16 reserved) keeps its baselines only.

import { ForeshockError } from '../../../shared/errors/index.js';
import type { ProfileRow } from './params.js';
import * as layout from './layout.js';
import { B_FLAGS, B_PROFILE, FLAG_LIVE, SCALAR_BYTES, V1_LAYOUT, V2_SCALAR_BYTES, V3_SCALAR_BYTES } from './layout.js';
import type { SeriesState } from './series-state.js';

export const CHECKPOINT_VERSION = 4;
const V1_SCALAR_BYTES = V1_LAYOUT.scalarBytes;
const MAGIC = [0x46, 0x53, 0x44, 0x45]; // "FSDE"
const HEADER_BYTES = 12;
const RECORD_HEADER_BYTES = 4;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bad(message: string): ForeshockError {
  return new ForeshockError('FS_DETECTOR_CHECKPOINT', message);
}

/** Serialise the given live slots, in order. */
export function exportSlots(table: SeriesState, rows: readonly ProfileRow[], slots: ArrayLike<number>): Uint8Array {
  let total = HEADER_BYTES;
  const windows = new Uint16Array(slots.length);
  const seasons = new Uint16Array(slots.length);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (!table.isLive(slot)) throw bad(`slot ${slot} is not in use`);
    const rec = table.recordBytes(slot);
    windows[i] = rows[rec[B_PROFILE]].window;
    seasons[i] = rows[rec[B_PROFILE]].seasonTotal;
    total += RECORD_HEADER_BYTES + SCALAR_BYTES + windows[i] * 4 + seasons[i] * 8;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = CHECKPOINT_VERSION;
  out[5] = LITTLE_ENDIAN ? 1 : 0;
  view.setUint16(6, SCALAR_BYTES, true);
  view.setUint32(8, slots.length, true);
  let o = HEADER_BYTES;
  for (let i = 0; i < slots.length; i++) {
    const rec = table.recordBytes(slots[i]);
    const w = windows[i];
    const sb = seasons[i];
    view.setUint16(o, w, true);
    view.setUint16(o + 2, sb, true);
    o += RECORD_HEADER_BYTES;
    const n = SCALAR_BYTES + w * 4;
    out.set(rec.subarray(0, n), o);
    o += n;
    const s0 = table.seasonF32 * 4;
    out.set(rec.subarray(s0, s0 + sb * 8), o);
    o += sb * 8;
  }
  return out;
}

/**
 * Restore series from `buf` into fresh slots; returns the new slot numbers in checkpoint
 * order. Validates the whole buffer before allocating anything.
 */
export function importSlots(table: SeriesState, rows: readonly ProfileRow[], buf: Uint8Array): number[] {
  const profiles = rows.length;
  if (buf.length < HEADER_BYTES) throw bad(`${buf.length} bytes is shorter than the header`);
  for (let i = 0; i < 4; i++) if (buf[i] !== MAGIC[i]) throw bad('not a detector checkpoint (bad magic)');
  const version = buf[4];
  if (version < 1 || version > CHECKPOINT_VERSION) throw bad(`version ${version} is not supported (expected 1 to ${CHECKPOINT_VERSION})`);
  const v1 = version === 1;
  const wantScalars = v1 ? V1_SCALAR_BYTES : version === 2 ? V2_SCALAR_BYTES : version === 3 ? V3_SCALAR_BYTES : SCALAR_BYTES;
  if ((buf[5] & 1) !== (LITTLE_ENDIAN ? 1 : 0)) throw bad('byte order differs from this machine');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const scalarBytes = view.getUint16(6, true);
  if (scalarBytes !== wantScalars) throw bad(`record layout of ${scalarBytes} bytes differs from ${wantScalars} (version ${version})`);
  const count = view.getUint32(8, true);
  // pass 1: validate
  let o = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (o + RECORD_HEADER_BYTES + scalarBytes > buf.length) throw bad(`truncated at record ${i}`);
    const w = view.getUint16(o, true);
    const sb = v1 ? 0 : view.getUint16(o + 2, true);
    const rec = o + RECORD_HEADER_BYTES;
    const profile = buf[rec + B_PROFILE];
    if (profile >= profiles) throw bad(`record ${i}: profile ${profile} does not exist (${profiles} profiles)`);
    if ((buf[rec + B_FLAGS] & FLAG_LIVE) === 0) throw bad(`record ${i}: not a live series`);
    const want = rows[profile].window;
    if (w !== want) throw bad(`record ${i}: window ${w} differs from profile ${profile}'s window ${want}`);
    const wantSb = rows[profile].seasonTotal;
    if (!v1 && sb !== wantSb) throw bad(`record ${i}: ${sb} seasonal buckets differ from profile ${profile}'s ${wantSb}`);
    o = rec + scalarBytes + w * 4 + sb * 8;
    if (o > buf.length) throw bad(`truncated at record ${i}`);
  }
  if (o !== buf.length) throw bad(`${buf.length - o} trailing bytes`);
  // pass 2: restore
  const slots: number[] = new Array<number>(count);
  o = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const w = view.getUint16(o, true);
    const sb = v1 ? 0 : view.getUint16(o + 2, true);
    const rec = o + RECORD_HEADER_BYTES;
    const slot = table.alloc(buf[rec + B_PROFILE]);
    const dst = table.recordBytes(slot);
    if (v1) {
      // v1: its fields moved to their places now; the newer state keeps its fresh values.
      copyV1(buf, rec, dst);
      dst.set(buf.subarray(rec + V1_SCALAR_BYTES, rec + V1_SCALAR_BYTES + w * 4), SCALAR_BYTES);
    } else {
      // v2, v3: the same scalars, without the lines added since (the long trend, the fill run: fresh)
      dst.set(buf.subarray(rec, rec + scalarBytes));
      dst.set(buf.subarray(rec + scalarBytes, rec + scalarBytes + w * 4), SCALAR_BYTES);
      const s0 = rec + scalarBytes + w * 4;
      dst.set(buf.subarray(s0, s0 + sb * 8), table.seasonF32 * 4);
    }
    slots[i] = slot;
    o = rec + scalarBytes + w * 4 + sb * 8;
  }
  return slots;
}

/** Copies a version-1 record's scalars (at buf[rec…]) field by field into a current record. */
function copyV1(buf: Uint8Array, rec: number, dst: Uint8Array): void {
  const src = new DataView(buf.buffer, buf.byteOffset + rec, V1_SCALAR_BYTES);
  const out = new DataView(dst.buffer, dst.byteOffset, SCALAR_BYTES);
  for (const [name, i] of Object.entries(V1_LAYOUT.f64)) {
    out.setFloat64((layout as unknown as Record<string, number>)[name] * 8, src.getFloat64(i * 8, true), true);
  }
  for (const [name, i] of Object.entries(V1_LAYOUT.f32)) {
    out.setFloat32((layout as unknown as Record<string, number>)[name] * 4, src.getFloat32(i * 4, true), true);
  }
  out.setUint32(120, src.getUint32(120, true), true);
  out.setUint32(124, src.getUint32(124, true), true);
}
