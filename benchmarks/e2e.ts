// End-to-end throughput and latency of distributed mode on this machine: a synthetic fleet
// remote-writes to a receiver process → Kafka → an ingest process → Kafka → a detector
// process, with Kafka and Redis running beside them. One JSON object per case on stdout.
//
//   npm run bench:e2e -- [--clusters 265] [--hosts 4] [--metrics 25] [--ticks 50]
//                        [--concurrency 8] [--rate SAMPLES_PER_S] [--max 0] [--ingest 1] [--detect 1]
//                        [--partition-concurrency 1]
//
// Cases: "max" sends as fast as the receiver accepts (at most --concurrency requests in
// flight); "paced" sends a fresh fleet at --rate (default: half of what "max" sustained), which
// is where latency means something. Time is compressed: every tick is 15 s of event time for
// every series, sent as Prometheus would (one sample per series, up to 2000 per request). 1 %
// of the series jump tenfold from tick 40 on, so the detector raises events; latency is from the
// moment the request carrying a sample was sent to the moment its event was read back from the
// events topic. Needs the Kafka and Redis of `npm run services -- up` (or FORESHOCK_TEST_KAFKA
// and FORESHOCK_TEST_REDIS_URL); ends by itself.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { KafkaBus } from '../shared/adapters/kafka/index.js';
import { encodeWriteRequest, snappyCompress } from '../shared/codecs/index.js';
import type { AnomalyEvent } from '../shared/model/index.js';
import { dropNamespace } from '../test/adapters/redis-namespace.js';
import { requireService } from '../test/support/services.js';
import { distributedEnv, metricValue, startService, type ForeshockProcess } from '../test/distributed/support/foreshock-process.js';
import { hashNoise, numberArg } from './support.js';

const arg = numberArg;
const CLUSTERS = arg('clusters', 265);
const HOSTS = arg('hosts', 4);
const METRICS = arg('metrics', 25);
const TICKS = arg('ticks', 50);
const CONCURRENCY = arg('concurrency', 8);
const RATE = arg('rate', 0);
const RUN_MAX = arg('max', 1) !== 0;
const INGESTS = arg('ingest', 1);
const DETECTS = arg('detect', 1);
/** kafka.partitionsConsumedConcurrently of every Foreshock process. */
const PARTITION_CONCURRENCY = arg('partition-concurrency', 1);
const STEP_MS = 15_000;
const ANOMALY_TICK = 40;
const MAX_PER_REQUEST = 2000;
const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, note: 'shared machine: other work ran at the same time' };
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

const kafka = requireService('kafka');
const redis = requireService('redis');
if (!kafka || !redis) {
  process.stderr.write('bench:e2e needs Kafka and Redis: npm run services -- up kafka redis\n');
  process.exit(2);
}

interface Fleet {
  prefix: string;
  /** Encoded requests per tick, in send order. */
  bodies: Uint8Array[][];
  samplesPerTick: number;
  /** `${host}|${metric}` → index of the request (within a tick) that carries it. */
  requestOf: Map<string, number>;
  t0: number;
}

const noise = hashNoise;

