// Minimal protobuf wire-format reader and writer, enough for Prometheus remote-write: varints
// (64-bit ones as JS numbers), fixed64 doubles, length-delimited fields, skipping the rest.

import { BadRequestError } from '../errors/index.js';
import { utf8Length, writeUtf8 } from './utf8.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;
/** Nesting limit of groups we skip (protobuf's own parsers stop recursing at 100). */
const MAX_GROUP_DEPTH = 100;

function truncated(what: string, at: number): BadRequestError {
  return new BadRequestError('FS_RW_PROTO', `protobuf: truncated ${what} at byte ${at}`);
}

function malformed(message: string): BadRequestError {
  return new BadRequestError('FS_RW_PROTO', `protobuf: ${message}`);
}

/**
 * Cursor over a protobuf message. Byte positions in errors are offsets into the buffer the
 * reader was made for. Reading never copies; `bytes()` returns bounds of the field instead.
 */
export class ProtoReader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  private readonly view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A varint that must fit in 32 bits unsigned (tags, lengths, enums). */
  uint32(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    if (p >= end) throw truncated('varint', p);
    let b = buf[p++];
    if (b < 0x80) {
      this.pos = p;
      return b;
    }
    let r = b & 0x7f;
    let shift = 7;
    for (;;) {
      if (p >= end) throw truncated('varint', p);
      b = buf[p++];
      if (shift < 28) {
        r |= (b & 0x7f) << shift;
      } else if (shift === 28) {
        r = (r | ((b & 0x0f) << 28)) >>> 0;
        // Protobuf allows a 32-bit value encoded in up to 10 bytes (negative int32): keep the low 32 bits.
      }
      if (b < 0x80) break;
      shift += 7;
      if (shift > 63) throw malformed(`varint longer than 10 bytes at byte ${p - 1}`);
    }
    this.pos = p;
    return r >>> 0;
  }

  /** A signed 64-bit varint (int64) as a number: exact up to ±2^53, rounded beyond. */
  int64(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    let shift = 0;
    // Bytes 1..4 carry bits 0..27 of the low word.
    for (; shift < 28; shift += 7) {
      if (p >= end) throw truncated('varint', p);
      b = buf[p++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p;
        return lo;
      }
    }
    // Byte 5: 4 bits for the low word, 3 for the high one.
    if (p >= end) throw truncated('varint', p);
    b = buf[p++];
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >>> 4;
    if (b >= 0x80) {
      for (shift = 3; ; shift += 7) {
        if (p >= end) throw truncated('varint', p);
        b = buf[p++];
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
        if (shift >= 31) throw malformed(`varint longer than 10 bytes at byte ${p - 1}`);
      }
    }
    this.pos = p;
    if (hi < 0) {
      // Two's complement negative: -(~value + 1).
      return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
    }
    return hi * TWO_32 + (lo >>> 0);
  }

  /** An unsigned 64-bit varint (uint64) as a number: exact up to 2^53, rounded beyond. */
  uint64(): number {
    const v = this.int64();
    return v < 0 ? v + 2 * 2 ** 63 : v;
  }

  double(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw truncated('fixed64', p);
    this.pos = p + 8;
    return this.view.getFloat64(p, true);
  }

  /**
   * Step over a length-delimited field: returns where its payload starts and leaves `pos`
   * just after it, so the payload is `[returned value, pos)`.
   */
  lengthDelimited(): number {
    const at = this.pos;
    const len = this.uint32();
    const start = this.pos;
    if (len > this.end - start) throw truncated(`length-delimited field (${len} bytes announced)`, at);
    this.pos = start + len;
    return start;
  }

  /**
   * Skip the payload of a field whose tag has just been read. Groups (a deprecated encoding)
   * nest by recursion: deeper than MAX_GROUP_DEPTH is refused rather than blowing the stack.
   */
  skip(wireType: number, fieldNumber: number, depth = 0): void {
    switch (wireType) {
      case WIRE_VARINT: {
        const buf = this.buf;
        let p = this.pos;
        const stop = Math.min(this.end, p + 10);
        while (p < stop && buf[p] >= 0x80) p++;
        if (p >= this.end) throw truncated('varint', p);
        if (p >= stop) throw malformed(`varint longer than 10 bytes at byte ${p}`);
        this.pos = p + 1;
        return;
      }
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) throw truncated('fixed64', this.pos);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) throw truncated('fixed32', this.pos);
        this.pos += 4;
        return;
      case WIRE_START_GROUP: {
        const at = this.pos;
        if (depth >= MAX_GROUP_DEPTH) throw malformed(`groups nested deeper than ${MAX_GROUP_DEPTH} at byte ${at}`);
        for (;;) {
          if (this.pos >= this.end) throw truncated(`group ${fieldNumber}`, at);
          const tag = this.uint32();
          const wt = tag & 7;
          const fn = tag >>> 3;
          if (wt === WIRE_END_GROUP) {
            if (fn !== fieldNumber) throw malformed(`group ${fieldNumber} closed by end of group ${fn} at byte ${this.pos}`);
            return;
          }
          this.skip(wt, fn, depth + 1);
        }
      }
      default:
        throw malformed(`unexpected wire type ${wireType} for field ${fieldNumber} at byte ${this.pos}`);
    }
  }
}

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/**
 * Growable protobuf writer. Nested messages use `fork()` / `join(field)`: the payload is
 * written first and its length prefix inserted afterwards.
 */
export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  private readonly stack: number[] = [];

  constructor(initialSize = 1024) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  tag(field: number, wireType: number): this {
    return this.uint32(((field << 3) | wireType) >>> 0);
  }

  uint32(v: number): this {
    this.ensure(5);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
    return this;
  }

  /** int64 varint from an integral number (negative numbers as 10-byte two's complement). */
  int64(v: number): this {
    this.ensure(10);
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = v % TWO_32 >>> 0;
      hi = Math.floor(v / TWO_32) >>> 0;
    } else {
      const a = -v;
      let l = ~(a % TWO_32 >>> 0) >>> 0;
      let h = ~(Math.floor(a / TWO_32) >>> 0) >>> 0;
      l += 1;
      if (l === TWO_32) {
        l = 0;
        h = (h + 1) >>> 0;
      }
      lo = l;
      hi = h;
    }
    const buf = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo >= 0x80) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[p++] = lo;
    this.pos = p;
    return this;
  }

  double(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  string(s: string): this {
    const n = utf8Length(s);
    this.uint32(n);
    this.ensure(n);
    this.pos = writeUtf8(this.buf, this.pos, s);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Start a nested message; close it with `join`. */
  fork(): this {
    this.stack.push(this.pos);
    return this;
  }

  /** Close the message opened by the matching `fork` as length-delimited field `field`. */
  join(field: number): this {
    const start = this.stack.pop();
    if (start === undefined) throw new Error('ProtoWriter.join without fork');
    const len = this.pos - start;
    const tag = ((field << 3) | WIRE_LEN) >>> 0;
    const prefix = varintSize(tag) + varintSize(len);
    this.ensure(prefix);
    this.buf.copyWithin(start + prefix, start, this.pos);
    const end = this.pos + prefix;
    this.pos = start;
    this.uint32(tag).uint32(len);
    this.pos = end;
    return this;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
