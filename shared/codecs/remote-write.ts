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
    const tag = readTag(r);
    const field = tag >>> 3;
    const wt = tag & 7;
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
      readMetadataField(r, wt, at, metadata);
    } else {
      r.skip(wt, field);
    }
  }
  return { series, metadata, samples, exemplars, histograms };
}

/** A WriteRequest metadata field (number 3, wire type `wt`, tag at `at`), decoded into `out`. */
function readMetadataField(r: ProtoReader, wt: number, at: number, out: RemoteWriteMetadata[]): void {
  if (wt !== WIRE_LEN) throw wrongWireType('WriteRequest', 'metadata', wt, at);
  const start = r.lengthDelimited();
  out.push(decodeMetadata(r, start, r.pos));
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
      readSample(r, sStart, r.pos, end);
      timestamps[k] = sampleTs;
      values[k] = sampleValue;
      k++;
    } else if (field === 1) {
      if (wt !== WIRE_LEN) throw wrongWireType('TimeSeries', 'labels', wt, at);
      const lStart = r.lengthDelimited();
      const lEnd = r.pos;
      if (++labelCount > maxLabels) continue;
      labels.push(readLabel(r, buf, lStart, lEnd, end));
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

/** The next field's tag (field number `tag >>> 3`, wire type `tag & 7`); throws on field number 0. */
function readTag(r: ProtoReader): number {
  const at = r.pos;
  const tag = r.uint32();
  if (tag >>> 3 === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${at}`);
  return tag;
}

/** What readSample read last: module variables, so a sample costs no allocation. */
let sampleTs = 0;
let sampleValue = 0;

/**
 * One Sample message at [sStart, sEnd) into sampleTs / sampleValue (0 when a field is
 * missing); leaves the reader after it, bounded by `end` (the enclosing TimeSeries) again.
 */
function readSample(r: ProtoReader, sStart: number, sEnd: number, end: number): void {
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
  sampleTs = ts;
  sampleValue = value;
}

/**
 * One Label message at buf[lStart, lEnd) as [name, value] (missing fields are ''); leaves the
 * reader after it, bounded by `end` (the enclosing TimeSeries) again.
 */
function readLabel(r: ProtoReader, buf: Uint8Array, lStart: number, lEnd: number, end: number): [string, string] {
  r.pos = lStart;
  r.end = lEnd;
  let name = '';
  let value = '';
  for (let f = nextLabelPart(r, lEnd); f !== 0; f = nextLabelPart(r, lEnd)) {
    if (f === 1) name = decodeUtf8(buf, partStart, r.pos);
    else value = decodeUtf8(buf, partStart, r.pos);
  }
  r.end = end;
  return [name, value];
}

/** Where the bytes of the part nextLabelPart returned start (they end at the reader's position). */
let partStart = 0;

/**
 * Moves past the next name (returns 1) or value (2) field of a Label message ending at `lEnd`,
 * skipping unknown fields; its bytes are [partStart, r.pos). 0 when none is left.
 */
function nextLabelPart(r: ProtoReader, lEnd: number): number {
  while (r.pos < lEnd) {
    const fat = r.pos;
    const ltag = r.uint32();
    const lf = ltag >>> 3;
    if (lf === 1 || lf === 2) {
      if ((ltag & 7) !== WIRE_LEN) throw wrongWireType('Label', lf === 1 ? 'name' : 'value', ltag & 7, fat);
      partStart = r.lengthDelimited();
      return lf;
    }
    if (lf === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${fat}`);
    r.skip(ltag & 7, lf);
  }
  return 0;
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

/** What `scanWriteRequest` hands its caller, in wire order. */
export interface WriteRequestVisitor {
  /** The request's metadata, once, before its first series (not called when there is none). */
  metadata(list: RemoteWriteMetadata[]): void;
  /**
   * A timeseries begins. Its Label fields are in `buf[labelsStart, labelsEnd)`. When
   * `contiguous`, the range holds those fields and nothing else, exactly as sent (the same
   * series sent the same way gives the same bytes: a key for caching what the labels mean);
   * otherwise labels are interleaved with other fields and the range is the whole TimeSeries.
   * Either way `decodeLabels` reads them. Nothing in the range has been checked yet beyond the
   * field framing: `decodeLabels` checks the Label messages as `decodeWriteRequest` does.
   */
  series(buf: Uint8Array, labelsStart: number, labelsEnd: number, contiguous: boolean): void;
  /** One sample of the series begun last, in wire order. */
  sample(timestampMs: number, value: number): void;
}

/** Totals of a scanned request. */
export interface WriteRequestTotals {
  series: number;
  samples: number;
  exemplars: number;
  histograms: number;
  metadata: number;
}

/**
 * Walk a snappy-decompressed remote-write body without building it: the visitor sees the
 * metadata, then every series' label bytes and samples, and no string or array is made per
 * series. Refuses what `decodeWriteRequest` refuses, with the same errors (the series before
 * the faulty field have been visited by then: a caller keeping state must undo them).
 */
export function scanWriteRequest(buf: Uint8Array, options: DecodeWriteRequestOptions | undefined, visitor: WriteRequestVisitor): WriteRequestTotals {
  const maxSeries = options?.maxSeries ?? Infinity;
  const maxSamples = options?.maxSamples ?? Infinity;
  const r = new ProtoReader(buf);
  // Pass one, over the top-level fields only: metadata first (series kinds may depend on it),
  // and where the first error is, to raise it where decodeWriteRequest would.
  const metadata: RemoteWriteMetadata[] = [];
  let failAt = -1;
  let failure: unknown = null;
  try {
    while (r.pos < r.end) {
      const at = r.pos;
      failAt = at;
      const tag = readTag(r);
      const field = tag >>> 3;
      const wt = tag & 7;
      if (field === 1) {
        if (wt !== WIRE_LEN) throw wrongWireType('WriteRequest', 'timeseries', wt, at);
        r.lengthDelimited();
      } else if (field === 3) {
        readMetadataField(r, wt, at, metadata);
      } else {
        r.skip(wt, field);
      }
    }
    failAt = -1;
  } catch (err) {
    failure = err;
  }
  if (failure === null && metadata.length > 0) visitor.metadata(metadata);
  const totals: WriteRequestTotals = { series: 0, samples: 0, exemplars: 0, histograms: 0, metadata: metadata.length };
  r.pos = 0;
  r.end = buf.length;
  while (r.pos < r.end) {
    if (r.pos === failAt) throw failure;
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skip(tag & 7, tag >>> 3);
      continue;
    }
    if (totals.series >= maxSeries) throw tooManySeries(maxSeries);
    const start = r.lengthDelimited();
    scanSeries(r, start, r.pos, totals, maxSamples, visitor);
    totals.series++;
  }
  if (failure !== null) throw failure;
  return totals;
}

