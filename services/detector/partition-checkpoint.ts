// Binary formats of the detector's per-partition checkpoints (the detector stage writes them to
// the StateStore, see checkpoint-store.ts): a snapshot of every series of one samples-topic
// partition, and journal entries holding the raw messages applied since that snapshot.
//
// Snapshot, version 1 (little-endian):
//    0  "FSPS"  magic
//    4  u8      version 1
//    5  u8[3]   reserved (0)
//    8  u32     count: series in the snapshot
//   12  u32     engineBytes: length of the engine's own checkpoint (DetectorEngine.exportSlots)
//   16  f64     offset: last message of the partition applied to this state (-1: none)
//   24  f64     maxMessageTs: largest append time of the messages applied (ms; -Infinity: none)
//   32  f64[count] lastTs, f64[count] lastRaw, f64[count] samples   (series-table bookkeeping)
//       u8[count] kinds, zero padded to a multiple of 8
//       engine checkpoint (engineBytes), zero padded to a multiple of 8
//       u32[count] labels per series
//       u32 strings, then u32[strings] string lengths in UTF-16 code units
//       the strings, UTF-8, back to back: per series key, host, then name and value of each label
// Strings go out as one UTF-8 encode and come back as one decode sliced by length (per-string
// buffer calls cost more than the rest of the snapshot); a decoded text whose length differs
// from the sum of the lengths (a string that was not valid Unicode) is refused.
//
// Journal entry, version 1: "FSDJ", u8 version, u8[3] reserved, u32 count, then per message
// f64 offset, f64 timestamp, u32 length, the message value as it came off the bus.

import { ForeshockError } from '../../shared/errors/index.js';
import type { Labels } from '../../shared/model/index.js';

export const SNAPSHOT_VERSION = 1;
export const JOURNAL_VERSION = 1;
const SNAPSHOT_MAGIC = [0x46, 0x53, 0x50, 0x53]; // "FSPS"
const JOURNAL_MAGIC = [0x46, 0x53, 0x44, 0x4a]; // "FSDJ"
const SNAPSHOT_HEADER = 32;
const JOURNAL_HEADER = 12;
const JOURNAL_RECORD_HEADER = 20;

