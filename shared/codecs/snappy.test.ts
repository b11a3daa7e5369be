import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../errors/index.js';
import { snappyCompress, snappyDecompress, snappyMaxCompressedLength, snappyUncompressedLength } from './snappy.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const text = (s: string) => new TextEncoder().encode(s);
const LIMIT = 64 << 20;
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

function expectSnappyError(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BadRequestError);
  expect((err as BadRequestError).code).toBe('FS_SNAPPY');
  expect((err as BadRequestError).status).toBe(400);
  expect((err as BadRequestError).message).toMatch(message);
}

/** Inputs that compress: runs of a few repeated words, like label sets and metric names. */
const compressible = fc
  .array(fc.constantFrom('node_cpu_seconds_total', 'instance', '127.0.0.1:9100', 'job', 'mode', 'idle', '\u0000', 'x', 'é'), { maxLength: 3000 })
  .map((words) => text(words.join('')));

describe('snappy', () => {
  it('decodes blocks made by the reference C++ encoder', () => {
    expect(snappyDecompress(hex('00'), LIMIT)).toEqual(new Uint8Array(0));
    expect(snappyDecompress(hex('010061'), LIMIT)).toEqual(text('a'));
    expect(snappyDecompress(hex('140c616263643e0400'), LIMIT)).toEqual(text('abcd'.repeat(5)));
    expect(snappyDecompress(hex('242c68656c6c6f20776f726c64205a0c000021'), LIMIT)).toEqual(text('hello world hello world hello world!'));
  });

  it('decodes every copy form, including overlapping copies', () => {
    // "ab", copy-1 (len 4, offset 2, overlapping), copy-4 (len 2, offset 6), copy-2 (len 2, offset 4).
    const block = hex('0a 04 6162 01 02 07 06000000 06 0400');
    expect(new TextDecoder().decode(snappyDecompress(block, LIMIT))).toBe('ababababab');
    // Literal with a one-byte length (60 tag): 70 bytes.
    const lit = new Uint8Array(70).fill(0x7a);
    const withLen = new Uint8Array([70, 60 << 2, 69, ...lit]);
    expect(snappyDecompress(withLen, LIMIT)).toEqual(lit);
  });

  it('round-trips random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (input) => {
        expect(snappyDecompress(snappyCompress(input), input.length)).toEqual(input);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips compressible data and actually compresses it', () => {
    fc.assert(
      fc.property(compressible, (input) => {
        const packed = snappyCompress(input);
        expect(snappyDecompress(packed, input.length)).toEqual(input);
        expect(packed.length).toBeLessThanOrEqual(snappyMaxCompressedLength(input.length));
        if (input.length > 1000) expect(packed.length).toBeLessThan(input.length / 2);
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips inputs larger than one 64 KiB block, with matches across the block boundary', () => {
    const big = text('cpu,host=server01,region=eu value=0.64 1434055562000000000\n'.repeat(4000));
    const rnd = new Uint8Array(200_000);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
    for (const input of [big, rnd, new Uint8Array(65536), new Uint8Array(65537).fill(7)]) {
      const packed = snappyCompress(input);
      expect(snappyUncompressedLength(packed)).toBe(input.length);
      expect(sameBytes(snappyDecompress(packed, input.length), input)).toBe(true);
    }
    expect(snappyCompress(big).length).toBeLessThan(big.length / 10);
  });

  it('checks the announced length against the limit before allocating', () => {
    // Preamble announces 4 GiB - 1 in five bytes, followed by nothing.
    // A preamble no block of this size can fill is corrupt, refused before allocating.
    expectSnappyError(() => snappyDecompress(hex('ffffffff0f'), 1 << 20), /preamble announces 4294967295 bytes, more than 0 bytes of block can hold/);
    expectSnappyError(() => snappyDecompress(hex('80808040 00 61'), 1 << 30), /announces 134217728 bytes, more than 2 bytes/);
    // A real block larger than the limit is too large (413), not malformed.
    let tooLarge: unknown;
    try {
      snappyDecompress(snappyCompress(new Uint8Array(100)), 99);
    } catch (e) {
      tooLarge = e;
    }
    expect(tooLarge).toMatchObject({ code: 'FS_SNAPPY_TOO_LARGE', status: 413, message: expect.stringMatching(/uncompressed length 100 exceeds the limit of 99 bytes/) });
  });

  it('rejects corrupt input with a clear reason', () => {
    expectSnappyError(() => snappyDecompress(new Uint8Array(0), LIMIT), /empty input/);
    expectSnappyError(() => snappyDecompress(hex('80'), LIMIT), /truncated length preamble/);
    expectSnappyError(() => snappyDecompress(hex('ffffffff1f'), LIMIT), /exceeds 32 bits/);
    expectSnappyError(() => snappyDecompress(hex('ffffffffff01'), LIMIT), /exceeds 32 bits/);
    // Truncated: literal announces 4 bytes, 2 present.
    expectSnappyError(() => snappyDecompress(hex('04 0c 6162'), LIMIT), /literal of 4 bytes at byte 2 runs past the end/);
    // Truncated in the literal's length bytes.
    expectSnappyError(() => snappyDecompress(hex('04 f4'), LIMIT), /truncated literal length/);
    // Offset beyond output: copy at output 1 with offset 2.
    expectSnappyError(() => snappyDecompress(hex('05 00 61 01 02'), LIMIT), /copy offset 2 at output byte 1/);
    // Offset 0 is never valid.
    expectSnappyError(() => snappyDecompress(hex('05 00 61 01 00'), LIMIT), /copy offset 0/);
    // Length overflow: literal longer than announced.
    expectSnappyError(() => snappyDecompress(hex('01 04 6162'), LIMIT), /overflows the announced length 1/);
    // Length overflow: copy longer than announced.
    expectSnappyError(() => snappyDecompress(hex('03 00 61 01 01'), LIMIT), /copy of 4 bytes overflows the announced length 3/);
    // Output shorter than announced.
    expectSnappyError(() => snappyDecompress(hex('05 04 6162'), LIMIT), /decompressed 2 bytes, preamble announced 5/);
    // Copy tags cut short.
    expectSnappyError(() => snappyDecompress(hex('05 00 61 01'), LIMIT), /truncated copy/);
    expectSnappyError(() => snappyDecompress(hex('05 00 61 02 01'), LIMIT), /truncated copy/);
    expectSnappyError(() => snappyDecompress(hex('05 00 61 03 01 00'), LIMIT), /truncated copy/);
  });

  it('never fails on arbitrary bytes with anything but a coded error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
        try {
          const out = snappyDecompress(junk, 1 << 16);
          expect(out.length).toBe(snappyUncompressedLength(junk));
        } catch (e) {
          expect(e).toBeInstanceOf(BadRequestError);
          expect((e as BadRequestError).code).toBe('FS_SNAPPY');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every truncation of a valid block', () => {
    const packed = snappyCompress(text('node_cpu_seconds_total{mode="idle"} '.repeat(50)));
    for (let cut = 0; cut < packed.length; cut++) {
      expect(() => snappyDecompress(packed.subarray(0, cut), LIMIT)).toThrow(BadRequestError);
    }
  });
});