function scanSeries(r: ProtoReader, start: number, end: number, totals: WriteRequestTotals, maxSamples: number, visitor: WriteRequestVisitor): void {
  const outerEnd = r.end;
  r.end = end;
  // Pass one over the field headers: count samples, find the labels and whether they are one run.
  let count = 0;
  let labelsStart = -1;
  let labelsEnd = -1;
  let contiguous = true;
  r.pos = start;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    if (tag >>> 3 === 0) throw new BadRequestError('FS_RW_PROTO', `protobuf: invalid field number 0 at byte ${at}`);
    if (tag === ((1 << 3) | WIRE_LEN)) {
      if (labelsStart < 0) labelsStart = at;
      else if (labelsEnd !== at) contiguous = false;
      r.skip(WIRE_LEN, 1);
      labelsEnd = r.pos;
      continue;
    }
    if (tag >>> 3 === 1) throw wrongWireType('TimeSeries', 'labels', tag & 7, at);
    if (tag === ((2 << 3) | WIRE_LEN)) count++;
    else if (tag >>> 3 === 2) throw wrongWireType('TimeSeries', 'samples', tag & 7, at);
    r.skip(tag & 7, tag >>> 3);
  }
  if (totals.samples + count > maxSamples) throw tooManySamples(maxSamples);
  if (labelsStart < 0) visitor.series(r.buf, start, start, true);
  else if (contiguous) visitor.series(r.buf, labelsStart, labelsEnd, true);
  else visitor.series(r.buf, start, end, false);
  // Pass two: the samples (framing was checked above; only their own fields remain).
  r.pos = start;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (tag === ((2 << 3) | WIRE_LEN)) {
      const sStart = r.lengthDelimited();
      readSample(r, sStart, r.pos, end);
      visitor.sample(sampleTs, sampleValue);
    } else {
      if (field === 3) totals.exemplars++;
      else if (field === 4) totals.histograms++;
      r.skip(tag & 7, field);
    }
  }
  totals.samples += count;
  r.end = outerEnd;
  r.pos = end;
}

