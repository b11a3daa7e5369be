// Fault suite: under steady remote-write load, kill -9 and restart each Foreshock process and
// each server it depends on, one at a time, and count what was lost. One JSON object per fault
// on stdout, then a Markdown table on stderr. Exit code 1 when any loss column is not zero (or a
// fault did not recover), 2 when a prerequisite is missing.
//
//   npm run bench:faults -- [--faults receiver,ingest,detect,intervene,api,kafka,redis,alertmanager]
//                           [--rate 2400] [--series 300] [--phase 20] [--settle 4] [--drain 150]
//                           [--anomalies 4] [--restart-delay 1] [--redis-aof 1] [--session-timeout 10]
//
// What runs (all on 127.0.0.1, all private to this run, all removed at the end, also on failure
// or Ctrl-C): a Kafka broker (test/support/private-kafka.ts), a redis-server with its append-only
// file on (test/support/private-redis.ts), a prometheus-alertmanager
// (test/support/private-alertmanager.ts), a PagerDuty Events API v2 stand-in that checks every
// request against the documented schema (test/intervention/support/pagerduty-receiver.ts), and
// Foreshock as separate processes (`foreshock receiver`, `ingest`, 2 × `detect`, `intervene`,
// `api`, started by test/distributed/support/foreshock-process.ts) configured only through
// FORESHOCK_* variables, every alert paging (pagerduty.minSeverity=warning), Alertmanager resend
// every 2 s, kafka.sessionTimeout --session-timeout s (the default config has 30 s). A restarted
// process gets its predecessor's port, as behind a service address.
//
// Load: --series gauges (10 metrics per host) remote-written (snappy protobuf) by 4 shards that
// behave like Prometheus's: each owns a set of hosts, sends its requests one after the other,
// retries a request on a 5xx, 429 or connection error with backoff (100 ms doubling to 2 s, or
// Retry-After), and counts a sample as accepted only on a 2xx. Time is compressed: a tick is
// 15 s of event time for every series, --rate / --series ticks per wall second; a shard that
// fell behind catches up with up to 20 ticks per request. Event time stays behind the wall clock.
//
// Phases: `baseline` (no fault), then one per fault. Each phase: load for --settle s, then the
// fault (SIGKILL; a process or server is started again after --restart-delay s), load for
// --phase s more, then the load pauses and the pipeline drains (at most --drain s). --anomalies
// series per phase (never the same series twice in a run) shift by +60 (noise ±3) for 40 ticks:
// half start with the phase, so their alert is open when the fault hits and resolves after it,
// half start 2 ticks after the fault tick. Each must give exactly one episode (anomaly_opened and
// anomaly_resolved events), one PagerDuty incident (trigger … resolve, one dedup_key) and at most
// one active alert in Alertmanager at a time. --redis-aof 0 runs Redis without persistence (as
// deploy/local runs the shared one), to see what a Redis restart costs then.
//
// Columns (per phase):
//   time to recover  from the kill until, at the same poll (every 250 ms), all of: the restarted
//                    process answers /readyz 200 (a server: accepts connections / PING / -/ready);
//                    every series, as the API shows the detector's state, has a sample of a tick
//                    generated after the fault (samples flow end to end again); the events topic has
//                    no lag for the intervention group; and every alert the API lists as firing is
//                    active in Alertmanager. null ("not recovered") when that never happened before
//                    the drain ended: a failure, like a phase that did not drain within --drain s.
//   samples accepted samples whose request got a 2xx during the phase.
//   samples lost     Σ over series of (accepted − scored by the detector), scored read per series
//                    from the detector's own state through GET /api/v1/series (`samples`, which
//                    follows the series through checkpoints and failover); growth during the phase.
//   events expected  2 per anomaly of the phase (opened, resolved).
//   events lost      of those, how many never appeared on the events topic (read with a consumer
//                    group of this run's own). A second episode for one anomaly (the detector opened
//                    it again, e.g. after restoring cold) is `extra_episodes` in the JSON, and fails.
//   pages lost       anomalies of the phase with no PagerDuty trigger accepted (`pages_lost`), plus
//                    those whose incident was never resolved (`pages_unresolved`).
//   duplicate pages  PagerDuty incidents opened more than once for one anomaly (a trigger after a
//                    resolve of the same dedup_key, or a second dedup_key for the same series),
//                    plus the series for which an Alertmanager snapshot (GET /api/v2/alerts, every
//                    250 ms) held more than one active alert at once; growth during the phase.
//                    (An alert that fired and resolved between two snapshots, e.g. while a backlog
//                    drained, and that Alertmanager never notified as firing either, is counted in
//                    `alertmanager_alerts_never_seen`: information, not a loss.)

