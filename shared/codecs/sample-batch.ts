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

export interface DecodeSampleBatchOptions {
  /**
   * Return Float64Array views into `buf` where its columns are 8-byte aligned in memory
   * (faster, but the arrays alias `buf`: do not reuse it while they are live). Default false:
   * columns are copied.
   */
  alias?: boolean;
}

/** Decode a message made by `encodeSampleBatch`. Throws BadRequestError('FS_BATCH') on corrupt input. */
export function decodeSampleBatch(buf: Uint8Array, options?: DecodeSampleBatchOptions): SampleBatch {
  const alias = options?.alias === true;
  const len = buf.length;
  if (len < HEADER) throw corrupt(`${len} bytes is shorter than the ${HEADER}-byte header`);
  if (buf[0] !== SAMPLE_BATCH_VERSION) throw corrupt(`unsupported version ${buf[0]}`);
  if (buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) throw corrupt('reserved header bytes are not zero');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = view.getUint32(4, true);
  // Every series takes at least 5 bytes: a cheap bound before allocating for `count`.
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
  const str = (what: string): string => {
    const n = varint(`${what} length`);
    if (n > len - pos) throw corrupt(`${what} of ${n} bytes at byte ${pos} runs past the end`);
    const v = decodeUtf8(buf, pos, pos + n);
    pos += n;
    return v;
  };

  const series: SeriesSamples[] = new Array<SeriesSamples>(count);
  for (let i = 0; i < count; i++) {
    if (pos + 2 > len) throw corrupt(`truncated series ${i} at byte ${pos}`);
    const kind = buf[pos++];
    const flags = buf[pos++];
    if (kind !== KIND_GAUGE && kind !== KIND_COUNTER) throw corrupt(`series ${i}: unknown kind ${kind}`);
    if ((flags & ~FLAG_STALE) !== 0) throw corrupt(`series ${i}: unknown flags ${flags}`);
    const key = str('series key');
    const host = str('host');
    const nLabels = varint('label count');
    if (nLabels > (len - pos) / 2) throw corrupt(`series ${i}: ${nLabels} labels cannot fit in the rest of the message`);
    const labels: Record<string, string> = {};
    for (let j = 0; j < nLabels; j++) {
      const name = str('label name');
      const value = str('label value');
      if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true });
      else labels[name] = value;
    }
    const n = varint('sample count');
    let timestamps: Float64Array;
    let values: Float64Array;
    if (n === 0) {
      timestamps = new Float64Array(0);
      values = new Float64Array(0);
    } else {
      pos = (pos + 7) & ~7;
      if (n > (len - pos) / 16) throw corrupt(`series ${i}: ${n} samples run past the end of the message`);
      [timestamps, values] = columns(buf, view, pos, n, alias);
      pos += 16 * n;
    }
    series[i] = {
      key,
      labels: Object.freeze(labels) as Labels,
      host,
      kind: kind as MetricKind,
      timestamps,
      values,
      stale: (flags & FLAG_STALE) !== 0,
    };
  }
  if (pos !== len) throw corrupt(`${len - pos} unexpected bytes after the last series`);
  return { series };
}

function columns(buf: Uint8Array, view: DataView, pos: number, n: number, alias: boolean): [Float64Array, Float64Array] {
  if (LITTLE_ENDIAN) {
    const at = buf.byteOffset + pos;
    if (alias && at % 8 === 0) {
      return [new Float64Array(buf.buffer, at, n), new Float64Array(buf.buffer, at + 8 * n, n)];
    }
    const both = new Float64Array(2 * n);
    new Uint8Array(both.buffer).set(buf.subarray(pos, pos + 16 * n));
    return [both.subarray(0, n), both.subarray(n)];
  }
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    t[k] = view.getFloat64(pos + 8 * k, true);
    v[k] = view.getFloat64(pos + 8 * (n + k), true);
  }
  return [t, v];
}
