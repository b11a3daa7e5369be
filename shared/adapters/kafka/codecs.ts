// Registers the compression codecs kafkajs lacks (snappy, lz4, zstd) so consumers read batches
// compressed by any Kafka client (Telegraf's Kafka output among them). gzip is kafkajs's own.

import kafkajs from 'kafkajs';
import {
  lz4FrameCompress, lz4FrameDecompress, xerialSnappyCompress, xerialSnappyDecompress, zstdCompressStored, zstdDecompress,
} from '../../codecs/index.js';

// kafkajs is CommonJS: Node's ESM loader exposes only its default export reliably.
const { CompressionCodecs, CompressionTypes } = kafkajs;

export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export const COMPRESSION: Readonly<Record<KafkaCompression, number>> = Object.freeze({
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
});

/** Largest decompressed record batch accepted (a batch beyond it fails the fetch). */
export const MAX_DECOMPRESSED_BATCH = 256 * 1024 * 1024;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function codec(compress: (src: Uint8Array) => Uint8Array, decompress: (src: Uint8Array, max: number) => Uint8Array): () => Codec {
  const c: Codec = {
    compress: async (encoder) => asBuffer(compress(encoder.buffer)),
    decompress: async (buffer) => asBuffer(decompress(buffer, MAX_DECOMPRESSED_BATCH)),
  };
  return () => c;
}

let registered = false;

/** Idempotent; the KafkaBus constructor calls it. */
export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as unknown as Record<number, () => Codec>;
  codecs[CompressionTypes.Snappy] = codec(xerialSnappyCompress, xerialSnappyDecompress);
  codecs[CompressionTypes.LZ4] = codec(lz4FrameCompress, lz4FrameDecompress);
  codecs[CompressionTypes.ZSTD] = codec(zstdCompressStored, zstdDecompress);
}