let lastReader: ProtoReader | null = null;

/** A reader over `buf[start, end)`: the last one made, when it reads the same buffer (these run once per series). */
function readerFor(buf: Uint8Array, start: number, end: number): ProtoReader {
  let r = lastReader;
  if (r === null || r.buf !== buf) lastReader = r = new ProtoReader(buf, start, end);
  r.pos = start;
  r.end = end;
  return r;
}

/**
 * Moves the reader past the next Label field (TimeSeries field 1) before `end`, skipping other
 * fields, and returns where the Label message starts (the reader is at its end); -1 when there
 * is none left.
 */
function nextLabelField(r: ProtoReader, end: number): number {
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field !== 1) {
      r.skip(wt, field);
      continue;
    }
    if (wt !== WIRE_LEN) throw wrongWireType('TimeSeries', 'labels', wt, at);
    return r.lengthDelimited();
  }
  return -1;
}

/**
 * The labels among the fields in `buf[start, end)` (a range `scanWriteRequest` gave), as
 * `decodeWriteRequest` decodes them: pairs in wire order into `out` (emptied first), at most
 * `maxLabels` of them. Returns how many Label fields there were. Throws BadRequestError
 * ('FS_RW_PROTO') on a malformed Label.
 */
export function decodeLabels(buf: Uint8Array, start: number, end: number, maxLabels: number, out: [string, string][]): number {
  out.length = 0;
  const r = readerFor(buf, start, end);
  let labelCount = 0;
  for (let lStart = nextLabelField(r, end); lStart >= 0; lStart = nextLabelField(r, end)) {
    const lEnd = r.pos;
    if (++labelCount > maxLabels) continue;
    out.push(readLabel(r, buf, lStart, lEnd, end));
  }
  return labelCount;
}

/**
 * Checks the Label fields among `buf[start, end)` as `decodeLabels` does (same errors), without
 * making strings. True when there are at most `maxLabels` of them and every name and value is
 * within `maxNameBytes` / `maxValueBytes` UTF-8 bytes: then no name or value can be longer in
 * characters either (a character never takes fewer bytes than UTF-16 units). False says only
 * "maybe": decode the labels to check exactly.
 */
export function labelsWithinBytes(buf: Uint8Array, start: number, end: number, maxLabels: number, maxNameBytes: number, maxValueBytes: number): boolean {
  const r = readerFor(buf, start, end);
  let labelCount = 0;
  for (let lStart = nextLabelField(r, end); lStart >= 0; lStart = nextLabelField(r, end)) {
    const lEnd = r.pos;
    if (++labelCount > maxLabels) return false;
    r.pos = lStart;
    r.end = lEnd;
    for (let f = nextLabelPart(r, lEnd); f !== 0; f = nextLabelPart(r, lEnd)) {
      if (r.pos - partStart > (f === 1 ? maxNameBytes : maxValueBytes)) return false;
    }
    r.end = end;
  }
  return true;
}
