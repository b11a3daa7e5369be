// Checkpoints of series state (the detector stage stores them per partition in the StateStore,
// so a restart or a rebalance restores series mid-stream instead of warming them up again).
//
// Format, version 1 (header fields little-endian):
//   0  "FSDE"            magic
//   4  u8   version      1
//   5  u8   flags        bit 0: records are little-endian
//   6  u16  scalarBytes  128 (the record layout of series-state.ts)
//   8  u32  count
//  12  count × record:  u16 window, u16 reserved, scalarBytes of scalars, window × f32 ring
// A record is the series' bytes as the engine holds them, so a restored series continues with
// bit-identical state (ring, sums, baselines, state machine, profile). The ring length must
// match the window of the slot's profile in the importing engine; a changed layout or window
// is refused (ForeshockError FS_DETECTOR_CHECKPOINT) and the caller starts those series cold.

import { ForeshockError } from '../../../shared/errors/index.js';
import type { ProfileRow } from './params.js';
import { B_FLAGS, B_PROFILE, FLAG_LIVE, SCALAR_BYTES } from './layout.js';
import type { SeriesState } from './series-state.js';

export const CHECKPOINT_VERSION = 1;
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
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (!table.isLive(slot)) throw bad(`slot ${slot} is not in use`);
    const rec = table.recordBytes(slot);
    windows[i] = rows[rec[B_PROFILE]].window;
    total += RECORD_HEADER_BYTES + SCALAR_BYTES + windows[i] * 4;
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
    view.setUint16(o, w, true);
    o += RECORD_HEADER_BYTES;
    const n = SCALAR_BYTES + w * 4;
    out.set(rec.subarray(0, n), o);
    o += n;
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
  if (buf[4] !== CHECKPOINT_VERSION) throw bad(`version ${buf[4]} is not supported (expected ${CHECKPOINT_VERSION})`);
  if ((buf[5] & 1) !== (LITTLE_ENDIAN ? 1 : 0)) throw bad('byte order differs from this machine');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const scalarBytes = view.getUint16(6, true);
  if (scalarBytes !== SCALAR_BYTES) throw bad(`record layout of ${scalarBytes} bytes differs from ${SCALAR_BYTES}`);
  const count = view.getUint32(8, true);
  // pass 1: validate
  let o = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (o + RECORD_HEADER_BYTES + SCALAR_BYTES > buf.length) throw bad(`truncated at record ${i}`);
    const w = view.getUint16(o, true);
    const rec = o + RECORD_HEADER_BYTES;
    const profile = buf[rec + B_PROFILE];
    if (profile >= profiles) throw bad(`record ${i}: profile ${profile} does not exist (${profiles} profiles)`);
    if ((buf[rec + B_FLAGS] & FLAG_LIVE) === 0) throw bad(`record ${i}: not a live series`);
    const want = rows[profile].window;
    if (w !== want) throw bad(`record ${i}: window ${w} differs from profile ${profile}'s window ${want}`);
    o = rec + SCALAR_BYTES + w * 4;
    if (o > buf.length) throw bad(`truncated at record ${i}`);
  }
  if (o !== buf.length) throw bad(`${buf.length - o} trailing bytes`);
  // pass 2: restore
  const slots: number[] = new Array<number>(count);
  o = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const w = view.getUint16(o, true);
    const rec = o + RECORD_HEADER_BYTES;
    const slot = table.alloc(buf[rec + B_PROFILE]);
    table.recordBytes(slot).set(buf.subarray(rec, rec + SCALAR_BYTES + w * 4));
    slots[i] = slot;
    o = rec + SCALAR_BYTES + w * 4;
  }
  return slots;
}
