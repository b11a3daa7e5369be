// Public surface of the wire codecs: what receivers, ingest and the detector's Kafka glue
// use to turn bodies and topic messages into samples and back.

export { snappyCompress, snappyDecompress, snappyMaxCompressedLength, snappyUncompressedLength } from './snappy.js';
export { ProtoReader, ProtoWriter } from './protobuf.js';
export {
  decodeLabels,
  decodeWriteRequest,
  encodeWriteRequest,
  scanWriteRequest,
  isStaleMarker,
  labelsWithinBytes,
  METRIC_TYPES,
  STALE_NAN,
  STALE_NAN_BITS,
  type DecodeWriteRequestOptions,
  type MetricMetadataType,
  type RemoteWriteMetadata,
  type RemoteWriteSeries,
  type WriteRequest,
  type WriteRequestInput,
  type WriteRequestTotals,
  type WriteRequestVisitor,
} from './remote-write.js';
export * from './raw-envelope.js';
export {
  formatLineProtocol,
  parseLineProtocol,
  type FieldType,
  type FieldValue,
  type LineProtocolError,
  type LineProtocolPoint,
  type LineProtocolPointInput,
  type ParseResult,
  type Precision,
} from './line-protocol.js';
export {
  decodeSampleBatch, decodeSeriesHead, encodeSampleBatch, encodeSampleBatchColumns, encodeSeriesHead, scanSampleBatch, SAMPLE_BATCH_VERSION,
  type DecodeSampleBatchOptions, type SampleBatchColumns, type SampleBatchVisitor,
} from './sample-batch.js';
export * from './nab-csv.js';
export * from './limits.js';
export { lz4FrameCompress, lz4FrameDecompress } from './lz4-frame.js';
export { isXerialSnappy, xerialSnappyCompress, xerialSnappyDecompress } from './xerial-snappy.js';
export { zstdCompressStored, zstdDecompress } from './zstd.js';
export { xxhash32 } from './xxhash32.js';
export { BytesMap, hashBytes, type BytesMapOptions } from './bytes-map.js';
