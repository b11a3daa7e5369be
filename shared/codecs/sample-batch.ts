// Binary encoding of SampleBatch for the "samples" topic (ingest writes, detectors read):
// strings once per series, samples as little-endian float64 columns on 8-byte boundaries.
//
// Layout (version 1), offsets from the start of the message:
//   u8 version, u8 flags (0), u16 reserved (0), u32 series count
//   per series: u8 kind, u8 flags (bit 0: stale), key, host, varint label count,
//     (name, value) per label, varint sample count, zero padding to a multiple of 8,
//     count × f64 timestamps (ms), count × f64 values
//   strings: varint byte length + UTF-8 bytes

import { BadRequestError } from '../errors/index.js';
import type { Labels } from '../model/labels.js';
import { KIND_COUNTER, KIND_GAUGE, type MetricKind, type SampleBatch, type SeriesSamples } from '../model/samples.js';
import { decodeUtf8, utf8Length, writeUtf8 } from './utf8.js';

export const SAMPLE_BATCH_VERSION = 1;
const HEADER = 8;
const FLAG_STALE = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function corrupt(message: string): BadRequestError {
  return new BadRequestError('FS_BATCH', `sample batch: ${message}`);
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

let lengths = new Int32Array(256);

/** Encode a batch; the result is a fresh array whose float columns are 8-byte aligned. */
export function encodeSampleBatch(batch: SampleBatch): Uint8Array {
  const series = batch.series;
  // Sizing pass: string byte lengths are kept in `lengths` for the writing pass.
  let nStrings = 0;
  for (let i = 0; i < series.length; i++) nStrings += 2 + 2 * Object.keys(series[i].labels).length;
  if (lengths.length < nStrings) lengths = new Int32Array(Math.max(nStrings, lengths.length * 2));
  const names: string[][] = new Array<string[]>(series.length);
  let size = HEADER;
  let li = 0;
  for (let i = 0; i < series.length; i++) {
    const s = series[i];
    if (s.timestamps.length !== s.values.length) {
      throw corrupt(`series ${s.key}: ${s.timestamps.length} timestamps but ${s.values.length} values`);
    }
    if (s.kind !== KIND_GAUGE && s.kind !== KIND_COUNTER) throw corrupt(`series ${s.key}: unknown kind ${String(s.kind)}`);
    const keys = Object.keys(s.labels);
    names[i] = keys;
    size += 2;
    const kl = (lengths[li++] = utf8Length(s.key));
    const hl = (lengths[li++] = utf8Length(s.host));
    size += varintSize(kl) + kl + varintSize(hl) + hl + varintSize(keys.length);
    for (let j = 0; j < keys.length; j++) {
      const nl = (lengths[li++] = utf8Length(keys[j]));
      const vl = (lengths[li++] = utf8Length(s.labels[keys[j]]));
      size += varintSize(nl) + nl + varintSize(vl) + vl;
    }
    const n = s.values.length;
    size += varintSize(n);
    if (n > 0) size = ((size + 7) & ~7) + 16 * n;
  }

  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = SAMPLE_BATCH_VERSION;
  view.setUint32(4, series.length, true);
  let pos = HEADER;
  li = 0;
  for (let i = 0; i < series.length; i++) {
    const s = series[i];
    out[pos++] = s.kind;
    out[pos++] = s.stale ? FLAG_STALE : 0;
    pos = writeVarint(out, pos, lengths[li++]);
    pos = writeUtf8(out, pos, s.key);
    pos = writeVarint(out, pos, lengths[li++]);
    pos = writeUtf8(out, pos, s.host);
    const keys = names[i];
    pos = writeVarint(out, pos, keys.length);
    for (let j = 0; j < keys.length; j++) {
      pos = writeVarint(out, pos, lengths[li++]);
      pos = writeUtf8(out, pos, keys[j]);
      pos = writeVarint(out, pos, lengths[li++]);
      pos = writeUtf8(out, pos, s.labels[keys[j]]);
    }
    const n = s.values.length;
    pos = writeVarint(out, pos, n);
    if (n === 0) continue;
    pos = (pos + 7) & ~7;
    if (LITTLE_ENDIAN) {
      const cols = new Float64Array(out.buffer, pos, 2 * n);
      cols.set(s.timestamps, 0);
      cols.set(s.values, n);
    } else {
      for (let k = 0; k < n; k++) {
        view.setFloat64(pos + 8 * k, s.timestamps[k], true);
        view.setFloat64(pos + 8 * (n + k), s.values[k], true);
      }
    }
    pos += 16 * n;
  }
  return out;
}

/**
 * The identity part of a series as `encodeSampleBatch` writes it (key, host, label count and
 * labels, each string as varint length + UTF-8), to be made once per series and handed to
 * `encodeSampleBatchColumns` for every batch that carries the series.
 */
export function encodeSeriesHead(key: string, host: string, labels: Labels): Uint8Array {
  const keys = Object.keys(labels);
  const kl = utf8Length(key);
  const hl = utf8Length(host);
  let size = varintSize(kl) + kl + varintSize(hl) + hl + varintSize(keys.length);
  for (let j = 0; j < keys.length; j++) {
    const nl = utf8Length(keys[j]);
    const vl = utf8Length(labels[keys[j]]);
    size += varintSize(nl) + nl + varintSize(vl) + vl;
  }
  const out = new Uint8Array(size);
  let pos = writeVarint(out, 0, kl);
  pos = writeUtf8(out, pos, key);
  pos = writeVarint(out, pos, hl);
  pos = writeUtf8(out, pos, host);
  pos = writeVarint(out, pos, keys.length);
  for (let j = 0; j < keys.length; j++) {
    pos = writeVarint(out, pos, utf8Length(keys[j]));
    pos = writeUtf8(out, pos, keys[j]);
    const v = labels[keys[j]];
    pos = writeVarint(out, pos, utf8Length(v));
    pos = writeUtf8(out, pos, v);
  }
  return out;
}

/**
 * Series laid out as columns, for `encodeSampleBatchColumns`: series i has the identity
 * `heads[i]` (from `encodeSeriesHead`), kind `kinds[i]`, stale flag `stale[i]` (0 or 1) and the
 * samples `timestamps/values[start[i], start[i] + count[i])`.
 */
export interface SampleBatchColumns {
  heads: readonly Uint8Array[];
  kinds: Uint8Array;
  stale: Uint8Array;
  start: Int32Array;
  count: Int32Array;
  timestamps: Float64Array;
  values: Float64Array;
}

/**
 * Encode the series `order[0..n)` of `cols`, in that order: the same bytes `encodeSampleBatch`
 * makes for those series, without building them as objects or re-encoding their strings.
 */
export function encodeSampleBatchColumns(cols: SampleBatchColumns, order: ArrayLike<number>, n: number = order.length): Uint8Array {
  const { heads, kinds, stale, start, count, timestamps, values } = cols;
  let size = HEADER;
  for (let i = 0; i < n; i++) {
    const s = order[i];
    if (kinds[s] !== KIND_GAUGE && kinds[s] !== KIND_COUNTER) throw corrupt(`series ${s}: unknown kind ${kinds[s]}`);
    const c = count[s];
    size += 2 + heads[s].length + varintSize(c);
    if (c > 0) size = ((size + 7) & ~7) + 16 * c;
  }
  // A fresh buffer: offset 0, so 8-byte aligned positions are aligned in memory as well.
  const out = new Uint8Array(size);
  const f64 = LITTLE_ENDIAN ? new Float64Array(out.buffer, 0, size >>> 3) : null;
  const view = new DataView(out.buffer);
  out[0] = SAMPLE_BATCH_VERSION;
  view.setUint32(4, n, true);
  let pos = HEADER;
  for (let i = 0; i < n; i++) {
    const s = order[i];
    out[pos++] = kinds[s];
    out[pos++] = stale[s] !== 0 ? FLAG_STALE : 0;
    out.set(heads[s], pos);
    pos += heads[s].length;
    const c = count[s];
    pos = writeVarint(out, pos, c);
    if (c === 0) continue;
    pos = (pos + 7) & ~7;
    const from = start[s];
    if (f64 !== null) {
      const at = pos >>> 3;
      for (let k = 0; k < c; k++) {
        f64[at + k] = timestamps[from + k];
        f64[at + c + k] = values[from + k];
      }
    } else {
      for (let k = 0; k < c; k++) {
        view.setFloat64(pos + 8 * k, timestamps[from + k], true);
        view.setFloat64(pos + 8 * (c + k), values[from + k], true);
      }
    }
    pos += 16 * c;
  }
  return out;
}

export interface DecodeSampleBatchOptions {
  /**
   * Return Float64Array views into `buf` where its columns are 8-byte aligned in memory
   * (faster, but the arrays alias `buf`: do not reuse it while they are live). Default false:
   * columns are copied.
   */
  alias?: boolean;
}

/**
 * Decode a message made by `encodeSampleBatch`: `scanSampleBatch` (which checks the whole
 * message first) with every series built. Throws BadRequestError('FS_BATCH') on corrupt input.
 */
export function decodeSampleBatch(buf: Uint8Array, options?: DecodeSampleBatchOptions): SampleBatch {
  const alias = options?.alias === true;
  const series: SeriesSamples[] = [];
  scanSampleBatch(buf, {
    series(b, headStart, headEnd, kind, stale, cols, at, n) {
      const { key, host, labels } = decodeSeriesHead(b, headStart, headEnd);
      let timestamps: Float64Array;
      let values: Float64Array;
      if (alias && cols.buffer === b.buffer) {
        // the columns are a view of the message itself (aligned, little-endian)
        timestamps = cols.subarray(at, at + n);
        values = cols.subarray(at + n, at + 2 * n);
      } else {
        const both = cols.slice(at, at + 2 * n);
        timestamps = both.subarray(0, n);
        values = both.subarray(n);
      }
      series.push({ key, labels, host, kind, timestamps, values, stale });
    },
  });
  return { series };
}

/** What `scanSampleBatch` hands its caller per series. */
export interface SampleBatchVisitor {
  /**
   * One series. Its identity (key, host, labels) is `buf[headStart, headEnd)`, the bytes
   * `encodeSeriesHead` wrote (the same series always has the same bytes: a cache key; read it
   * with `decodeSeriesHead`). Its `n` timestamps are `cols[at, at + n)` and its values
   * `cols[at + n, at + 2n)`; `cols` is only valid during the call.
   */
  series(buf: Uint8Array, headStart: number, headEnd: number, kind: MetricKind, stale: boolean, cols: Float64Array, at: number, n: number): void;
}

let scanScratch = new Float64Array(1024);

/**
 * Walk a message made by `encodeSampleBatch` without building it: the whole message is checked
 * first (the same errors as `decodeSampleBatch`, and nothing visited when it is corrupt), then
 * every series is handed to the visitor. Returns the number of series.
 */
export function scanSampleBatch(buf: Uint8Array, visitor: SampleBatchVisitor): number {
  const len = buf.length;
  if (len < HEADER) throw corrupt(`${len} bytes is shorter than the ${HEADER}-byte header`);
  if (buf[0] !== SAMPLE_BATCH_VERSION) throw corrupt(`unsupported version ${buf[0]}`);
  if (buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) throw corrupt('reserved header bytes are not zero');
  const count = (buf[4] | (buf[5] << 8) | (buf[6] << 16)) + buf[7] * 0x1000000;
  if (count > (len - HEADER) / 5) throw corrupt(`${count} series cannot fit in ${len} bytes`);
  let pos = HEADER;
  const varint = (what: string): number => {
    let r = 0;
    let shift = 0;
    for (;;) {
      if (pos >= len) throw corrupt(`truncated ${what} at byte ${pos}`);
      const b = buf[pos++];
      if (shift === 28 && b > 0x0f) throw corrupt(`${what} too large at byte ${pos - 1}`);
      r += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return r;
      shift += 7;
    }
  };
  const skipStr = (what: string): void => {
    const n = varint(`${what} length`);
    if (n > len - pos) throw corrupt(`${what} of ${n} bytes at byte ${pos} runs past the end`);
    pos += n;
  };
  // Pass one: structure only.
  for (let i = 0; i < count; i++) {
    if (pos + 2 > len) throw corrupt(`truncated series ${i} at byte ${pos}`);
    const kind = buf[pos++];
    const flags = buf[pos++];
    if (kind !== KIND_GAUGE && kind !== KIND_COUNTER) throw corrupt(`series ${i}: unknown kind ${kind}`);
    if ((flags & ~FLAG_STALE) !== 0) throw corrupt(`series ${i}: unknown flags ${flags}`);
    skipStr('series key');
    skipStr('host');
    const nLabels = varint('label count');
    if (nLabels > (len - pos) / 2) throw corrupt(`series ${i}: ${nLabels} labels cannot fit in the rest of the message`);
    for (let j = 0; j < nLabels; j++) {
      skipStr('label name');
      skipStr('label value');
    }
    const n = varint('sample count');
    if (n > 0) {
      pos = (pos + 7) & ~7;
      if (n > (len - pos) / 16) throw corrupt(`series ${i}: ${n} samples run past the end of the message`);
      pos += 16 * n;
    }
  }
  if (pos !== len) throw corrupt(`${len - pos} unexpected bytes after the last series`);
  // The float columns as one Float64Array: a view when the message is 8-byte aligned in memory
  // (and the platform little-endian), else one copy of the message into scratch.
  let cols: Float64Array;
  if (LITTLE_ENDIAN && buf.byteOffset % 8 === 0) {
    cols = new Float64Array(buf.buffer, buf.byteOffset, len >>> 3);
  } else {
    const words = (len + 7) >>> 3;
    if (scanScratch.length < words) scanScratch = new Float64Array(Math.max(words, scanScratch.length * 2));
    cols = scanScratch;
    if (LITTLE_ENDIAN) new Uint8Array(cols.buffer, 0, len).set(buf);
    else {
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      for (let w = 0; w + 8 <= len; w += 8) cols[w >>> 3] = view.getFloat64(w, true);
    }
  }
  // Pass two: visit.
  pos = HEADER;
  for (let i = 0; i < count; i++) {
    const kind = buf[pos++] as MetricKind;
    const stale = (buf[pos++] & FLAG_STALE) !== 0;
    const headStart = pos;
    // (`pos += varint()` would add to the position read before the varint moved it.)
    const kl = varint('series key');
    pos += kl;
    const hl = varint('host');
    pos += hl;
    const nLabels = varint('label count');
    for (let j = 0; j < 2 * nLabels; j++) {
      const sl = varint('label');
      pos += sl;
    }
    const headEnd = pos;
    const n = varint('sample count');
    let at = 0;
    if (n > 0) {
      pos = (pos + 7) & ~7;
      at = pos >>> 3;
      pos += 16 * n;
    }
    visitor.series(buf, headStart, headEnd, kind, stale, cols, at, n);
  }
  return count;
}

/** The identity bytes of one series (from `scanSampleBatch`) as strings and a frozen labels object. */
export function decodeSeriesHead(buf: Uint8Array, start: number, end: number): { key: string; host: string; labels: Labels } {
  let pos = start;
  const varint = (): number => {
    let r = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw corrupt(`truncated series identity at byte ${pos}`);
      const b = buf[pos++];
      r += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return r;
      shift += 7;
    }
  };
  const str = (): string => {
    const n = varint();
    if (n > end - pos) throw corrupt(`series identity string of ${n} bytes at byte ${pos} runs past its end`);
    const v = decodeUtf8(buf, pos, pos + n);
    pos += n;
    return v;
  };
  const key = str();
  const host = str();
  const nLabels = varint();
  const labels: Record<string, string> = {};
  for (let j = 0; j < nLabels; j++) {
    const name = str();
    const value = str();
    if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true });
    else labels[name] = value;
  }
  return { key, host, labels: Object.freeze(labels) as Labels };
}
