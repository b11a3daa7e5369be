// Prometheus remote-write 1.0 `WriteRequest` (prompb types.proto / remote.proto), after
// snappy: the receiver's /api/v1/write body as ingest decodes it into series and samples.

import { BadRequestError } from '../errors/index.js';
import { tooManySamples, tooManySeries } from './limits.js';
import { ProtoReader, ProtoWriter, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { decodeUtf8 } from './utf8.js';

export interface RemoteWriteSeries {
  /** Label pairs in wire order (Prometheus sends them sorted by name, `__name__` included). */
  labels: [string, string][];
  /** Sample times in ms since the epoch. */
  timestamps: Float64Array;
  values: Float64Array;
  /** Exemplars and native histograms are counted, not decoded. */
  exemplars: number;
  histograms: number;
  /** Labels the series had on the wire; more than `labels.length` when `maxLabelsPerSeries` cut them. */
  labelCount: number;
}

/** Bounds checked while decoding, so an oversized request is refused before it is built. */
export interface DecodeWriteRequestOptions {
  /** More timeseries than this: PayloadTooLargeError FS_LIMIT_SERIES (413). */
  maxSeries?: number;
  /** More samples than this: PayloadTooLargeError FS_LIMIT_SAMPLES (413). */
  maxSamples?: number;
  /** Labels kept per series (the rest are counted in `labelCount`, not decoded). */
  maxLabelsPerSeries?: number;
}

export type MetricMetadataType = 'unknown' | 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset';

export interface RemoteWriteMetadata {
  type: MetricMetadataType;
  family: string;
  help: string;
  unit: string;
}

export interface WriteRequest {
  series: RemoteWriteSeries[];
  metadata: RemoteWriteMetadata[];
  /** Totals over all series. */
  samples: number;
  exemplars: number;
  histograms: number;
}

/** What `encodeWriteRequest` takes: plain arrays or typed arrays of equal length per series. */
export interface WriteRequestInput {
  series: { labels: readonly (readonly [string, string])[]; timestamps: ArrayLike<number>; values: ArrayLike<number> }[];
  metadata?: RemoteWriteMetadata[];
}

/** MetricMetadata.MetricType enum values, in proto order. */
export const METRIC_TYPES: readonly MetricMetadataType[] = ['unknown', 'counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset'];

/** Bit pattern of Prometheus's stale marker, a NaN that says "this series ended" (value.StaleNaN). */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

scratchU32[HI] = 0x7ff00000;
scratchU32[LO] = 2;
/** The stale marker as a number. Keep it in Float64Arrays: ordinary JS arrays may canonicalise NaN bits. */
export const STALE_NAN: number = scratchF64[0];

/**
 * True when `v` is Prometheus's stale marker. The quiet bit is ignored: V8 sets it when the
 * marker is stored in a JS array of numbers, and the payload (2) still says "stale". Any
 * other NaN (summaries without observations send plain NaN) is an ordinary value.
 */
export function isStaleMarker(v: number): boolean {
  if (v === v) return false;
  scratchF64[0] = v;
  return (scratchU32[HI] & 0xfff7ffff) === 0x7ff00000 && scratchU32[LO] === 2;
}

const F64_CHUNK = 8192;
const EMPTY_F64 = new Float64Array(0);

/**
 * Hands out Float64Array views from shared chunks, so one request costs a few backing
 * stores instead of two per series. A retained view keeps its chunk (at most 64 KiB) alive.
 */
class F64Chunks {
  private buffer = new ArrayBuffer(0);
  private capacity = 0;
  private used = 0;

  take(n: number): Float64Array {
    if (n === 0) return EMPTY_F64;
    if (this.used + n > this.capacity) {
      this.capacity = n > F64_CHUNK ? n : F64_CHUNK;
      this.buffer = new ArrayBuffer(this.capacity * 8);
      this.used = 0;
    }
    // A view on a known buffer is cheaper to make than `subarray` (measured: about 2.5x).
    const v = new Float64Array(this.buffer, this.used * 8, n);
    this.used += n;
    return v;
  }
}

function wrongWireType(message: string, field: string, wireType: number, at: number): BadRequestError {
  return new BadRequestError('FS_RW_PROTO', `protobuf: ${message}.${field} has wire type ${wireType} at byte ${at}`);
}

/**
 * Decode a snappy-decompressed remote-write body. Unknown fields are skipped, exemplars and
 * histograms counted; a request with only metadata is valid. Throws BadRequestError
 * ('FS_RW_PROTO') on malformed input, PayloadTooLargeError past `options`' counts. The result
 * does not alias `buf`.
 */
export function decodeWriteRequest(buf: Uint8Array, options?: DecodeWriteRequestOptions): WriteRequest {
  const maxSeries = options?.maxSeries ?? Infinity;
  const maxSamples = options?.maxSamples ?? Infinity;
  const maxLabels = options?.maxLabelsPerSeries ?? Infinity;
  const r = new ProtoReader(buf);
  const chunks = new F64Chunks();
  const series: RemoteWriteSeries[] = [];
  const metadata: RemoteWriteMetadata[] = [];
  let samples = 0;
  let exemplars = 0;
  let histograms = 0;
  while (r.pos < r.end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${at}`);
    if (field === 1) {
      if (wt !== WIRE_LEN) throw wrongWireType('WriteRequest', 'timeseries', wt, at);
      if (series.length >= maxSeries) throw tooManySeries(maxSeries);
      const start = r.lengthDelimited();
      const s = decodeSeries(r, start, r.pos, chunks, samples, maxSamples, maxLabels);
      samples += s.values.length;
      exemplars += s.exemplars;
      histograms += s.histograms;
      series.push(s);
    } else if (field === 3) {
      if (wt !== WIRE_LEN) throw wrongWireType('WriteRequest', 'metadata', wt, at);
      const start = r.lengthDelimited();
      metadata.push(decodeMetadata(r, start, r.pos));
    } else {
      r.skip(wt, field);
    }
  }
  return { series, metadata, samples, exemplars, histograms };
}

function decodeSeries(r: ProtoReader, start: number, end: number, chunks: F64Chunks, samplesBefore: number, maxSamples: number, maxLabels: number): RemoteWriteSeries {
  const outerEnd = r.end;
  r.end = end;
  // First pass over the field headers only: size the sample columns exactly.
  let count = 0;
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((2 << 3) | WIRE_LEN)) count++;
    r.skip(tag & 7, tag >>> 3);
  }
  // Checked before the sample columns are allocated.
  if (samplesBefore + count > maxSamples) throw tooManySamples(maxSamples);
  const timestamps = chunks.take(count);
  const values = chunks.take(count);
  const labels: [string, string][] = [];
  let labelCount = 0;
  let exemplars = 0;
  let histograms = 0;
  let k = 0;
  r.pos = start;
  const buf = r.buf;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${at}`);
    if (field === 2) {
      if (wt !== WIRE_LEN) throw wrongWireType('TimeSeries', 'samples', wt, at);
      const sStart = r.lengthDelimited();
      const sEnd = r.pos;
      r.pos = sStart;
      r.end = sEnd;
      let value = 0;
      let ts = 0;
      while (r.pos < sEnd) {
        const fat = r.pos;
        const stag = r.uint32();
        if (stag === ((1 << 3) | WIRE_FIXED64)) {
          value = r.double();
        } else if (stag === ((2 << 3) | WIRE_VARINT)) {
          ts = r.int64();
        } else {
          const sf = stag >>> 3;
          if (sf === 1 || sf === 2) throw wrongWireType('Sample', sf === 1 ? 'value' : 'timestamp', stag & 7, fat);
          if (sf === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${fat}`);
          r.skip(stag & 7, sf);
        }
      }
      r.end = end;
      timestamps[k] = ts;
      values[k] = value;
      k++;
    } else if (field === 1) {
      if (wt !== WIRE_LEN) throw wrongWireType('TimeSeries', 'labels', wt, at);
      const lStart = r.lengthDelimited();
      const lEnd = r.pos;
      if (++labelCount > maxLabels) continue;
      r.pos = lStart;
      r.end = lEnd;
      let name = '';
      let value = '';
      while (r.pos < lEnd) {
        const fat = r.pos;
        const ltag = r.uint32();
        const lf = ltag >>> 3;
        if (lf === 1 || lf === 2) {
          if ((ltag & 7) !== WIRE_LEN) throw wrongWireType('Label', lf === 1 ? 'name' : 'value', ltag & 7, fat);
          const s = r.lengthDelimited();
          if (lf === 1) name = decodeUtf8(buf, s, r.pos);
          else value = decodeUtf8(buf, s, r.pos);
        } else {
          if (lf === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${fat}`);
          r.skip(ltag & 7, lf);
        }
      }
      r.end = end;
      labels.push([name, value]);
    } else if (field === 3) {
      exemplars++;
      r.skip(wt, field);
    } else if (field === 4) {
      histograms++;
      r.skip(wt, field);
    } else {
      r.skip(wt, field);
    }
  }
  r.end = outerEnd;
  r.pos = end;
  return { labels, timestamps, values, exemplars, histograms, labelCount };
}