import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { KafkaBus } from '../shared/adapters/kafka/index.js';
import { encodeWriteRequest, snappyCompress } from '../shared/codecs/index.js';
import type { AnomalyEvent } from '../shared/model/index.js';
import type { Subscription } from '../shared/ports/index.js';
import { distributedEnv, startService, type ForeshockProcess } from '../test/distributed/support/foreshock-process.js';
import { PagerDutyReceiver } from '../test/intervention/support/pagerduty-receiver.js';
import { PrivateAlertmanager } from '../test/support/private-alertmanager.js';
import { kafkaClasspath, startPrivateKafka, type PrivateKafka } from '../test/support/private-kafka.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../test/support/private-redis.js';
import { freePort } from '../test/support/wait.js';
import { hashNoise, numberArg } from './support.js';

const ALL_FAULTS = ['receiver', 'ingest', 'detect', 'intervene', 'api', 'kafka', 'redis', 'alertmanager'] as const;
type Fault = (typeof ALL_FAULTS)[number];
type Phase = Fault | 'baseline';

const argv = process.argv.slice(2);
const arg = numberArg;
function usage(msg: string): never {
  process.stderr.write(`bench:faults: ${msg}\n`);
  process.exit(2);
}
const faultsArg = argv.includes('--faults') ? argv[argv.indexOf('--faults') + 1] ?? '' : ALL_FAULTS.join(',');
const FAULTS = faultsArg.split(',').map((s) => s.trim()).filter(Boolean) as Fault[];
for (const f of FAULTS) if (!ALL_FAULTS.includes(f)) usage(`unknown fault ${JSON.stringify(f)}; known: ${ALL_FAULTS.join(', ')}`);
const RATE = arg('rate', 2400);
if (RATE <= 0) usage('--rate must be above 0');
const SERIES = Math.max(10, Math.round(arg('series', 300) / 10) * 10);
const PHASE_S = arg('phase', 20);
const SETTLE_S = arg('settle', 4);
const DRAIN_S = arg('drain', 150);
const ANOMALIES = arg('anomalies', 4);
const RESTART_DELAY_S = arg('restart-delay', 1);
/** 0: Redis without its append-only file (as deploy/local runs the shared one), to see what the suite catches then. */
const REDIS_AOF = arg('redis-aof', 1) !== 0;
/** kafka.sessionTimeout of every process, s (the broker allows 6–1800): how long a killed consumer keeps its partitions. */
const SESSION_TIMEOUT_S = arg('session-timeout', 10);

const METRICS = 10;
const HOSTS = SERIES / METRICS;
const SHARDS = 4;
const STEP_MS = 15_000;
const TICKS_PER_S = RATE / SERIES;
const MAX_TICKS_PER_REQUEST = 20;
const SHIFT = 60;
const ANOMALY_TICKS = 40;
const WARMUP_S = 12;
const PD_ROUTING_KEY = 'FAULTSUITE000000000000000000000a';
const machine = { node: process.version, cores: cpus().length, loadavg_1m_at_start: Math.round(loadavg()[0] * 10) / 10, note: 'shared machine: other work ran at the same time' };

// ---- cancellation: the first SIGINT/SIGTERM unwinds into the cleanup, a second one exits at once ----

class Aborted extends Error {}
let aborted = false;
const live = new Set<ForeshockProcess>();
function onSignal(sig: string): void {
  if (aborted) {
    for (const p of live) p.child.kill('SIGKILL');
    process.exit(130);
  }
  aborted = true;
  process.stderr.write(`bench:faults: ${sig}, cleaning up (again to exit at once)\n`);
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

async function sleep(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (aborted) throw new Aborted('aborted');
    await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())));
  }
  if (aborted) throw new Aborted('aborted');
}

const log = (msg: string) => process.stderr.write(`[faults +${((Date.now() - STARTED) / 1000).toFixed(1)}s] ${msg}\n`);
const STARTED = Date.now();

// ---- the load: Prometheus-like remote-write shards over a fleet with scheduled anomalies ----

const noise = hashNoise;

