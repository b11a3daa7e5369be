// Distributed mode on real Kafka and Redis, every service its own OS process: line protocol
// produced to the Telegraf topic (gzip, snappy, lz4, zstd batches, with a routing key and
// without) and remote-write posted to a receiver process both reach the detector process, which
// raises events; an intervene process turns them into alerts; the API process answers from what
// the detector and the intervention worker stored.

import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerKafkaCodecs } from '../../shared/adapters/kafka/index.js';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { EVENTS_LOG, type AnomalyEvent } from '../../shared/model/index.js';
import { dropNamespace } from '../adapters/redis-namespace.js';
import { catalogueFile } from '../support/catalogue.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { distributedEnv, metricValue, startService, type ForeshockProcess } from './support/foreshock-process.js';

const { CompressionTypes, Kafka, Partitioners, logLevel } = kafkajs;
const kafka = requireService('kafka');
const redis = requireService('redis');

const STEP_MS = 15_000;
const NORMAL = 60;
const SPIKE = 10;
const N = NORMAL + SPIKE;

/** A steady series with a little deterministic wobble, then a level jump the detector must flag. */
function valueAt(i: number, phase: number): number {
  return i < NORMAL ? 50 + 2 * Math.sin((i + phase) * 0.7) : 400;
}

const CODECS = [
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD],
] as const;

