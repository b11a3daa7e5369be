// KafkaBus against a real broker: the shared Bus conformance suite, then what only Kafka has
// (compressed batches from other clients, the options it refuses). Topic and group names are
// unique per run, so concurrent suites on the shared broker do not see each other.

import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { busConformance } from '../../shared/adapters/conformance/index.js';
import { KafkaBus, registerKafkaCodecs, type KafkaBusOptions } from '../../shared/adapters/kafka/index.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const { CompressionTypes, Kafka, Partitioners, logLevel } = kafkajs;
const broker = requireService('kafka');

/** Settings that make rebalances quick enough for a test. */
export function testBusOptions(brokers: string): KafkaBusOptions {
  return { brokers: [brokers], clientId: 'foreshock-test', heartbeatIntervalMs: 300, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, retryBackoffMs: 20 };
}

describe.skipIf(!broker)('KafkaBus on a real broker', () => {
  const brokers = broker!;
  const made: KafkaBus[] = [];
  const prefix = `fs-kbus-${randomBytes(4).toString('hex')}-`;
  afterAll(async () => {
    await Promise.all(made.map((b) => b.close()));
    // The broker is shared: remove exactly the topics this run created.
    const admin = new Kafka({ clientId: `${prefix}cleanup`, brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  });

  busConformance('kafka', async () => new KafkaBus(testBusOptions(brokers)), { timeoutMs: 60_000, namePrefix: `${prefix}conf-` });

  for (const [codec, type] of [
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const) {
    it(`consumes ${codec} batches written by kafkajs and by the broker itself (Java codecs)`, async () => {
      registerKafkaCodecs();
      const run = `${prefix}${codec}`;
      const byClient = `${run}-client`;
      const byBroker = `${run}-broker`;
      const bus = new KafkaBus(testBusOptions(brokers));
      made.push(bus);
      const kafka = new Kafka({ clientId: 'foreshock-test-producer', brokers: [brokers], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      try {
        await bus.ensureTopics([{ name: byClient, partitions: 2 }]);
        // With compression.type set on the topic, the broker recompresses every batch with the
        // JVM's codec (snappy-java's xerial framing, lz4-java, zstd-jni), as Java clients write it.
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: byBroker, numPartitions: 2, configEntries: [{ name: 'compression.type', value: codec }] }] });
      } finally {
        await admin.disconnect();
      }
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const lines = Array.from({ length: 400 }, (_, i) => `cpu,host=h${i % 7} usage=${(i * 1.5).toFixed(1)} ${1_700_000_000_000 + i}`);
      const messages = lines.map((l, i) => ({ key: i % 3 === 0 ? null : `h${i % 7}`, value: l }));
      try {
        await producer.send({ topic: byClient, compression: type, messages });
        await producer.send({ topic: byBroker, messages });
      } finally {
        await producer.disconnect();
      }
      for (const topic of [byClient, byBroker]) {
        const got: string[] = [];
        const sub = await bus.subscribe({
          groupId: `${topic}-g`,
          topics: [topic],
          eachBatch: async (b) => void got.push(...b.messages.map((m) => Buffer.from(m.value).toString())),
        });
        await waitFor(async () => (got.length >= lines.length ? true : null), 30_000);
        await sub.close();
        expect(got.sort()).toEqual([...lines].sort());
      }
    });
  }

  it('holds batches back while backPressure answers, leaves them in Kafka, and delivers each once after', async () => {
    let over: string | null = 'heap above the mark';
    const bus = new KafkaBus({ ...testBusOptions(brokers), backPressure: () => over, backPressureDelayMs: 50 });
    made.push(bus);
    const topic = `${prefix}held`;
    const group = `${topic}-g`;
    await bus.ensureTopics([{ name: topic, partitions: 2 }]);
    const sent = Array.from({ length: 60 }, (_, i) => `m${i}`);
    const got: string[] = [];
    const sub = await bus.subscribe({ groupId: group, topics: [topic], eachBatch: async (b) => void got.push(...b.messages.map((m) => Buffer.from(m.value).toString())) });
    await bus.send(topic, sent.map((v, i) => ({ key: `k${i % 5}`, value: Buffer.from(v) })));
    // Fetched and held back, again and again: nothing reaches the handler or is committed.
    await waitFor(async () => (bus.stats.heldBack >= 6 ? true : null), 30_000);
    expect(got).toEqual([]);
    expect(await bus.lag(topic, group)).toBe(sent.length);
    over = null;
    await waitFor(async () => (got.length >= sent.length && (await bus.lag(topic, group)) === 0 ? true : null), 30_000);
    await sub.close();
    expect(got.sort()).toEqual([...sent].sort());
  });

  it('merges sends made while one is in flight into one request, each resolving once durable, in order per key', async () => {
    const bus = new KafkaBus(testBusOptions(brokers));
    made.push(bus);
    const a = `${prefix}merge-a`;
    const b = `${prefix}merge-b`;
    await bus.ensureTopics([{ name: a, partitions: 2 }, { name: b, partitions: 1 }]);
    await bus.send(a, [{ key: 'warm', value: Buffer.from('w') }]);
    const produced = { requests: 0 };
    const producer = (bus as unknown as { producer: { sendBatch: (...args: unknown[]) => Promise<unknown> } }).producer;
    const sendBatch = producer.sendBatch.bind(producer);
    producer.sendBatch = (...args: unknown[]) => {
      produced.requests++;
      return sendBatch(...args);
    };
    // 40 concurrent sends over two topics, 4 keys: far fewer produce requests than sends.
    const sends = Array.from({ length: 40 }, (_, i) => bus.send(i % 3 === 0 ? b : a, [{ key: `k${i % 4}`, value: Buffer.from(`m${i}`) }]));
    await Promise.all(sends);
    expect(produced.requests).toBeGreaterThan(0);
    expect(produced.requests).toBeLessThan(40);
    const got: { topic: string; key: string; v: number }[] = [];
    const sub = await bus.subscribe({
      groupId: `${a}-g`, topics: [a, b],
      eachBatch: async (batch) => void got.push(...batch.messages.filter((m) => m.key !== 'warm').map((m) => ({ topic: batch.topic, key: m.key!, v: Number(Buffer.from(m.value).toString().slice(1)) }))),
    });
    await waitFor(async () => (got.length >= 40 ? true : null), 30_000);
    await sub.close();
    expect(got.length).toBe(40);
    // Per topic and key, in the order sent.
    for (const topic of [a, b]) {
      for (let k = 0; k < 4; k++) {
        const seq = got.filter((g) => g.topic === topic && g.key === `k${k}`).map((g) => g.v);
        expect(seq).toEqual([...seq].sort((x, y) => x - y));
      }
    }
  });

  it('refuses bad options with FS_BUS_OPTIONS', () => {
    expect(() => new KafkaBus({ brokers: [] })).toThrow(expect.objectContaining({ code: 'FS_BUS_OPTIONS' }));
    expect(() => new KafkaBus({ brokers: ['nohost'] })).toThrow(expect.objectContaining({ code: 'FS_BUS_OPTIONS' }));
    expect(() => new KafkaBus({ brokers: [brokers], partitionsConsumedConcurrently: 0 })).toThrow(expect.objectContaining({ code: 'FS_BUS_OPTIONS' }));
  });

  it('fails a send with FS_BUS_SEND when the broker is unreachable, without crashing', async () => {
    const bus = new KafkaBus({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 200, requestTimeoutMs: 500 });
    made.push(bus);
    await expect(bus.send('x', [{ key: null, value: new Uint8Array(1) }])).rejects.toMatchObject({ status: 503 });
  });
});
