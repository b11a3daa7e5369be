// Query API latency at scale: detector workers (real engines, real ViewPublishers) publish
// 1 M series and their risk boards to a StateStore, then an HTTP client measures GET
// /api/v1/risks (first page, filtered, deep page) and GET /api/v1/forecast over a keep-alive
// connection. Target: p99 under 50 ms for risks at 1 M series. One JSON object per line.
//
//   npm run bench:api -- [--series 1000000] [--workers 4] [--requests 2000] [--redis-series 100000]
//   (--series 0 skips the embedded store, --redis-series 0 skips Redis)
//
// Redis runs when FORESHOCK_BENCH_REDIS_URL (or FORESHOCK_TEST_REDIS_URL) names a server: it
// publishes --redis-series series under a key prefix of its own and deletes them afterwards.

import { cpus, loadavg, totalmem } from 'node:os';
import { Agent, request } from 'node:http';
import { MemoryStateStore } from '../shared/adapters/memory/index.js';
import { RedisStateStore } from '../shared/adapters/redis/index.js';
import { loadConfig } from '../shared/config/index.js';
import { createHttpServer } from '../shared/http/index.js';
import { KIND_GAUGE, seriesKey, sortedLabels } from '../shared/model/index.js';
import type { StateStore } from '../shared/ports/index.js';
import { createTelemetry, silentLogger } from '../shared/telemetry/index.js';
import { apiRoutes } from '../services/api/index.js';
import { DetectorEngine } from '../services/detector/engine/index.js';
import { SeriesTable, ViewPublisher, forecastFromModel } from '../services/detector/index.js';
import { numberArg } from './support.js';

const arg = numberArg;
const SERIES = arg('series', 1_000_000);
const WORKERS = arg('workers', 4);
const REQUESTS = arg('requests', 2000);
const REDIS_SERIES = arg('redis-series', 100_000);
const SAMPLES = 24;
const STEP_MS = 15_000;
const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, mem_gb: Math.round(totalmem() / 2 ** 30) };

function emit(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...o, machine: { ...machine, load1: Math.round(loadavg()[0] * 10) / 10 } }) + '\n');
}

/** Deterministic pseudo-random in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Worker {
  engine: DetectorEngine;
  table: SeriesTable;
  publisher: ViewPublisher;
}

/**
 * `n` series over `workers` detector workers: ratio metrics around 0.5, one in five rising
 * (crossing the 0.9 threshold anywhere from minutes to days ahead), 65 clusters, 200 services.
 */
function buildWorkers(store: StateStore, n: number, workers: number, t0: number): { workers: Worker[]; keys: string[]; hosts: string[] } {
  const out: Worker[] = [];
  const keys: string[] = [];
  const hosts: string[] = [];
  const telemetry = createTelemetry({ defaultMetrics: false });
  const thresholds = [{ name: 'above 0.9', value: 0.9, direction: 'above' as const }];
  const rand = rng(42);
  for (let w = 0; w < workers; w++) {
    const engine = new DetectorEngine();
    const table = new SeriesTable();
    const publisher = new ViewPublisher(
      { engine, table, store, telemetry, logger: silentLogger() },
      { workerId: `bench-${w}`, topK: 1000, thresholdsOf: (name) => (name === 'node_cpu_ratio' ? thresholds : []) },
    );
    out.push({ engine, table, publisher });
  }
  for (let i = 0; i < n; i++) {
    const host = `h${Math.floor(i / 50)}`;
    const labels = sortedLabels([
      ['__name__', i % 2 === 0 ? 'node_cpu_ratio' : 'node_mem_ratio'],
      ['host', host], ['cluster', `c${i % 65}`], ['service', `s${i % 200}`], ['core', String(i % 50)],
    ]);
    const key = seriesKey(labels);
    const { engine, table } = out[i % workers];
    const slot = engine.allocSlot(0);
    table.bind(slot, key, labels, host, KIND_GAUGE);
    const rising = rand() < 0.2;
    const slope = rising ? 0.0004 * rand() : 0; // per sample
    const base = 0.3 + 0.3 * rand();
    for (let k = 0; k < SAMPLES; k++) {
      const t = t0 + k * STEP_MS;
      engine.update(slot, t, base + slope * k + 0.002 * (rand() - 0.5));
      table.lastTs[slot] = t;
    }
    table.samples[slot] = SAMPLES;
    if (i % 9973 === 0) {
      keys.push(key);
      hosts.push(host);
    }
  }
  return { workers: out, keys, hosts };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `n` sequential requests (and more until `minMs` have passed); latency percentiles. */
async function measure(agent: Agent, port: number, paths: () => string, n: number, minMs = 0): Promise<{ requests: number; p50_ms: number; p99_ms: number; max_ms: number; mean_ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  const one = (path: string) => new Promise<void>((resolve, reject) => {
    const t = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let size = 0;
      res.on('data', (c: Buffer) => (size += c.length));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
        times.push(performance.now() - t);
        bytes = size;
        resolve();
      });
    });
    req.on('error', reject);
    req.end();
  });
  for (let i = 0; i < Math.min(50, n); i++) await one(paths()); // warm-up
  times.length = 0;
  const start = performance.now();
  for (let i = 0; i < n || performance.now() - start < minMs; i++) await one(paths());
  times.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    requests: times.length,
    p50_ms: round(percentile(times, 50)), p99_ms: round(percentile(times, 99)), max_ms: round(times[times.length - 1]),
    mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length), bytes,
  };
}

