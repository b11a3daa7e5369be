import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors/index.js';
import { ProtoReader, ProtoWriter, WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_START_GROUP, WIRE_END_GROUP, WIRE_VARINT } from './protobuf.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function protoError(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    expect((e as BadRequestError).code).toBe('FS_RW_PROTO');
    return e as BadRequestError;
  }
  throw new Error('expected a protobuf error');
}

describe('protobuf wire format', () => {
  it('reads int64 varints as Go writes them, negatives as ten bytes', () => {
    expect(new ProtoReader(hex('00')).int64()).toBe(0);
    expect(new ProtoReader(hex('ac02')).int64()).toBe(300);
    // 1700000000000 ms, a typical remote-write timestamp (6 bytes).
    expect(new ProtoReader(hex('80d095ffbc31')).int64()).toBe(1_700_000_000_000);
    expect(new ProtoReader(hex('ffffffffffffffffff01')).int64()).toBe(-1);
    expect(new ProtoReader(hex('80808080808080808001')).int64()).toBe(-(2 ** 63));
    expect(new ProtoReader(hex('ffffffffffffffff7f')).int64()).toBe(2 ** 63 - 1);
    expect(new ProtoReader(hex('ffffffffffffffffff01')).uint64()).toBe(2 ** 64 - 1);
  });

  it('round-trips int64 and uint32 through the writer', () => {
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 0xffffffff }), (i, u) => {
        const w = new ProtoWriter(4).int64(i).uint32(u).double(i / 7);
        const r = new ProtoReader(w.finish());
        expect(r.int64()).toBe(i);
        expect(r.uint32()).toBe(u);
        expect(r.double()).toBe(i / 7);
        expect(r.pos).toBe(r.end);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the low 32 bits of an over-long uint32 varint (negative int32 enums)', () => {
    expect(new ProtoReader(hex('ffffffffffffffffff01')).uint32()).toBe(0xffffffff);
  });

  it('skips fields of every wire type, groups included', () => {
    const w = new ProtoWriter();
    w.tag(9, WIRE_VARINT).int64(-5);
    w.tag(10, WIRE_FIXED64).double(1.5);
    w.tag(11, WIRE_LEN).string('skip me');
    w.tag(12, WIRE_FIXED32).uint32(0).uint32(0).uint32(0).uint32(0); // four one-byte varints = 4 bytes
    w.tag(13, WIRE_START_GROUP).tag(1, WIRE_VARINT).uint32(7).tag(14, WIRE_START_GROUP).tag(14, WIRE_END_GROUP).tag(13, WIRE_END_GROUP);
    w.tag(1, WIRE_VARINT).uint32(42);
    const r = new ProtoReader(w.finish());
    for (;;) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) break;
      r.skip(tag & 7, tag >>> 3);
    }
    expect(r.uint32()).toBe(42);
    expect(r.pos).toBe(r.end);
  });

  it('reports truncation with the byte offset', () => {
    expect(protoError(() => new ProtoReader(hex('ac')).uint32()).message).toBe('protobuf: truncated varint at byte 1');
    expect(protoError(() => new ProtoReader(hex('80808080')).int64()).message).toBe('protobuf: truncated varint at byte 4');
    expect(protoError(() => new ProtoReader(hex('0102')).double()).message).toBe('protobuf: truncated fixed64 at byte 0');
    expect(protoError(() => new ProtoReader(hex('05 6162')).lengthDelimited()).message).toBe(
      'protobuf: truncated length-delimited field (5 bytes announced) at byte 0',
    );
    expect(protoError(() => new ProtoReader(hex('0102')).skip(WIRE_FIXED32, 3)).message).toBe('protobuf: truncated fixed32 at byte 0');
    expect(protoError(() => new ProtoReader(hex('08 01')).skip(WIRE_START_GROUP, 5)).message).toMatch(/truncated group 5 at byte 0/);
    expect(protoError(() => new ProtoReader(hex('ffffffffffffffffffff01')).int64()).message).toMatch(/varint longer than 10 bytes/);
    expect(protoError(() => new ProtoReader(hex('00')).skip(7, 2)).message).toMatch(/unexpected wire type 7 for field 2/);
    expect(protoError(() => new ProtoReader(hex('2c')).skip(WIRE_START_GROUP, 4)).message).toMatch(/group 4 closed by end of group 5/);
  });
});
