// Kafka's batch compression formats: decoding fixtures written by the reference libraries
// (test/fixtures/kafka-compression/README.md), round trips of our encoders, and corrupt input.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lz4FrameCompress, lz4FrameDecompress } from './lz4-frame.js';
import { isXerialSnappy, xerialSnappyCompress, xerialSnappyDecompress } from './xerial-snappy.js';
import { xxhash32 } from './xxhash32.js';
import { zstdCompressStored, zstdDecompress } from './zstd.js';

const dir = new URL('../../test/fixtures/kafka-compression/', import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const content = fixture('lines.txt');
const MAX = 64 * 1024 * 1024;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('xxhash32', () => {
  it('matches the reference values', () => {
    // Values from the xxHash reference implementation (XXH32).
    expect(xxhash32(new Uint8Array(0), 0)).toBe(0x02cc5d05);
    expect(xxhash32(new TextEncoder().encode('a'), 0)).toBe(0x550d7456);
    expect(xxhash32(new TextEncoder().encode('abc'), 0)).toBe(0x32d153ff);
    expect(xxhash32(new TextEncoder().encode('Nobody inspects the spammish repetition'), 0)).toBe(0xe2293b2f);
  });
});

describe('lz4 frame', () => {
  for (const name of ['lines.lz4', 'lines-blockchecksum-linked.lz4', 'lines-hc.lz4']) {
    it(`decodes ${name} (liblz4) to the original`, () => {
      expect(same(lz4FrameDecompress(fixture(name), MAX), content)).toBe(true);
    });
  }

  it('round-trips any bytes, compresses repetitive text, and decodes concatenated frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200_000 }), (data) => {
        expect(same(lz4FrameDecompress(lz4FrameCompress(data), MAX), data)).toBe(true);
      }),
      { numRuns: 60 },
    );
    const packed = lz4FrameCompress(content);
    expect(packed.length).toBeLessThan(content.length / 2);
    const two = Buffer.concat([packed, lz4FrameCompress(content.subarray(0, 10))]);
    expect(lz4FrameDecompress(two, MAX).length).toBe(content.length + 10);
  });

  it('refuses corrupt input with FS_LZ4 and oversized content with 413', () => {
    const good = fixture('lines.lz4');
    const flip = (i: number) => {
      const b = good.slice();
      b[i] ^= 0x40;
      return b;
    };
    expect(() => lz4FrameDecompress(flip(0), MAX)).toThrow(expect.objectContaining({ code: 'FS_LZ4' }));
    expect(() => lz4FrameDecompress(flip(5), MAX)).toThrow(expect.objectContaining({ code: 'FS_LZ4' }));
    expect(() => lz4FrameDecompress(flip(good.length - 2), MAX)).toThrow(expect.objectContaining({ code: 'FS_LZ4' }));
    expect(() => lz4FrameDecompress(good.subarray(0, good.length - 9), MAX)).toThrow(expect.objectContaining({ code: 'FS_LZ4' }));
    expect(() => lz4FrameDecompress(new Uint8Array(0), MAX)).toThrow(expect.objectContaining({ code: 'FS_LZ4' }));
    expect(() => lz4FrameDecompress(good, 1000)).toThrow(expect.objectContaining({ status: 413 }));
    // Random garbage never escapes as anything but a coded error.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
        const b = Buffer.concat([good.subarray(0, 7), junk]);
        try {
          lz4FrameDecompress(b, 1 << 20);
        } catch (err) {
          expect((err as { code?: string }).code).toMatch(/^FS_LZ4/);
        }
      }),
    );
  });
});

describe('zstd', () => {
  for (const name of ['lines.zst', 'lines-stream.zst']) {
    it(`decodes ${name} (libzstd) to the original`, () => {
      expect(same(zstdDecompress(fixture(name), MAX), content)).toBe(true);
    });
  }

  it('writes frames any decoder reads (round trip, several blocks, empty)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300_000 }), (data) => {
        expect(same(zstdDecompress(zstdCompressStored(data), MAX), data)).toBe(true);
      }),
      { numRuns: 30 },
    );
    expect(zstdDecompress(zstdCompressStored(new Uint8Array(0)), MAX).length).toBe(0);
  });

  it('refuses corrupt input with FS_ZSTD and oversized content with 413', () => {
    const good = fixture('lines.zst');
    const bad = good.slice();
    bad[0] ^= 0xff;
    expect(() => zstdDecompress(bad, MAX)).toThrow(expect.objectContaining({ code: 'FS_ZSTD' }));
    expect(() => zstdDecompress(good.subarray(0, 100), MAX)).toThrow(expect.objectContaining({ code: 'FS_ZSTD' }));
    expect(() => zstdDecompress(good, 10_000)).toThrow(expect.objectContaining({ status: 413 }));
  });
});

describe('snappy as Kafka carries it', () => {
  it('decodes the xerial framing (snappy-java) and a bare block (librdkafka, sarama)', () => {
    const x = fixture('lines.xerial-snappy');
    expect(isXerialSnappy(x)).toBe(true);
    expect(same(xerialSnappyDecompress(x, MAX), content)).toBe(true);
    const bare = fixture('lines.snappy');
    expect(isXerialSnappy(bare)).toBe(false);
    expect(same(xerialSnappyDecompress(bare, MAX), content)).toBe(true);
  });

  it('writes the framing snappy-java writes, byte for byte, over the same blocks', () => {
    // Same block size and header as the fixture: only the block compressor may differ, so
    // compare the framing and decode.
    const ours = xerialSnappyCompress(content);
    const ref = fixture('lines.xerial-snappy');
    expect(same(ours.subarray(0, 16), ref.subarray(0, 16))).toBe(true);
    expect(same(xerialSnappyDecompress(ours, MAX), content)).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100_000 }), (data) => {
        expect(same(xerialSnappyDecompress(xerialSnappyCompress(data), MAX), data)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a truncated frame and oversized content', () => {
    const x = fixture('lines.xerial-snappy');
    expect(() => xerialSnappyDecompress(x.subarray(0, 30), MAX)).toThrow(expect.objectContaining({ code: 'FS_SNAPPY' }));
    expect(() => xerialSnappyDecompress(x, 50_000)).toThrow(expect.objectContaining({ status: 413 }));
  });
});