async function run(storeName: string, store: StateStore, n: number): Promise<void> {
  const t0 = Date.now() - SAMPLES * STEP_MS;
  let t = performance.now();
  const { workers, keys, hosts } = buildWorkers(store, n, WORKERS, t0);
  emit({ case: `${storeName}: build detector state`, series: n, workers: WORKERS, seconds: Math.round(performance.now() - t) / 1000 });

  // First round writes every series; the next (nothing changed) only the boards.
  t = performance.now();
  await Promise.all(workers.map((w) => w.publisher.publishNow()));
  emit({ case: `${storeName}: publish, all series new`, series: n, workers: WORKERS, seconds: Math.round(performance.now() - t) / 1000 });
  t = performance.now();
  await Promise.all(workers.map((w) => w.publisher.publishNow()));
  emit({ case: `${storeName}: publish, no series changed`, series: n, workers: WORKERS, seconds: Math.round(performance.now() - t) / 1000 });

  const { config } = loadConfig({ env: {} });
  const telemetry = createTelemetry({ defaultMetrics: false });
  const app = createHttpServer({ logger: silentLogger(), telemetry, bodyLimit: 1 << 20 });
  await app.register(async (scope) => apiRoutes(scope, { config, store, forecast: forecastFromModel }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const rand = rng(7);
  const cases: [string, () => string][] = [
    ['GET /healthz (baseline: the HTTP stack alone)', () => '/healthz'],
    ['GET /api/v1/risks (first page of 50)', () => '/api/v1/risks'],
    ['GET /api/v1/risks?cluster=…&limit=20', () => `/api/v1/risks?cluster=c${Math.floor(rand() * 65)}&limit=20`],
    ['GET /api/v1/risks?offset=900&limit=100', () => '/api/v1/risks?offset=900&limit=100'],
    ['GET /api/v1/forecast?series=…&steps=60', () => `/api/v1/forecast?series=${encodeURIComponent(keys[Math.floor(rand() * keys.length)])}&horizon=6h&steps=60`],
  ];
  for (const [name, path] of cases) {
    const r = await measure(agent, port, path, REQUESTS);
    emit({ case: `${storeName}: ${name}`, series: n, ...r, target_p99_ms: name.includes('risks') ? 50 : undefined });
  }
  // Risks while the workers keep scoring and publishing (embedded mode: the same process does
  // all): every 2 s one series in 100 gets a new sample, then every worker publishes.
  let tick = 0;
  const publishing = setInterval(() => {
    tick++;
    for (const w of workers) {
      const size = w.table.size;
      for (let slot = tick % 100; slot < size; slot += 100) {
        const t = w.table.lastTs[slot] + STEP_MS;
        w.engine.update(slot, t, 0.5 + 0.001 * rand());
        w.table.lastTs[slot] = t;
        w.table.samples[slot]++;
      }
      void w.publisher.publishNow();
    }
  }, 2000);
  const r = await measure(agent, port, cases[1][1], REQUESTS, 20_000);
  clearInterval(publishing);
  emit({ case: `${storeName}: GET /api/v1/risks for 20 s while 1 % of series get a sample and all workers publish every 2 s, in-process`, series: n, rounds: tick, ...r, target_p99_ms: 50 });
  const byHost = await measure(agent, port, () => `/api/v1/forecast?host=${hosts[Math.floor(rand() * hosts.length)]}&metric=node_cpu_ratio&steps=10`, Math.min(REQUESTS, 20));
  emit({ case: `${storeName}: GET /api/v1/forecast?host=…&metric=… (host index)`, series: n, ...byHost });
  agent.destroy();
  await app.close();
  for (const w of workers) await w.publisher.close();
}

async function main(): Promise<void> {
  emit({ case: 'note', text: 'latencies over one keep-alive connection, client and server in this process; the machine may be shared' });
  if (SERIES > 0) {
    const mem = new MemoryStateStore();
    await run('memory', mem, SERIES);
    await mem.close();
  }
  const redisUrl = process.env.FORESHOCK_BENCH_REDIS_URL || process.env.FORESHOCK_TEST_REDIS_URL;
  if (redisUrl && REDIS_SERIES > 0) {
    const prefix = `fs-bench-api-${process.pid}:`;
    const redis = new RedisStateStore({ url: redisUrl, keyPrefix: prefix });
    try {
      await run('redis', redis, REDIS_SERIES);
    } finally {
      for (const k of await redis.keys('')) await redis.del(k);
      await redis.close();
    }
  } else {
    emit({ case: 'redis', skipped: 'set FORESHOCK_BENCH_REDIS_URL (or FORESHOCK_TEST_REDIS_URL) to include Redis' });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