describe.skipIf(!kafka || !redis)('distributed ingest paths: Telegraf topic and remote-write, each service its own process', () => {
  const run = `fsd${randomBytes(4).toString('hex')}`;
  const env = distributedEnv(kafka!, redis!, run);
  Object.assign(env, {
    FORESHOCK_BUS_PARTITIONS: '4', FORESHOCK_DETECTOR_WARMUP_SAMPLES: '30', FORESHOCK_DETECTOR_MIN_DURATION: '30s',
    // The series of this test are declared signals (higher is worse), so their anomalies page.
    FORESHOCK_CATALOGUE_FILES: catalogueFile(['cpu_usage_user', 'mem_used_percent', 'node_load1'].map((match) => ({ match, role: 'signal', direction: 'up' }))),
  });
  const procs: Record<string, ForeshockProcess> = {};
  let store: RedisStateStore;
  const t0 = Math.floor((Date.now() - 3 * 3600_000) / STEP_MS) * STEP_MS;
  const hosts: string[] = [];

  beforeAll(async () => {
    // Sequentially: the first process creates the topics, the rest find them.
    for (const s of ['ingest', 'detect', 'intervene', 'receiver', 'api'] as const) procs[s] = await startService(s, env);
    store = new RedisStateStore({ url: redis!, keyPrefix: `${run}:` });
  });

  afterAll(async () => {
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    await store?.close();
    await dropNamespace(redis!, `${run}`);
    const admin = new Kafka({ clientId: `${run}-cleanup`, brokers: [kafka!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${run}-`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  });

  it('turns both inputs into detector state and events', async () => {
    // --- Telegraf's Kafka output: line protocol, several lines per message, compressed batches.
    registerKafkaCodecs();
    const producer = new Kafka({ clientId: `${run}-telegraf`, brokers: [kafka!], logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      for (const [codec, type] of CODECS) {
        // With a routing key (Telegraf's routing_tag = "host"): one host's messages share a
        // partition and stay in order, ten lines each.
        const keyed = `tg-${codec}-key`;
        const messages: { key: string | null; value: string }[] = [];
        for (let m = 0; m < N; m += 10) {
          const lines: string[] = [];
          for (let i = m; i < m + 10; i++) lines.push(`cpu,host=${keyed},cluster=c1 usage_user=${valueAt(i, 1)} ${(t0 + i * STEP_MS) * 1e6}`);
          messages.push({ key: keyed, value: lines.join('\n') + '\n' });
        }
        // Without a key the partition is arbitrary, so one message holds the whole series.
        const unkeyed = `tg-${codec}-nokey`;
        const all: string[] = [];
        for (let i = 0; i < N; i++) all.push(`mem,host=${unkeyed} used_percent=${valueAt(i, 2)} ${(t0 + i * STEP_MS) * 1e6}`);
        messages.push({ key: null, value: all.join('\n') });
        await producer.send({ topic: `${run}-telegraf`, compression: type, acks: -1, messages });
        hosts.push(keyed, unkeyed);
      }
    } finally {
      await producer.disconnect();
    }

    // --- Prometheus remote-write to the receiver process, ten samples per request.
    const rwHost = 'rw-1';
    for (let m = 0; m < N; m += 10) {
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let i = m; i < m + 10; i++) {
        timestamps.push(t0 + i * STEP_MS);
        values.push(valueAt(i, 3));
      }
      const body = snappyCompress(encodeWriteRequest({ series: [{ labels: [['__name__', 'node_load1'], ['instance', rwHost], ['job', 'node']], timestamps, values }] }));
      const r = await fetch(`${procs.receiver.url}/api/v1/write`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
        body,
      });
      expect(r.status).toBe(204);
    }
    hosts.push(rwHost);

    // Every sample is scored exactly once by the detector process (a redelivered batch would be
    // dropped as duplicate before scoring, never scored twice).
    const expected = hosts.length * N;
    await waitFor(async () => ((await metricValue(procs.detect.url, 'foreshock_samples_scored_total')) >= expected ? true : null), 90_000).catch(async (err) => {
      const dropped = async (url: string) => (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('foreshock_samples_dropped_total') || l.startsWith('foreshock_errors_total')).join('; ');
      throw new Error(`${(err as Error).message}; scored ${await metricValue(procs.detect.url, 'foreshock_samples_scored_total')} of ${expected}; ` +
        `detect dropped: ${await dropped(procs.detect.url)}; ingest dropped: ${await dropped(procs.ingest.url)}\n` +
        `ingest: ${procs.ingest.output().slice(-2000)}\ndetect: ${procs.detect.output().slice(-2000)}`);
    });
    expect(await metricValue(procs.detect.url, 'foreshock_samples_scored_total')).toBe(expected);
    expect(await metricValue(procs.detect.url, 'foreshock_series_active')).toBe(hosts.length);

    // Events: each host's level jump opened an anomaly, written to the events log in Redis.
    const opened = await waitFor(async () => {
      const entries = await store.range(EVENTS_LOG, 1_000);
      const events = entries.map((e) => JSON.parse(e.entry) as AnomalyEvent).filter((e) => e.kind === 'anomaly_opened');
      const byHost = new Map(events.map((e) => [e.host, e]));
      return hosts.every((h) => byHost.has(h)) ? byHost : null;
    }, 60_000);
    for (const h of hosts) {
      const e = opened.get(h)!;
      expect(e.ts).toBeGreaterThanOrEqual(t0 + NORMAL * STEP_MS);
      expect(e.explanation.value).toBe(400);
    }

    // The API process answers from the StateStore: the detector's state of each series.
    for (const h of hosts) {
      const body = await waitFor(async () => {
        const r = await fetch(`${procs.api.url}/api/v1/series?host=${encodeURIComponent(h)}`);
        if (r.status !== 200) return null;
        const j = (await r.json()) as { total: number; series: { host: string; samples: number; lastTs: number; state: string }[] };
        return j.total === 1 && j.series[0].lastTs === t0 + (N - 1) * STEP_MS ? j : null;
      }, 60_000);
      expect(body.series[0].host).toBe(h);
      expect(body.series[0].samples).toBe(N);
      expect(['anomalous', 'pending']).toContain(body.series[0].state);
    }

    // The intervene process turned the events into alerts (BullMQ jobs on Redis), one per series.
    const alerts = await waitFor(async () => {
      const r = await fetch(`${procs.api.url}/api/v1/alerts?status=firing&limit=1000`);
      if (r.status !== 200) return null;
      const j = (await r.json()) as { alerts: { host: string; status: string }[] };
      return hosts.every((h) => j.alerts.some((a) => a.host === h)) ? j.alerts : null;
    }, 60_000);
    for (const h of hosts) expect(alerts.filter((a) => a.host === h).length).toBe(1);

    // Nothing left behind: the detector group has consumed the samples topic.
    const admin = new Kafka({ clientId: `${run}-lag`, brokers: [kafka!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const lag = async (topic: string, group: string) => {
        const ends = await admin.fetchTopicOffsets(topic);
        const committed = (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions;
        return ends.reduce((sum, p) => sum + Number(p.high) - Math.max(0, Number(committed.find((c) => c.partition === p.partition)?.offset ?? 0)), 0);
      };
      await waitFor(async () => ((await lag(`${run}-samples`, `${run}-foreshock-detector`)) === 0 ? true : null), 30_000);
      await waitFor(async () => ((await lag(`${run}-telegraf`, `${run}-foreshock-ingest`)) === 0 ? true : null), 30_000);
      await waitFor(async () => ((await lag(`${run}-raw`, `${run}-foreshock-ingest`)) === 0 ? true : null), 30_000);
    } finally {
      await admin.disconnect();
    }
  });

  it('answers each process only for its own service: workers serve health and metrics, not the write routes', async () => {
    for (const s of ['ingest', 'detect', 'intervene'] as const) {
      expect((await fetch(`${procs[s].url}/healthz`)).status).toBe(200);
      expect((await fetch(`${procs[s].url}/metrics`)).status).toBe(200);
      expect((await fetch(`${procs[s].url}/api/v1/write`, { method: 'POST', body: 'x' })).status).toBe(404);
    }
    expect((await fetch(`${procs.api.url}/api/v2/write`, { method: 'POST', body: 'cpu v=1' })).status).toBe(404);
    expect((await fetch(`${procs.receiver.url}/api/v1/series`)).status).toBe(404);
  });
});
