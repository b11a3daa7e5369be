// Smoke check of the local Kafka against the client Foreshock uses (kafkajs 2.2.4): everything
// the Kafka adapter relies on, end to end, so a Kafka upgrade that drops a protocol version
// kafkajs still speaks shows up here first. Run: node deploy/local/kafka-smoke.mjs [host:port]
// (default $FORESHOCK_TEST_KAFKA, else 127.0.0.1:19751). Loopback only; ends by itself; exit 0 = ok.
//
// Steps: create topics; idempotent producer with acks=-1 and gzip; a consumer group with manual
// commits; a second member joins (rebalance, partitions split), leaves (the first rejoins and takes
// them all); a fresh member resumes from the committed offsets; offsets and watermarks agree.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../package.json'));
const { Kafka, CompressionTypes, Partitioners, logLevel } = require('kafkajs');

const broker = process.argv[2] ?? process.env.FORESHOCK_TEST_KAFKA ?? '127.0.0.1:19751';
const host = broker.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
  console.error(`kafka-smoke: refusing non-loopback broker ${broker}`);
  process.exit(2);
}

const OVERALL_TIMEOUT_MS = 120_000;
const PARTITIONS = 3;
const run = `smoke-${Date.now().toString(36)}`;
const topic = `${run}-samples`;
const groupId = `${run}-group`;
const started = Date.now();

const overall = setTimeout(() => {
  console.error(`kafka-smoke: FAILED: still running after ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
overall.unref();

// kafkajs logs every retriable response as an error; those a rebalance or a fresh broker answer
// with are expected here, anything else is printed.
const EXPECTED = /rebalancing|coordinator is loading|coordinator is not available|not the correct coordinator/i;
const logCreator = () => ({ namespace, label, log }) => {
  if (EXPECTED.test(`${log.message} ${log.error ?? ''}`)) return;
  console.error(`kafkajs ${label} [${namespace}] ${log.message}${log.error ? `: ${log.error}` : ''}`);
};

const kafka = new Kafka({
  clientId: 'foreshock-kafka-smoke',
  brokers: [broker],
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 10_000,
  retry: { retries: 5, initialRetryTime: 200 },
});

function step(msg) {
  console.log(`kafka-smoke: [${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
}

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

async function until(what, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// value -> how many times any member saw it
const seen = new Map();
const members = new Map(); // name -> { consumer, assignment: number[], joins: number }

async function startMember(name) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    retry: { retries: 5 },
  });
  const m = { consumer, assignment: [], joins: 0 };
  members.set(name, m);
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    m.assignment = [...(e.payload.memberAssignment[topic] ?? [])].sort();
    m.joins++;
    step(`${name} joined the group${e.payload.isLeader ? ' (leader)' : ''} with partitions [${m.assignment}]`);
  });
  consumer.on(consumer.events.CRASH, (e) => {
    console.error(`kafka-smoke: ${name} crashed: ${e.payload.error?.stack ?? e.payload.error}`);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic: t, partition, message }) => {
      const v = message.value.toString();
      seen.set(v, (seen.get(v) ?? 0) + 1);
      // Manual commit, one past the message handled, as the adapter does after a batch.
      await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });
  return m;
}

async function produceBatch(producer, label, n) {
  const values = [];
  const messages = [];
  for (let i = 0; i < n; i++) {
    const v = `${label}-${i}`;
    values.push(v);
    messages.push({ key: `host-${i % 7}`, value: v, headers: { batch: label } });
  }
  const res = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  check(res.length > 0 && res.every((r) => r.errorCode === 0), `produce ${label} acknowledged: ${JSON.stringify(res)}`);
  return values;
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  const cluster = await admin.describeCluster();
  step(`connected: ${cluster.brokers.length} broker(s), controller ${cluster.controller}, cluster ${cluster.clusterId}`);

  // 1. topics
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
  });
  check(created, 'createTopics created the topic');
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  check(meta.topics[0].partitions.length === PARTITIONS, `${PARTITIONS} partitions`);
  const topics = await admin.listTopics();
  check(topics.includes(topic), 'listTopics shows the new topic');
  step(`created topic ${topic} with ${PARTITIONS} partitions`);

  // 2. idempotent producer, acks=-1, gzip
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // Unlimited retries, as idempotence wants; the overall timeout bounds the run.
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 2000 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const expected = [];
  expected.push(...(await produceBatch(producer, 'b1', 300)));
  step('produced 300 messages (idempotent, acks=-1, gzip)');

  // 3. one member consumes everything with manual commits
  const a = await startMember('member-a');
  await until('member-a to read batch 1', () => expected.every((v) => seen.has(v)));
  check(a.assignment.length === PARTITIONS, `member-a alone holds all partitions, has [${a.assignment}]`);
  step('member-a consumed batch 1 and committed');

  // 4. a second member joins: the group rebalances and splits the partitions
  const b = await startMember('member-b');
  await until('the rebalance to give both members partitions', () =>
    a.assignment.length > 0 && b.assignment.length > 0 && a.assignment.length + b.assignment.length === PARTITIONS,
  );
  check(a.joins >= 2, 'member-a rejoined after the rebalance');
  expected.push(...(await produceBatch(producer, 'b2', 300)));
  await until('both members to read batch 2', () => expected.every((v) => seen.has(v)));
  step(`after rebalance: member-a [${a.assignment}], member-b [${b.assignment}]; batch 2 consumed`);

  // 5. member-b leaves: member-a rejoins and takes every partition back
  const joinsBefore = a.joins;
  await b.consumer.disconnect();
  members.delete('member-b');
  await until('member-a to take all partitions', () => a.joins > joinsBefore && a.assignment.length === PARTITIONS);
  expected.push(...(await produceBatch(producer, 'b3', 300)));
  await until('member-a to read batch 3', () => expected.every((v) => seen.has(v)));
  step('member-b left; member-a rejoined with all partitions and consumed batch 3');

  // 6. committed offsets: a fresh member starts where the group left off
  await a.consumer.disconnect();
  members.delete('member-a');
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const watermarks = await admin.fetchTopicOffsets(topic);
  for (const p of watermarks) {
    const c = committed[0].partitions.find((x) => x.partition === p.partition);
    check(c && c.offset === p.high, `partition ${p.partition}: committed ${c?.offset} = high watermark ${p.high}`);
  }
  step('committed offsets equal the high watermarks');
  const before = new Map(seen);
  const tail = await produceBatch(producer, 'b4', 60);
  await startMember('member-c');
  await until('member-c to read batch 4', () => tail.every((v) => seen.has(v)));
  await new Promise((r) => setTimeout(r, 1000)); // room for any wrong redelivery to show up
  for (const [v, n] of seen) {
    if (!v.startsWith('b4-')) check(n === before.get(v), `member-c did not re-read committed message ${v}`);
  }
  step('member-c resumed from the committed offsets (no re-delivery)');

  const dupes = [...seen.values()].filter((n) => n > 1).length;
  check(dupes === 0, `no duplicates (${dupes} values seen twice)`);
  check([...expected, ...tail].every((v) => seen.get(v) === 1), 'every produced message consumed exactly once');

  for (const m of members.values()) await m.consumer.disconnect();
  await producer.disconnect();
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  step(`OK: ${expected.length + tail.length} messages, 2 rebalances, broker ${broker}`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    console.error(`kafka-smoke: FAILED: ${err?.stack ?? err}`);
    for (const m of members.values()) await m.consumer.disconnect().catch(() => {});
    process.exit(1);
  },
);
