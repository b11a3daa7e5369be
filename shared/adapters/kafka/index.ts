// Kafka adapter: the Bus port on kafkajs, and the compression codecs it registers.

export { KafkaBus, KAFKA_BUS_DEFAULTS } from './kafka-bus.js';
export type { KafkaBusOptions, KafkaBusStats, KafkaSasl } from './kafka-bus.js';
export { registerKafkaCodecs, COMPRESSION, MAX_DECOMPRESSED_BATCH, type KafkaCompression } from './codecs.js';