interface Anomaly {
  phase: Phase;
  series: number;
  /** `metric|host`, how events, alerts and pages are matched back. */
  id: string;
  fromTick: number;
  toTick: number;
}

class Fleet {
  readonly labels: [string, string][][] = [];
  readonly ids: string[] = [];
  readonly accepted = new Float64Array(SERIES);
  /** Series index → its anomaly. */
  readonly anomalyOf = new Map<number, Anomaly>();
  readonly status: Record<string, number> = {};
  requests = 0;
  dropped = 0;
  /** Ticks every shard should have sent by now. */
  target = 0;
  readonly next = new Float64Array(SHARDS);
  private running = false;
  private runFrom = 0;
  private runBase = 0;
  private stopped = false;
  private readonly shardsDone: Promise<void>[] = [];
  private readonly shardSeries: number[][] = [];
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    readonly t0: number,
    readonly maxTicks: number,
    prefix: string,
  ) {
    for (let h = 0; h < HOSTS; h++) {
      for (let m = 0; m < METRICS; m++) {
        const metric = `fault_load_m${m}`;
        const host = `${prefix}-h${h}`;
        this.labels.push([['__name__', metric], ['cluster', `${prefix}-c${h % 3}`], ['host', host], ['job', 'node']]);
        this.ids.push(`${metric}|${host}`);
      }
    }
    for (let s = 0; s < SHARDS; s++) this.shardSeries.push([]);
    for (let i = 0; i < SERIES; i++) this.shardSeries[Math.floor(i / METRICS) % SHARDS].push(i);
    this.ticker = setInterval(() => {
      if (!this.running) return;
      const t = Math.min(this.maxTicks, this.runBase + Math.floor(((Date.now() - this.runFrom) / 1000) * TICKS_PER_S));
      if (t > this.target) this.target = t;
    }, 20);
    for (let s = 0; s < SHARDS; s++) this.shardsDone.push(this.shard(s));
  }

  value(series: number, tick: number): number {
    const a = this.anomalyOf.get(series);
    const shift = a !== undefined && tick >= a.fromTick && tick < a.toTick ? SHIFT : 0;
    return 100 + (series % 50) + 3 * noise(series, tick) + shift;
  }

  resume(): void {
    if (this.running) return;
    this.runBase = this.target;
    this.runFrom = Date.now();
    this.running = true;
  }

  pause(): void {
    this.running = false;
  }

  caughtUp(): boolean {
    for (let s = 0; s < SHARDS; s++) if (this.next[s] < this.target) return false;
    return true;
  }

  acceptedTotal(): number {
    let n = 0;
    for (let i = 0; i < SERIES; i++) n += this.accepted[i];
    return n;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.running = false;
    clearInterval(this.ticker);
    await Promise.all(this.shardsDone);
  }

  private body(shard: number, from: number, to: number): Uint8Array {
    const series = this.shardSeries[shard].map((s) => {
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let k = from; k < to; k++) {
        timestamps.push(this.t0 + k * STEP_MS);
        values.push(this.value(s, k));
      }
      return { labels: this.labels[s], timestamps, values };
    });
    return snappyCompress(encodeWriteRequest({ series }));
  }

  private async shard(shard: number): Promise<void> {
    while (!this.stopped) {
      const from = this.next[shard];
      if (from >= this.target) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const to = Math.min(this.target, from + MAX_TICKS_PER_REQUEST);
      const bytes = this.body(shard, from, to);
      let backoff = 100;
      for (;;) {
        let status = 0;
        let retryAfter: string | null = null;
        try {
          const res = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
            body: bytes,
            signal: AbortSignal.timeout(15_000),
          });
          status = res.status;
          retryAfter = res.headers.get('retry-after');
          await res.arrayBuffer();
        } catch {
          status = 0; // connection refused or reset, timeout: retried like a 5xx
        }
        this.requests++;
        this.status[String(status)] = (this.status[String(status)] ?? 0) + 1;
        if (status >= 200 && status < 300) {
          for (const s of this.shardSeries[shard]) this.accepted[s] += to - from;
          break;
        }
        if (status >= 400 && status < 500 && status !== 429) {
          this.dropped += (to - from) * this.shardSeries[shard].length;
          break;
        }
        if (this.stopped) return;
        const ra = retryAfter !== null ? Number(retryAfter) * 1000 : NaN;
        await new Promise((r) => setTimeout(r, Number.isFinite(ra) ? ra : backoff));
        backoff = Math.min(backoff * 2, 2_000);
      }
      this.next[shard] = to;
    }
  }
}