function decodeMetadata(r: ProtoReader, start: number, end: number): RemoteWriteMetadata {
  const outerEnd = r.end;
  r.pos = start;
  r.end = end;
  let type: MetricMetadataType = 'unknown';
  let family = '';
  let help = '';
  let unit = '';
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1) {
      if (wt !== WIRE_VARINT) throw wrongWireType('MetricMetadata', 'type', wt, at);
      // Enum values we do not know (a newer sender) read as 'unknown', as proto3 would keep them opaque.
      type = METRIC_TYPES[r.uint32()] ?? 'unknown';
    } else if (field === 2 || field === 4 || field === 5) {
      if (wt !== WIRE_LEN) throw wrongWireType('MetricMetadata', field === 2 ? 'metric_family_name' : field === 4 ? 'help' : 'unit', wt, at);
      const s = r.lengthDelimited();
      const v = decodeUtf8(r.buf, s, r.pos);
      if (field === 2) family = v;
      else if (field === 4) help = v;
      else unit = v;
    } else {
      if (field === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${at}`);
      r.skip(wt, field);
    }
  }
  r.end = outerEnd;
  r.pos = end;
  return { type, family, help, unit };
}

/**
 * Encode a WriteRequest (not compressed: pass the result to `snappyCompress` for the wire).
 * Fields holding proto3 defaults (empty strings, +0 values, timestamp 0) are left out as Go
 * senders do; timestamps are truncated to whole ms. For tests, benchmarks and load generators.
 */
export function encodeWriteRequest(req: WriteRequestInput): Uint8Array {
  const w = new ProtoWriter(4096);
  for (let i = 0; i < req.series.length; i++) {
    const s = req.series[i];
    if (s.timestamps.length !== s.values.length) {
      throw new BadRequestError('FS_RW_ENCODE', `series ${i}: ${s.timestamps.length} timestamps but ${s.values.length} values`);
    }
    w.fork();
    for (let j = 0; j < s.labels.length; j++) {
      const [name, value] = s.labels[j];
      w.fork();
      if (name !== '') w.tag(1, WIRE_LEN).string(name);
      if (value !== '') w.tag(2, WIRE_LEN).string(value);
      w.join(1);
    }
    for (let j = 0; j < s.values.length; j++) {
      const v = s.values[j];
      const t = Math.trunc(s.timestamps[j]);
      w.fork();
      if (v !== v && isStaleMarker(v)) w.tag(1, WIRE_FIXED64).double(STALE_NAN);
      else if (v !== 0 || 1 / v < 0) w.tag(1, WIRE_FIXED64).double(v);
      if (t !== 0) w.tag(2, WIRE_VARINT).int64(t);
      w.join(2);
    }
    w.join(1);
  }
  const md = req.metadata ?? [];
  for (let i = 0; i < md.length; i++) {
    const m = md[i];
    const type = METRIC_TYPES.indexOf(m.type);
    w.fork();
    if (type > 0) w.tag(1, WIRE_VARINT).uint32(type);
    if (m.family !== '') w.tag(2, WIRE_LEN).string(m.family);
    if (m.help !== '') w.tag(4, WIRE_LEN).string(m.help);
    if (m.unit !== '') w.tag(5, WIRE_LEN).string(m.unit);
    w.join(3);
  }
  return w.finish();
}