function bad(message: string): ForeshockError {
  return new ForeshockError('FS_DETECTOR_CHECKPOINT', message);
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** What a snapshot holds, column by column (index i is one series everywhere). */
export interface PartitionSnapshot {
  offset: number;
  maxMessageTs: number;
  /** DetectorEngine.exportSlots of the series, in this order. */
  engine: Uint8Array;
  keys: string[];
  hosts: string[];
  labels: Labels[];
  kinds: Uint8Array;
  lastTs: Float64Array;
  lastRaw: Float64Array;
  samples: Float64Array;
}

export function encodeSnapshot(s: PartitionSnapshot): Uint8Array {
  const n = s.keys.length;
  if (s.hosts.length !== n || s.labels.length !== n || s.kinds.length !== n || s.lastTs.length !== n || s.lastRaw.length !== n || s.samples.length !== n) {
    throw bad('snapshot columns differ in length');
  }
  const labelCounts = new Uint32Array(n);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(s.keys[i], s.hosts[i]);
    const l = s.labels[i];
    let c = 0;
    for (const k in l) {
      parts.push(k, l[k]);
      c++;
    }
    labelCounts[i] = c;
  }
  const lengths = new Uint32Array(parts.length);
  for (let j = 0; j < parts.length; j++) lengths[j] = parts[j].length;
  const text = Buffer.from(parts.join(''), 'utf8');
  const colStart = SNAPSHOT_HEADER;
  const kindsStart = colStart + n * 24;
  const engineStart = kindsStart + pad8(n);
  const countsStart = engineStart + pad8(s.engine.length);
  const lengthsStart = countsStart + n * 4 + 4;
  const textStart = lengthsStart + parts.length * 4;
  const out = Buffer.alloc(textStart + text.length);
  out.set(SNAPSHOT_MAGIC, 0);
  out[4] = SNAPSHOT_VERSION;
  out.writeUInt32LE(n, 8);
  out.writeUInt32LE(s.engine.length, 12);
  out.writeDoubleLE(s.offset, 16);
  out.writeDoubleLE(s.maxMessageTs, 24);
  const cols = new Float64Array(out.buffer, out.byteOffset + colStart, n * 3);
  cols.set(s.lastTs, 0);
  cols.set(s.lastRaw, n);
  cols.set(s.samples, 2 * n);
  out.set(s.kinds, kindsStart);
  out.set(s.engine, engineStart);
  out.set(new Uint8Array(labelCounts.buffer), countsStart);
  out.writeUInt32LE(parts.length, countsStart + n * 4);
  out.set(new Uint8Array(lengths.buffer), lengthsStart);
  out.set(text, textStart);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Parse a snapshot; throws FS_DETECTOR_CHECKPOINT naming what is wrong. Copies what it returns. */
export function decodeSnapshot(buf: Uint8Array): PartitionSnapshot {
  if (buf.length < SNAPSHOT_HEADER) throw bad(`snapshot of ${buf.length} bytes is shorter than its header`);
  for (let i = 0; i < 4; i++) if (buf[i] !== SNAPSHOT_MAGIC[i]) throw bad('not a partition snapshot (bad magic)');
  if (buf[4] !== SNAPSHOT_VERSION) throw bad(`snapshot version ${buf[4]} is not supported (expected ${SNAPSHOT_VERSION})`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = b.readUInt32LE(8);
  const engineBytes = b.readUInt32LE(12);
  const offset = b.readDoubleLE(16);
  const maxMessageTs = b.readDoubleLE(24);
  const kindsStart = SNAPSHOT_HEADER + n * 24;
  const engineStart = kindsStart + pad8(n);
  const countsStart = engineStart + pad8(engineBytes);
  const lengthsStart = countsStart + n * 4 + 4;
  if (lengthsStart > b.length) throw bad(`snapshot truncated: ${n} series need at least ${lengthsStart} bytes, got ${b.length}`);
  const strings = b.readUInt32LE(countsStart + n * 4);
  const textStart = lengthsStart + strings * 4;
  if (textStart > b.length) throw bad(`snapshot truncated: ${strings} strings need at least ${textStart} bytes, got ${b.length}`);
  // Copy the columns out (the buffer may not be aligned, and the caller keeps no reference).
  const cols = new Float64Array(n * 3);
  new Uint8Array(cols.buffer).set(b.subarray(SNAPSHOT_HEADER, kindsStart));
  const labelCounts = new Uint32Array(n);
  new Uint8Array(labelCounts.buffer).set(b.subarray(countsStart, countsStart + n * 4));
  const lengths = new Uint32Array(strings);
  new Uint8Array(lengths.buffer).set(b.subarray(lengthsStart, textStart));
  let need = 0;
  for (let i = 0; i < n; i++) need += 2 + 2 * labelCounts[i];
  if (need !== strings) throw bad(`snapshot lists ${strings} strings, its series need ${need}`);
  const text = b.toString('utf8', textStart);
  let total = 0;
  for (let j = 0; j < strings; j++) total += lengths[j];
  if (total !== text.length) throw bad(`snapshot text is ${text.length} characters, its lengths add up to ${total}`);
  const keys = new Array<string>(n);
  const hosts = new Array<string>(n);
  const labels = new Array<Labels>(n);
  let pos = 0;
  let j = 0;
  const next = (): string => {
    const len = lengths[j++];
    const v = text.slice(pos, pos + len);
    pos += len;
    return v;
  };
  for (let i = 0; i < n; i++) {
    keys[i] = next();
    hosts[i] = next();
    // Stored in the order the series' label object iterated (sorted, as sortedLabels makes it).
    const l: Record<string, string> = {};
    for (let c = 0; c < labelCounts[i]; c++) {
      const k = next();
      l[k] = next();
    }
    labels[i] = Object.freeze(l);
  }
  const kinds = b.subarray(kindsStart, kindsStart + n);
  for (let i = 0; i < n; i++) if (kinds[i] > 1) throw bad(`series ${i}: unknown metric kind ${kinds[i]}`);
  return {
    offset,
    maxMessageTs,
    engine: new Uint8Array(buf.subarray(engineStart, engineStart + engineBytes)),
    keys,
    hosts,
    labels,
    kinds: Uint8Array.from(kinds),
    lastTs: cols.subarray(0, n),
    lastRaw: cols.subarray(n, 2 * n),
    samples: cols.subarray(2 * n, 3 * n),
  };
}

/** One message of a journal entry. */
export interface JournalMessage {
  offset: number;
  timestamp: number;
  value: Uint8Array;
}

export function encodeJournal(messages: readonly JournalMessage[]): Uint8Array {
  let total = JOURNAL_HEADER;
  for (const m of messages) total += JOURNAL_RECORD_HEADER + m.value.length;
  const out = Buffer.alloc(total);
  out.set(JOURNAL_MAGIC, 0);
  out[4] = JOURNAL_VERSION;
  out.writeUInt32LE(messages.length, 8);
  let o = JOURNAL_HEADER;
  for (const m of messages) {
    out.writeDoubleLE(m.offset, o);
    out.writeDoubleLE(m.timestamp, o + 8);
    out.writeUInt32LE(m.value.length, o + 16);
    out.set(m.value, o + JOURNAL_RECORD_HEADER);
    o += JOURNAL_RECORD_HEADER + m.value.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export function decodeJournal(buf: Uint8Array): JournalMessage[] {
  if (buf.length < JOURNAL_HEADER) throw bad(`journal entry of ${buf.length} bytes is shorter than its header`);
  for (let i = 0; i < 4; i++) if (buf[i] !== JOURNAL_MAGIC[i]) throw bad('not a journal entry (bad magic)');
  if (buf[4] !== JOURNAL_VERSION) throw bad(`journal version ${buf[4]} is not supported (expected ${JOURNAL_VERSION})`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = b.readUInt32LE(8);
  const out: JournalMessage[] = [];
  let o = JOURNAL_HEADER;
  for (let i = 0; i < n; i++) {
    if (o + JOURNAL_RECORD_HEADER > b.length) throw bad(`journal entry truncated at message ${i}`);
    const len = b.readUInt32LE(o + 16);
    const end = o + JOURNAL_RECORD_HEADER + len;
    if (end > b.length) throw bad(`journal entry truncated at message ${i}`);
    out.push({ offset: b.readDoubleLE(o), timestamp: b.readDoubleLE(o + 8), value: buf.subarray(o + JOURNAL_RECORD_HEADER, end) });
    o = end;
  }
  if (o !== b.length) throw bad(`journal entry has ${b.length - o} trailing bytes`);
  return out;
}