function buildFleet(prefix: string, t0: number): Fleet {
  const series: { labels: [string, string][]; host: string; metric: string; index: number }[] = [];
  for (let c = 0; c < CLUSTERS; c++) {
    const cluster = `${prefix}c${String(c).padStart(3, '0')}`;
    for (let h = 0; h < HOSTS; h++) {
      const host = `${cluster}-h${h}`;
      for (let m = 0; m < METRICS; m++) {
        const metric = `node_metric_${m}`;
        series.push({ labels: [['__name__', metric], ['cluster', cluster], ['host', host], ['job', 'node']], host, metric, index: series.length });
      }
    }
  }
  const requests: (typeof series)[] = [];
  for (let i = 0; i < series.length; i += MAX_PER_REQUEST) requests.push(series.slice(i, i + MAX_PER_REQUEST));
  const requestOf = new Map<string, number>();
  requests.forEach((r, i) => r.forEach((s) => requestOf.set(`${s.host}|${s.metric}`, i)));
  const bodies: Uint8Array[][] = [];
  for (let t = 0; t < TICKS; t++) {
    const ts = t0 + t * STEP_MS;
    bodies.push(requests.map((r) => snappyCompress(encodeWriteRequest({
      series: r.map((s) => {
        const base = 100 + (s.index % 50);
        const jump = s.index % 100 === 7 && t >= ANOMALY_TICK ? 10 : 1;
        return { labels: s.labels, timestamps: [ts], values: [jump * base + 3 * noise(s.index, t)] };
      }),
    }))));
  }
  return { prefix, bodies, samplesPerTick: series.length, requestOf, t0 };
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** CPU seconds (user + system) of a pid from /proc, or null. */
function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

function kafkaPid(): number | null {
  try {
    return Number(readFileSync(join(process.env.FORESHOCK_RUN_DIR || join(REPO_ROOT, '.run'), 'kafka', 'kafka.pid'), 'utf8').trim().split(/\s+/)[0]) || null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const run = `fsbench${randomBytes(3).toString('hex')}`;
  const env = distributedEnv(kafka!, redis!, run);
  env.FORESHOCK_KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY = String(PARTITION_CONCURRENCY);
  const procs: ForeshockProcess[] = [];
  const bus = new KafkaBus({ brokers: [kafka!], clientId: `${run}-bench`, groupIdPrefix: `${run}-` });
  try {
    const ingests: ForeshockProcess[] = [];
    const detects: ForeshockProcess[] = [];
    for (let i = 0; i < INGESTS; i++) ingests.push(await startService('ingest', env));
    for (let i = 0; i < DETECTS; i++) detects.push(await startService('detect', env));
    const receiver = await startService('receiver', env);
    procs.push(...ingests, ...detects, receiver);

    // Events come back through the events topic, read as any consumer would.
    const eventSeen = new Map<string, number>();
    const events: { e: AnomalyEvent; at: number }[] = [];
    const sub = await bus.subscribe({
      groupId: 'bench-events',
      topics: [env.FORESHOCK_BUS_TOPIC_EVENTS],
      fromBeginning: false,
      eachBatch: async (b) => {
        const at = Date.now();
        for (const m of b.messages) {
          const e = JSON.parse(Buffer.from(m.value).toString()) as AnomalyEvent;
          if (eventSeen.has(e.id)) continue;
          eventSeen.set(e.id, at);
          events.push({ e, at });
        }
      },
    });

    const scored = async () => {
      let n = 0;
      for (const d of detects) n += await metricValue(d.url, 'foreshock_samples_scored_total');
      return n;
    };
    const cpuOf = async (p: ForeshockProcess) => metricValue(p.url, 'foreshock_process_process_cpu_seconds_total');
    const kpid = kafkaPid();

    let maxRate = 0;
    for (const kind of ['max', 'paced'] as const) {
      if (kind === 'max' && !RUN_MAX && RATE > 0) continue; // --max 0 --rate R: the paced case alone
      if (kind === 'paced' && RATE <= 0 && maxRate <= 0) break;
      const rate = kind === 'paced' ? (RATE > 0 ? RATE : Math.round(maxRate / 2)) : 0;
      const fleet = buildFleet(kind === 'max' ? 'a' : 'b', Math.floor((Date.now() - 24 * 3600_000) / STEP_MS) * STEP_MS);
      const total = fleet.samplesPerTick * TICKS;
      const sentAt: number[][] = fleet.bodies.map((reqs) => new Array<number>(reqs.length).fill(0));
      const scored0 = await scored();
      const cpu0 = await Promise.all(procs.map(cpuOf));
      const kcpu0 = kpid === null ? null : procCpuSeconds(kpid);
      const bcpu0 = process.cpuUsage();
      const events0 = events.length;
      let maxLagSamples = 0;
      let maxLagRaw = 0;
      let lagPolling = true;
      const lagLoop = (async () => {
        while (lagPolling) {
          try {
            maxLagSamples = Math.max(maxLagSamples, await bus.lag(env.FORESHOCK_BUS_TOPIC_SAMPLES, 'foreshock-detector'));
            maxLagRaw = Math.max(maxLagRaw, await bus.lag(env.FORESHOCK_BUS_TOPIC_RAW, 'foreshock-ingest'));
          } catch {
            // A lag probe failing under load is not a result; the next one counts.
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      })();

      const start = Date.now();
      let rejected = 0;
      // Requests of a tick go out in order with up to CONCURRENCY in flight; a tick starts when
      // the previous one has been accepted (as one Prometheus shard per series would), and, when
      // paced, not before its slot.
      const send = async (t: number, i: number) => {
        sentAt[t][i] = Date.now();
        const r = await fetch(`${receiver.url}/api/v1/write`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
          body: fleet.bodies[t][i],
        });
        if (r.status !== 204) rejected++;
        await r.arrayBuffer();
      };
      for (let t = 0; t < TICKS; t++) {
        if (rate > 0) {
          const due = start + (t * fleet.samplesPerTick * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const reqs = fleet.bodies[t];
        let next = 0;
        await Promise.all(Array.from({ length: Math.min(CONCURRENCY, reqs.length) }, async () => {
          while (next < reqs.length) await send(t, next++);
        }));
      }
      const sendDone = Date.now();
      // Wait for the detector to score everything (or give up after 3 minutes).
      let done = scored0;
      let lastScoredAt = Date.now();
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline) {
        const n = await scored();
        if (n > done) lastScoredAt = Date.now();
        done = n;
        if (done - scored0 >= total) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const end = Date.now();
      // Let the last events arrive.
      await new Promise((r) => setTimeout(r, 1_500));
      lagPolling = false;
      await lagLoop;
      const cpu1 = await Promise.all(procs.map(cpuOf));
      const kcpu1 = kpid === null ? null : procCpuSeconds(kpid);
      const bcpu1 = process.cpuUsage(bcpu0);

      const latencies: number[] = [];
      for (const { e, at } of events.slice(events0)) {
        const metric = e.labels.__name__;
        const req = fleet.requestOf.get(`${e.host}|${metric}`);
        const tick = Math.round((e.ts - fleet.t0) / STEP_MS);
        if (req === undefined || tick < 0 || tick >= TICKS || sentAt[tick][req] === 0) continue;
        latencies.push(at - sentAt[tick][req]);
      }
      latencies.sort((a, b) => a - b);
      const elapsedS = (lastScoredAt - start) / 1000;
      const scoredN = done - scored0;
      const cpu = (i: number) => Math.round((cpu1[i] - cpu0[i]) * 100) / 100;
      const result = {
        case: `e2e_${kind}`,
        series: fleet.samplesPerTick,
        ticks: TICKS,
        samples_sent: total,
        samples_scored: scoredN,
        complete: scoredN >= total,
        rejected_requests: rejected,
        offered_samples_per_s: Math.round(total / ((sendDone - start) / 1000)),
        sustained_samples_per_s: Math.round(scoredN / elapsedS),
        target_rate_samples_per_s: rate || null,
        seconds: Math.round(elapsedS * 10) / 10,
        drain_after_send_ms: lastScoredAt - sendDone,
        max_lag_samples_topic_msgs: maxLagSamples,
        max_lag_raw_topic_msgs: maxLagRaw,
        events: latencies.length,
        latency_ms_p50: percentile(latencies, 0.5),
        latency_ms_p99: percentile(latencies, 0.99),
        latency_ms_max: latencies.length > 0 ? latencies[latencies.length - 1] : null,
        cpu_s: {
          receiver: cpu(procs.indexOf(receiver)),
          ingest: Math.round(ingests.reduce((s, p) => s + cpu1[procs.indexOf(p)] - cpu0[procs.indexOf(p)], 0) * 100) / 100,
          detect: Math.round(detects.reduce((s, p) => s + cpu1[procs.indexOf(p)] - cpu0[procs.indexOf(p)], 0) * 100) / 100,
          kafka: kcpu0 !== null && kcpu1 !== null ? Math.round((kcpu1 - kcpu0) * 100) / 100 : null,
          load_generator: Math.round(((bcpu1.user + bcpu1.system) / 1e6) * 100) / 100,
        },
        wall_s: Math.round(((end - start) / 1000) * 10) / 10,
        loadavg_1m: loadavg()[0],
        processes: { receiver: 1, ingest: INGESTS, detect: DETECTS },
        partitions_consumed_concurrently: PARTITION_CONCURRENCY,
        machine,
      };
      process.stdout.write(JSON.stringify(result) + '\n');
      if (kind === 'max') maxRate = result.sustained_samples_per_s;
    }
    await sub.close();
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await bus.close();
    const admin = new kafkajs.Kafka({ clientId: `${run}-cleanup`, brokers: [kafka!], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${run}-`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
    await dropNamespace(redis!, run);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:e2e failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
