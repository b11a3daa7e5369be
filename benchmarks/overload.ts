// Overload: does Foreshock shed load with the right status codes, keep its memory bounded and
// lose nothing it accepted when pushed past what it sustains? One JSON object per case on stdout.
//
//   npm run bench:overload -- [--measure 5] [--overload 25] [--factor 2] [--senders 8]
//                             [--headroom-mb 128] [--hosts 50] [--metrics 40]
//
// Foreshock runs embedded in this process (startForeshock, memory bus and store) on a free port
// of 127.0.0.1, with limits.heapHighWater set to the heap used at start-up plus 48 MiB plus
// --headroom-mb (as a share of the heap limit). The senders run in a child process (so their CPU and memory are not
// Foreshock's) and behave like Prometheus remote-write shards: each owns a set of series and
// sends its next request only once the previous one was accepted; 503 / 5xx are retried after
// Retry-After (or a backoff), other 4xx are dropped. Cases:
//   "measure"  — after a 2 s warm-up, senders push as fast as they can for --measure s; the sustainable rate is the
//                lower of what was accepted and what the detector scored meanwhile;
//   "overload" — new data is generated at --factor × that rate for --overload s;
//   "final"    — pushing stops; waits (≤ 60 s) until the detector has scored every accepted
//                sample, then reports accepted vs scored, status counts and peak memory.
// Ends by itself. Numbers depend on the machine and its load.

import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { startForeshock } from '../cli/app.js';
import { encodeWriteRequest, snappyCompress } from '../shared/codecs/index.js';
import { loadConfig } from '../shared/config/index.js';
import { createLogger } from '../shared/telemetry/index.js';
import { freePort } from '../test/support/wait.js';
import { numberArg } from './support.js';

const arg = numberArg;
const MEASURE_S = arg('measure', 5);
const OVERLOAD_S = arg('overload', 25);
const FACTOR = arg('factor', 2);
const SENDERS = arg('senders', 8);
const HEADROOM_MB = arg('headroom-mb', 128);
const HOSTS = arg('hosts', 50);
const METRICS = arg('metrics', 40);
/** Series per request and samples per series per request (a shard catching up sends several). */
const SERIES_PER_REQUEST = 200;
const SAMPLES_PER_SERIES = 10;
const STEP_MS = 15_000;
const CATCH_UP_MS = 60_000;
const MB = 1024 * 1024;

// ---- sender child ----

interface SenderCommand {
  url: string;
  /** Samples per second to generate over all senders; 0: as fast as accepted. */
  rate: number;
  seconds: number;
}

interface SenderStats {
  seconds: number;
  /** Samples of requests generated (first attempts). */
  offered: number;
  /** Samples of requests answered 204. */
  accepted: number;
  /** Samples of requests dropped on a 4xx other than 429. */
  dropped: number;
  /** Samples still being retried when the phase ended (never accepted). */
  unsent: number;
  status: Record<string, number>;
  requests: number;
}