// ---- what the pipeline says ----

interface SeriesRow {
  key: string;
  host: string;
  labels: Record<string, string>;
  samples: number;
  lastTs: number;
}

interface AmAlert {
  labels: Record<string, string>;
  endsAt: string;
  fingerprint: string;
  status: { state: string };
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) {
      await res.arrayBuffer();
      return null;
    }
    return (await res.json()) as T;
  } catch {
    return null;
  }
}

/** Waits for all; then throws the first failure. */
async function settled(promises: Promise<unknown>[]): Promise<void> {
  const r = await Promise.allSettled(promises);
  const failed = r.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

async function main(): Promise<number> {
  const classpath = kafkaClasspath();
  if (classpath === null) usage('needs the Kafka jars of deploy/local (npm run services -- up kafka) and java');
  if (!redisServerAvailable()) usage('needs redis-server (npm run services -- install)');
  if (!PrivateAlertmanager.available()) usage('needs prometheus-alertmanager (npm run services -- install)');

  const run = `fsf${randomBytes(3).toString('hex')}`;
  const procs: Record<'receiver' | 'ingest' | 'intervene' | 'api', ForeshockProcess | null> & { detect: ForeshockProcess[] } = {
    receiver: null, ingest: null, intervene: null, api: null, detect: [],
  };
  const servers: { broker: PrivateKafka | null; redis: PrivateRedis | null } = { broker: null, redis: null };
  const am = new PrivateAlertmanager();
  const pd = new PagerDutyReceiver();
  let bus: KafkaBus | null = null;
  let sub: Subscription | null = null;
  let fleet: Fleet | null = null;
  const results: Record<string, unknown>[] = [];
  let failed = false;

  const track = (p: ForeshockProcess) => {
    live.add(p);
    p.child.once('exit', () => live.delete(p));
    return p;
  };

  try {
    log(`starting private Kafka, Redis${REDIS_AOF ? '' : ' (no append-only file)'}, Alertmanager and the PagerDuty stand-in (run ${run})`);
    // allSettled, so what did start is known to the cleanup even when something else failed.
    await settled([
      startPrivateKafka(classpath).then((b) => void (servers.broker = b)),
      startPrivateRedis({ appendOnly: REDIS_AOF }).then((r) => void (servers.redis = r)),
      am.setUp().then(() => am.start()),
      pd.start(),
    ]);
    const { broker, redis } = servers;
    if (broker === null || redis === null) throw new Error('unreachable: servers not started');
    const env: Record<string, string> = {
      ...distributedEnv(broker.brokers, redis.url, run),
      FORESHOCK_BUS_PARTITIONS: '4',
      FORESHOCK_SINK_KIND: 'none',
      FORESHOCK_KAFKA_REQUEST_TIMEOUT: '5s',
      FORESHOCK_KAFKA_SESSION_TIMEOUT: `${SESSION_TIMEOUT_S}s`,
      FORESHOCK_KAFKA_REBALANCE_TIMEOUT: `${Math.max(15, SESSION_TIMEOUT_S + 5)}s`,
      FORESHOCK_DETECTOR_CHECKPOINT_INTERVAL: '5s',
      FORESHOCK_API_PUBLISH_INTERVAL: '500ms',
      FORESHOCK_ALERTMANAGER_URL: am.url,
      FORESHOCK_ALERTMANAGER_RESEND_INTERVAL: '2s',
      FORESHOCK_ALERTMANAGER_TIMEOUT: '2s',
      FORESHOCK_PAGERDUTY_URL: pd.url,
      FORESHOCK_PAGERDUTY_ROUTES: JSON.stringify([{ name: 'faults', routingKey: PD_ROUTING_KEY }]),
      FORESHOCK_PAGERDUTY_MIN_SEVERITY: 'warning',
      FORESHOCK_PAGERDUTY_TIMEOUT: '2s',
      FORESHOCK_QUEUE_BACKOFF_BASE: '250ms',
      FORESHOCK_QUEUE_BACKOFF_MAX: '4s',
    };
    const ports = { receiver: await freePort(), ingest: await freePort(), intervene: await freePort(), api: await freePort(), detect: [await freePort(), await freePort()] };
    // The consumers first, so the topics and groups exist before the first sample.
    log('starting foreshock ingest, detect ×2, intervene, api, receiver');
    const detects: (ForeshockProcess | null)[] = [null, null];
    await settled([
      startService('ingest', env, 120_000, ports.ingest).then((p) => void (procs.ingest = track(p))),
      startService('detect', env, 120_000, ports.detect[0]).then((p) => void (detects[0] = track(p))),
      startService('detect', env, 120_000, ports.detect[1]).then((p) => void (detects[1] = track(p))),
      startService('intervene', env, 120_000, ports.intervene).then((p) => void (procs.intervene = track(p))),
      startService('api', env, 120_000, ports.api).then((p) => void (procs.api = track(p))),
    ]).finally(() => (procs.detect = detects.filter((p): p is ForeshockProcess => p !== null)));
    procs.receiver = track(await startService('receiver', env, 120_000, ports.receiver));
    const apiUrl = `http://127.0.0.1:${ports.api}`;

    // Events come back through the events topic, read with a group of this run's own.
    bus = new KafkaBus({ brokers: [broker.brokers], clientId: `${run}-faults`, groupIdPrefix: `${run}-`, requestTimeoutMs: 5_000 });
    const events = new Map<string, AnomalyEvent>();
    const dec = new TextDecoder();
    sub = await bus.subscribe({
      groupId: 'faults-events',
      topics: [env.FORESHOCK_BUS_TOPIC_EVENTS],
      fromBeginning: true,
      eachBatch: async (b) => {
        for (const m of b.messages) {
          const e = JSON.parse(dec.decode(m.value)) as AnomalyEvent;
          events.set(e.id, e);
        }
      },
    });

    // Event time ends before the wall clock even if every phase runs to its end.
    const phases: Phase[] = ['baseline', ...FAULTS];
    const loadSeconds = WARMUP_S + phases.length * (SETTLE_S + PHASE_S) + 30;
    const maxTicks = Math.ceil(loadSeconds * TICKS_PER_S * 1.5) + 100;
    const t0 = Math.floor((Date.now() - (maxTicks + 40) * STEP_MS) / STEP_MS) * STEP_MS;
    fleet = new Fleet(`http://127.0.0.1:${ports.receiver}/api/v1/write`, t0, maxTicks, run);
    const f = fleet;
    const tickTs = (k: number) => t0 + k * STEP_MS;

    const seriesRows = async (): Promise<Map<string, SeriesRow> | null> => {
      const r = await getJson<{ series: SeriesRow[] }>(`${apiUrl}/api/v1/series?limit=10000`);
      if (r === null) return null;
      const m = new Map<string, SeriesRow>();
      for (const s of r.series) m.set(`${s.labels.__name__}|${s.host}`, s);
      return m;
    };
    /** Σ over series of accepted − scored (never negative per series); null when the API does not answer. */
    const lostNow = async (): Promise<{ lost: number; missing: number } | null> => {
      const rows = await seriesRows();
      if (rows === null) return null;
      let lost = 0;
      let missing = 0;
      for (let i = 0; i < SERIES; i++) {
        const row = rows.get(f.ids[i]);
        if (row === undefined && f.accepted[i] > 0) missing++;
        lost += Math.max(0, f.accepted[i] - (row?.samples ?? 0));
      }
      return { lost, missing };
    };
    const amActive = async (): Promise<AmAlert[] | null> => {
      const r = await getJson<AmAlert[]>(`${am.url}/api/v2/alerts?filter=${encodeURIComponent('alertname="ForeshockAnomaly"')}`);
      if (r === null) return null;
      const now = Date.now();
      return r.filter((a) => a.status.state === 'active' && Date.parse(a.endsAt) > now);
    };

    // PagerDuty accounting over everything received so far.
    const pdStats = () => {
      const keySeries = new Map<string, string>();
      const seriesKeys = new Map<string, Set<string>>();
      const incidents = new Map<string, number>();
      const open = new Map<string, boolean>();
      for (const r of pd.accepted()) {
        const key = r.body.dedup_key ?? '';
        if (r.body.event_action === 'trigger') {
          const l = ((r.body.payload?.custom_details as { labels?: Record<string, string> } | undefined)?.labels) ?? {};
          const id = `${l.metric}|${l.host}`;
          keySeries.set(key, id);
          if (!seriesKeys.has(id)) seriesKeys.set(id, new Set());
          seriesKeys.get(id)!.add(key);
          if (!open.get(key)) incidents.set(key, (incidents.get(key) ?? 0) + 1);
          open.set(key, true);
        } else if (r.body.event_action === 'resolve') open.set(key, false);
      }
      let duplicates = 0;
      for (const n of incidents.values()) duplicates += Math.max(0, n - 1);
      for (const keys of seriesKeys.values()) duplicates += keys.size - 1;
      const triggered = new Set<string>(seriesKeys.keys());
      const resolved = new Set<string>();
      for (const [key, isOpen] of open) if (!isOpen) resolved.add(keySeries.get(key) ?? key);
      return { duplicates, triggered, resolved, invalid: pd.invalid.length };
    };

    // Alertmanager watcher: every second, which series are active and whether one has two alerts.
    const amSeen = new Set<string>();
    /** Series that had more than one active alert in one snapshot. */
    const amDuplicated = new Set<string>();
    let amPolling = true;
    const amWatcher = (async () => {
      while (amPolling) {
        const alerts = await amActive();
        if (alerts !== null) {
          const per = new Map<string, Set<string>>();
          for (const a of alerts) {
            const id = `${a.labels.metric}|${a.labels.host}`;
            amSeen.add(id);
            if (!per.has(id)) per.set(id, new Set());
            per.get(id)!.add(a.fingerprint);
          }
          for (const [id, fps] of per) if (fps.size > 1) amDuplicated.add(id);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const anomalies: Anomaly[] = [];
    let nextAnomalySeries = 0;
    const inject = (phase: Phase, fromTick: number, count: number) => {
      const out: Anomaly[] = [];
      for (let i = 0; i < count && nextAnomalySeries < SERIES; i++) {
        // Spread over hosts and metrics: series 0, 37, 74, … (37 is coprime with the fleet's 10 metrics).
        const series = (nextAnomalySeries++ * 37) % SERIES;
        const a: Anomaly = { phase, series, id: f.ids[series], fromTick, toTick: fromTick + ANOMALY_TICKS };
        f.anomalyOf.set(series, a);
        anomalies.push(a);
        out.push(a);
      }
      return out;
    };
    /** The anomaly's episodes on the events topic (a series has one anomaly per run: any episode from its start on is its). */
    const eventsOf = (a: Anomaly) => {
      const opened = new Set<number>();
      const resolved = new Set<number>();
      for (const e of events.values()) {
        if (`${e.labels.__name__}|${e.host}` !== a.id || e.startedAt < tickTs(a.fromTick)) continue;
        if (e.kind === 'anomaly_opened') opened.add(e.startedAt);
        if (e.kind === 'anomaly_resolved') resolved.add(e.startedAt);
      }
      const episodes = new Set([...opened, ...resolved]);
      const first = Math.min(...episodes);
      return { opened: opened.size > 0, resolved: resolved.has(first), extraEpisodes: Math.max(0, episodes.size - 1) };
    };

    log(`warming up: ${SERIES} series at ${RATE} samples/s (${TICKS_PER_S.toFixed(1)} ticks/s) for ${WARMUP_S} s`);
    f.resume();
    await sleep(WARMUP_S * 1000);

    let lostBefore = 0;
    let pdDupBefore = 0;
    let amDupBefore = 0;
    for (const phase of phases) {
      const acceptedBefore = f.acceptedTotal();
      const requestsBefore = f.requests;
      const statusBefore = { ...f.status };
      f.resume();
      // Half the anomalies open before the fault and resolve after it, half start right after it.
      const early = inject(phase, f.target + 2, Math.ceil(ANOMALIES / 2));
      await sleep(SETTLE_S * 1000);
      const faultTick = f.target;
      const mine = [...early, ...inject(phase, faultTick + 2, ANOMALIES - early.length)];
      const faultAt = Date.now();
      let readyAt: number | null = phase === 'baseline' ? faultAt : null;
      let recoveredAt: number | null = phase === 'baseline' ? faultAt : null;
      let probing = phase !== 'baseline';
      // Recovery probe, from the kill on.
      const probe = (async () => {
        while (probing) {
          if (readyAt !== null) {
            const rows = await seriesRows();
            let flowing = rows !== null && rows.size >= SERIES;
            if (flowing) for (const r of rows!.values()) if (r.lastTs < tickTs(faultTick)) flowing = false;
            let lag = -1;
            if (flowing) lag = await bus!.lag(env.FORESHOCK_BUS_TOPIC_EVENTS, 'foreshock-intervention').catch(() => -1);
            let synced = false;
            if (flowing && lag === 0) {
              const firing = await getJson<{ alerts: { labels: Record<string, string> }[] }>(`${apiUrl}/api/v1/alerts?state=firing&limit=10000`);
              const active = await amActive();
              if (firing !== null && active !== null) {
                const inAm = new Set(active.map((a) => `${a.labels.metric}|${a.labels.host}`));
                synced = firing.alerts.every((a) => inAm.has(`${a.labels.metric}|${a.labels.host}`));
              }
            }
            if (synced) {
              recoveredAt = Date.now();
              return;
            }
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();

      log(`${phase}: ${phase === 'baseline' ? 'no fault' : 'kill -9'} at tick ${faultTick}; anomalies on ${mine.map((a) => a.id).join(', ')}`);
      const restart = async (): Promise<void> => {
        const delay = RESTART_DELAY_S * 1000;
        switch (phase) {
          case 'baseline':
            return;
          case 'receiver':
          case 'ingest':
          case 'intervene':
          case 'api': {
            const p = procs[phase]!;
            const exit = new Promise<void>((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r() : p.child.once('exit', () => r())));
            p.child.kill('SIGKILL');
            await exit;
            await sleep(delay);
            procs[phase] = track(await startService(phase, env, 120_000, ports[phase]));
            break;
          }
          case 'detect': {
            const p = procs.detect[0];
            const exit = new Promise<void>((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r() : p.child.once('exit', () => r())));
            p.child.kill('SIGKILL');
            await exit;
            await sleep(delay);
            procs.detect[0] = track(await startService('detect', env, 120_000, ports.detect[0]));
            break;
          }
          case 'kafka':
            await broker.stop('SIGKILL');
            await sleep(delay);
            await broker.start();
            break;
          case 'redis':
            await redis.stop('SIGKILL');
            await sleep(delay);
            await redis.start();
            break;
          case 'alertmanager':
            await am.stop('SIGKILL');
            await sleep(delay);
            await am.start();
            break;
        }
      };
      await restart();
      readyAt = Date.now();
      const rest = faultAt + PHASE_S * 1000 - Date.now();
      if (rest > 0) await sleep(rest);
      f.pause();

      // Drain: every accepted sample scored, every anomaly of the phase opened and resolved
      // (events, PagerDuty, Alertmanager), or --drain s.
      const drainFrom = Date.now();
      let drained = false;
      let lost = { lost: -1, missing: 0 };
      while (Date.now() - drainFrom < DRAIN_S * 1000) {
        const l = f.caughtUp() ? await lostNow() : null;
        if (l !== null) lost = l;
        const pdNow = pdStats();
        const evOk = mine.every((a) => {
          const e = eventsOf(a);
          return e.opened && e.resolved;
        });
        const pdOk = mine.every((a) => pdNow.resolved.has(a.id));
        const active = await amActive();
        const amOk = active !== null && !active.some((x) => mine.some((a) => a.id === `${x.labels.metric}|${x.labels.host}`));
        if (l !== null && l.lost === 0 && evOk && pdOk && amOk && recoveredAt !== null) {
          drained = true;
          break;
        }
        await sleep(500);
      }
      probing = false;
      await probe;
      if (lost.lost < 0) lost = (await lostNow()) ?? { lost: f.acceptedTotal(), missing: SERIES };

      const pdNow = pdStats();
      let eventsLost = 0;
      let extraEpisodes = 0;
      for (const a of mine) {
        const e = eventsOf(a);
        if (!e.opened) eventsLost++;
        if (!e.resolved) eventsLost++;
        extraEpisodes += e.extraEpisodes;
      }
      // Alertmanager's own notifications (its webhook receiver) count as having seen an alert too.
      for (const n of am.notifications) for (const x of n.alerts) if (x.status === 'firing') amSeen.add(`${x.labels.metric}|${x.labels.host}`);
      const pagesLost = mine.filter((a) => !pdNow.triggered.has(a.id)).length;
      const pagesUnresolved = mine.filter((a) => pdNow.triggered.has(a.id) && !pdNow.resolved.has(a.id)).length;
      const amMissing = mine.filter((a) => !amSeen.has(a.id)).length;
      const anomalyIds = new Set(anomalies.map((a) => a.id));
      const falsePages = [...pdNow.triggered].filter((id) => !anomalyIds.has(id)).length;
      const falseEvents = [...events.values()].filter((e) => e.kind === 'anomaly_opened' && !anomalyIds.has(`${e.labels.__name__}|${e.host}`)).length;
      const samplesLost = Math.max(0, lost.lost - lostBefore);
      const pdDup = pdNow.duplicates - pdDupBefore;
      const amDup = amDuplicated.size - amDupBefore;
      lostBefore = Math.max(lostBefore, lost.lost);
      pdDupBefore = pdNow.duplicates;
      amDupBefore = amDuplicated.size;
      const status: Record<string, number> = {};
      for (const [k, v] of Object.entries(f.status)) if (v - (statusBefore[k] ?? 0) > 0) status[k] = v - (statusBefore[k] ?? 0);
      const recoverS = recoveredAt === null ? null : Math.round((recoveredAt - faultAt) / 100) / 10;
      const row = {
        case: `fault_${phase}`,
        fault: phase === 'baseline' ? 'none (baseline)' : `kill -9 ${phase}`,
        time_to_recover_s: recoverS,
        restarted_ready_s: readyAt === null ? null : Math.round((readyAt - faultAt) / 100) / 10,
        samples_accepted: f.acceptedTotal() - acceptedBefore,
        samples_lost: samplesLost,
        series_missing_in_api: lost.missing,
        events_expected: 2 * mine.length,
        events_lost: eventsLost,
        extra_episodes: extraEpisodes,
        pages_expected: mine.length,
        pages_lost: pagesLost,
        pages_unresolved: pagesUnresolved,
        duplicate_pages: pdDup + amDup,
        duplicate_pages_pagerduty: pdDup,
        duplicate_alerts_alertmanager: amDup,
        alertmanager_alerts_never_seen: amMissing,
        false_pages_total: falsePages,
        false_anomalies_total: falseEvents,
        pagerduty_invalid_requests_total: pdNow.invalid,
        sender_requests: f.requests - requestsBefore,
        sender_status: status,
        sender_dropped_4xx_total: f.dropped,
        drained,
        drain_s: Math.round((Date.now() - drainFrom) / 100) / 10,
        machine,
      };
      results.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
      if (recoverS === null || samplesLost > 0 || eventsLost > 0 || extraEpisodes > 0 || pagesLost + pagesUnresolved > 0 || row.duplicate_pages > 0 || !drained) {
        failed = true;
        const tail = (p: ForeshockProcess | null | undefined) => (p ? `--- ${p.service} ---\n${p.output().slice(-1_500)}\n` : '');
        log(`${phase}: NOT CLEAN (recovered ${recoverS ?? 'never'}, lost ${samplesLost} samples, ${eventsLost} events, ${pagesLost} triggers, ${pagesUnresolved} resolves, ${extraEpisodes} extra episodes, ${row.duplicate_pages} duplicates, drained ${drained}). Process output:\n` +
          [procs.receiver, procs.ingest, ...procs.detect, procs.intervene, procs.api].map(tail).join(''));
      }
    }
    amPolling = false;
    await amWatcher;

    const md = [
      '| fault | time to recover (s) | samples accepted | samples lost | events expected | events lost | pages lost | duplicate pages |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((r) => `| ${r.fault} | ${r.fault === 'none (baseline)' ? '—' : r.time_to_recover_s ?? 'not recovered'} | ${r.samples_accepted} | ${r.samples_lost} | ${r.events_expected} | ${r.events_lost} | ${Number(r.pages_lost) + Number(r.pages_unresolved)} | ${r.duplicate_pages} |`),
    ].join('\n');
    process.stderr.write(`\n${md}\n\n`);
    return failed ? 1 : 0;
  } catch (err) {
    if (err instanceof Aborted) {
      log('aborted');
      return 130;
    }
    throw err;
  } finally {
    log('cleaning up');
    await fleet?.close().catch(() => undefined);
    await sub?.close().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    const all = [procs.receiver, procs.ingest, ...procs.detect, procs.intervene, procs.api].filter((p): p is ForeshockProcess => p !== null);
    await Promise.all(all.map((p) => p.stop(5_000).catch(() => undefined)));
    await servers.broker?.close().catch(() => undefined);
    await servers.redis?.close().catch(() => undefined);
    await am.tearDown().catch(() => undefined);
    await pd.stop().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:faults: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