/** Deterministic noise in [-1, 1). */
function noise(series: number, tick: number): number {
  let h = Math.imul(series + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(tick + 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h >>> 0) / 2 ** 31 - 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function senderMain(): Promise<void> {
  // Series blocks of SERIES_PER_REQUEST; sender i owns blocks i, i+SENDERS, … so each series is
  // only ever sent by one sender, in order.
  const labels: [string, string][][] = [];
  for (let h = 0; h < HOSTS; h++) {
    for (let m = 0; m < METRICS; m++) labels.push([['__name__', `overload_metric_${m}`], ['cluster', `c${h % 5}`], ['host', `ovl-h${h}`], ['job', 'node']]);
  }
  const blocks: number[][] = [];
  for (let i = 0; i < labels.length; i += SERIES_PER_REQUEST) blocks.push(Array.from({ length: Math.min(SERIES_PER_REQUEST, labels.length - i) }, (_, k) => i + k));
  const nextTick = new Float64Array(blocks.length);
  const t0 = Date.now() - 30 * 24 * 3_600_000;
  const body = (b: number): { bytes: Uint8Array; samples: number } => {
    const from = nextTick[b];
    nextTick[b] += SAMPLES_PER_SERIES;
    const series = blocks[b].map((s) => {
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let k = 0; k < SAMPLES_PER_SERIES; k++) {
        timestamps.push(t0 + (from + k) * STEP_MS);
        values.push(100 + (s % 50) + 3 * noise(s, from + k));
      }
      return { labels: labels[s], timestamps, values };
    });
    return { bytes: snappyCompress(encodeWriteRequest({ series })), samples: blocks[b].length * SAMPLES_PER_SERIES };
  };

  process.on('message', (cmd: SenderCommand) => {
    void runPhase(cmd).then((stats) => process.send!(stats));
  });

  async function runPhase(cmd: SenderCommand): Promise<SenderStats> {
    const stats: SenderStats = { seconds: cmd.seconds, offered: 0, accepted: 0, dropped: 0, unsent: 0, status: {}, requests: 0 };
    const start = performance.now();
    const end = start + cmd.seconds * 1000;
    // Pacing: the k-th request (over all senders) is due at k × its samples / rate.
    let generated = 0;
    const shard = async (i: number) => {
      let turn = 0;
      while (performance.now() < end) {
        if (cmd.rate > 0) {
          const due = start + (generated / cmd.rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await sleep(Math.min(wait, end - performance.now()));
          if (performance.now() >= end) break;
        }
        const blockCount = Math.ceil((blocks.length - i) / SENDERS);
        if (blockCount <= 0) return;
        const b = i + (turn++ % blockCount) * SENDERS;
        const req = body(b);
        generated += req.samples;
        stats.offered += req.samples;
        let backoff = 100;
        for (;;) {
          let status: number;
          let retryAfter: string | null = null;
          try {
            const res = await fetch(`${cmd.url}/api/v1/write`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
              body: req.bytes,
            });
            status = res.status;
            retryAfter = res.headers.get('retry-after');
            await res.arrayBuffer();
          } catch {
            status = 0; // connection error: retried like a 5xx
          }
          stats.requests++;
          stats.status[String(status)] = (stats.status[String(status)] ?? 0) + 1;
          if (status >= 200 && status < 300) {
            stats.accepted += req.samples;
            break;
          }
          if (status >= 400 && status < 500 && status !== 429) {
            stats.dropped += req.samples;
            break;
          }
          if (performance.now() >= end) {
            stats.unsent += req.samples;
            return;
          }
          const ra = retryAfter !== null ? Number(retryAfter) * 1000 : NaN;
          const delay = Number.isFinite(ra) ? ra : backoff;
          backoff = Math.min(backoff * 2, 5000);
          await sleep(Math.min(delay, Math.max(0, end - performance.now())));
        }
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, (_, i) => shard(i)));
    stats.seconds = (performance.now() - start) / 1000;
    return stats;
  }
}

// ---- parent: Foreshock embedded ----

function metricSum(text: string, name: string, label?: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (label !== undefined && !rest.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function parentMain(): Promise<void> {
  const base = loadConfig({ env: {} }).config;
  const port = await freePort();
  const logger = createLogger('warn', 'foreshock-overload');
  // The mark is on the V8 heap (used heap drops after a collection, resident memory mostly does
  // not, so an RSS mark set close to the working set keeps shedding long after the backlog is gone).
  const heapLimit = getHeapStatistics().heap_size_limit;
  const highWater = process.memoryUsage().heapUsed + 48 * MB + HEADROOM_MB * MB;
  const config = {
    ...base,
    server: { ...base.server, host: '127.0.0.1', port },
    log: { ...base.log, level: 'warn' as const },
    limits: { ...base.limits, heapHighWater: highWater / heapLimit, rssHighWaterBytes: 0, retryAfter: 1000 },
    sink: { ...base.sink, kind: 'none' as const },
  };
  const fs = await startForeshock(config, logger);
  const url = fs.url.replace('0.0.0.0', '127.0.0.1');
  const machine = { node: process.version, cores: cpus().length, note: 'shared machine: other work ran at the same time' };

  let maxRss = 0;
  let maxHeap = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > maxRss) maxRss = m.rss;
    if (m.heapUsed > maxHeap) maxHeap = m.heapUsed;
  }, 100);

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--sender', ...process.argv.slice(2)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const phase = (cmd: SenderCommand) => new Promise<SenderStats>((resolve, reject) => {
    child.once('message', (m) => resolve(m as SenderStats));
    child.once('exit', (code) => reject(new Error(`sender process exited (${code})`)));
    child.send(cmd);
  });
  const scrape = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return {
      accepted: metricSum(text, 'foreshock_samples_received_total', 'source="remote_write"'),
      scored: metricSum(text, 'foreshock_samples_scored_total'),
      dropped: metricSum(text, 'foreshock_samples_dropped_total'),
      text,
    };
  };
  const catchUp = async (timeoutMs: number) => {
    const t = performance.now();
    for (;;) {
      const m = await scrape();
      // Every accepted sample scored or counted as dropped by the detector.
      if (m.scored + m.dropped >= m.accepted || performance.now() - t > timeoutMs) return { ...m, ms: performance.now() - t };
      await sleep(250);
    }
  };
  const print = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...o, machine })}\n`);

  try {
    // 1. Sustainable rate, after a warm-up push (JIT, first series allocations) that is not measured.
    await phase({ url, rate: 0, seconds: 2 });
    await catchUp(CATCH_UP_MS);
    const before = await scrape();
    const m = await phase({ url, rate: 0, seconds: MEASURE_S });
    const after = await scrape();
    const acceptedRate = m.accepted / m.seconds;
    const scoredRate = (after.scored - before.scored) / m.seconds;
    const sustainable = Math.min(acceptedRate, scoredRate);
    const caught1 = await catchUp(CATCH_UP_MS);
    print({
      case: 'measure', seconds: round(m.seconds), accepted_samples_per_s: Math.round(acceptedRate), scored_samples_per_s: Math.round(scoredRate),
      sustainable_samples_per_s: Math.round(sustainable), status: m.status, catch_up_ms: Math.round(caught1.ms),
    });

    // 2. Overload at FACTOR × sustainable.
    maxRss = 0;
    maxHeap = 0;
    const target = sustainable * FACTOR;
    const o = await phase({ url, rate: target, seconds: OVERLOAD_S });
    const other = Object.entries(o.status).filter(([s]) => s !== '204' && s !== '503').reduce((n, [, c]) => n + c, 0);
    print({
      case: 'overload', seconds: round(o.seconds), factor: FACTOR, target_samples_per_s: Math.round(target),
      offered_samples_per_s: Math.round(o.offered / o.seconds), accepted_samples_per_s: Math.round(o.accepted / o.seconds),
      status_204: o.status['204'] ?? 0, status_503: o.status['503'] ?? 0, status_other: other, status: o.status,
      // What a Prometheus would still hold in its WAL: generated at the target rate, not yet sent.
      behind_target_samples: Math.max(0, Math.round(target * o.seconds - o.offered)),
      dropped_4xx_samples: o.dropped, unsent_samples_at_end: o.unsent,
      max_rss_mib: round(maxRss / MB), max_heap_used_mib: round(maxHeap / MB), heap_high_water_mib: round(highWater / MB),
    });

    // 3. Stop pushing and catch up.
    const fin = await catchUp(CATCH_UP_MS);
    const heap = getHeapStatistics();
    const droppedByReason: Record<string, number> = {};
    for (const line of fin.text.split('\n')) {
      const r = /^foreshock_samples_dropped_total\{reason="([^"]+)"\} (\S+)$/.exec(line);
      if (r) droppedByReason[r[1]] = Number(r[2]);
    }
    const lost = fin.accepted - fin.scored - fin.dropped;
    print({
      case: 'final', catch_up_ms: Math.round(fin.ms), samples_accepted: fin.accepted, samples_scored: fin.scored, samples_dropped_by_detector: droppedByReason,
      accepted_not_scored: lost, nothing_lost: lost <= 0 && fin.scored > 0,
      max_rss_mib: round(maxRss / MB), max_heap_used_mib: round(maxHeap / MB), heap_high_water_mib: round(highWater / MB),
      heap_limit_mib: round(heap.heap_size_limit / MB), memory_bounded: maxHeap <= highWater + 64 * MB,
    });
    if (lost > 0) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    child.kill();
    await fs.close();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (process.argv.includes('--sender')) await senderMain();
else {
  await parentMain();
  process.exit();
}
