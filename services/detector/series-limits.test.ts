// Cardinality limits: a new series over limits.seriesPerHost / limits.seriesTotal is refused
// and counted, the series already held keep being scored (and keep alerting), idle eviction
// frees room, and a restored checkpoint rebuilds the per-host counts.

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus, MemoryStateStore } from '../../shared/adapters/memory/index.js';
import { encodeSampleBatch } from '../../shared/codecs/index.js';
import { loadConfig, type ForeshockConfig } from '../../shared/config/index.js';
import { KIND_GAUGE, seriesKey, sortedLabels, type AnomalyEvent, type SeriesSamples, type SeriesSummary } from '../../shared/model/index.js';
import type { BusBatch, OutgoingMessage, StateStore } from '../../shared/ports/index.js';
import type { Logger, Telemetry } from '../../shared/telemetry/index.js';
import { collectEvents, newBus as harnessBus, PARTITIONS, startDetector, type RunningDetector } from '../../test/support/detector-harness.js';
import { buildWorkload } from '../../test/support/detector-workload.js';
import { DetectorService } from './detector-service.js';
import { SeriesTable } from './series-table.js';

const WORKLOAD = buildWorkload({ hosts: 12, steps: 420, stepsPerMessage: 3 });
const T0 = Date.UTC(2025, 0, 1);

function config(limits: Partial<ForeshockConfig['limits']>, detector: Partial<ForeshockConfig['detector']> = {}): ForeshockConfig {
  const base = loadConfig({ env: {} }).config;
  return {
    ...base,
    bus: { ...base.bus, topicSamples: 'samples', topicEvents: 'events' },
    limits: { ...base.limits, ...limits },
    detector: { ...base.detector, checkpointInterval: 3_600_000, checkpointBatches: 1, ...detector },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const newBus = (): MemoryBus => harnessBus(closers);
const detector = (bus: MemoryBus, store: StateStore, cfg: ForeshockConfig, logger?: Logger): Promise<RunningDetector> =>
  startDetector(closers, bus, store, cfg, { logger });




async function drain(bus: MemoryBus): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await bus.lag('samples', 'foreshock-detector')) > 0 || (await bus.lag('events', 'collector')) > 0) {
    if (Date.now() > deadline) throw new Error('bus did not drain');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function send(bus: MemoryBus, messages: OutgoingMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 50) await bus.send('samples', messages.slice(i, i + 50));
}

function summaries(svc: DetectorService): Map<string, SeriesSummary> {
  const out = new Map<string, SeriesSummary>();
  for (const k of WORKLOAD.keys) {
    const s = svc.getSeries(k);
    if (s !== null) out.set(k, s);
  }
  return out;
}

/** One message of gauge series `fs_x{host,id}` for each id, `n` samples each from `ts`. */
function seriesMessage(host: string, ids: string[], ts: number, n = 1): OutgoingMessage {
  const series = ids.map((id): SeriesSamples => {
    const labels = sortedLabels([['__name__', 'fs_x'], ['host', host], ['id', id]]);
    const timestamps = new Float64Array(n);
    for (let i = 0; i < n; i++) timestamps[i] = ts + i * 15_000;
    return { key: seriesKey(labels), labels, host, kind: KIND_GAUGE, timestamps, values: new Float64Array(n).fill(1), stale: false };
  });
  return { key: host, value: encodeSampleBatch({ series }) };
}

function xKey(host: string, id: string): string {
  return seriesKey(sortedLabels([['__name__', 'fs_x'], ['host', host], ['id', id]]));
}

/** One batch handed to the detector as the bus would (partition 0). */
function batch(m: OutgoingMessage, offset: number): BusBatch {
  return { topic: 'samples', partition: 0, messages: [{ key: m.key!, value: m.value, offset, timestamp: 1 }] };
}

async function metric(t: Telemetry, name: string): Promise<string> {
  return t.registry.getSingleMetricAsString(name);
}

describe('SeriesTable per-host counts', () => {
  it('follows bind and release', () => {
    const t = new SeriesTable();
    const l = sortedLabels([['__name__', 'a']]);
    t.bind(0, 'a', l, 'h1', KIND_GAUGE);
    t.bind(1, 'b', l, 'h1', KIND_GAUGE);
    t.bind(2, 'c', l, 'h2', KIND_GAUGE);
    expect([t.hostCount('h1'), t.hostCount('h2'), t.hostCount('h3'), t.size]).toEqual([2, 1, 0, 3]);
    t.release(0);
    t.release(0); // twice is a no-op
    expect([t.hostCount('h1'), t.size]).toEqual([1, 2]);
    t.bind(0, 'd', l, 'h2', KIND_GAUGE);
    expect([t.hostCount('h1'), t.hostCount('h2')]).toEqual([1, 2]);
  });
});

describe('DetectorService cardinality limits', () => {
  it('refuses and counts new series over the limits while the existing ones are scored and alert as without them', async () => {
    // Reference: the workload alone, no limits reached.
    const refBus = newBus();
    await refBus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const refEvents = await collectEvents(refBus);
    const ref = await detector(refBus, new MemoryStateStore(), config({}));
    await send(refBus, WORKLOAD.messages);
    await drain(refBus);
    const refSeries = summaries(ref.svc);
    expect(refSeries.size).toBe(WORKLOAD.keys.length);
    expect(refEvents.filter((e) => e.kind === 'anomaly_opened').length).toBeGreaterThanOrEqual(3);

    // 12 hosts × 3 series fill 36; per host 3, in total 37.
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const bus = newBus();
    await bus.ensureTopics([{ name: 'samples', partitions: PARTITIONS }, { name: 'events', partitions: 1 }]);
    const events = await collectEvents(bus);
    const { svc, telemetry } = await detector(bus, new MemoryStateStore(), config({ seriesPerHost: 3, seriesTotal: 37 }), logger);
    await send(bus, WORKLOAD.messages.slice(0, 12)); // first chunk: every workload series bound
    await drain(bus);
    const victim = WORKLOAD.anomalousHosts[0];
    const burst: OutgoingMessage[] = [];
    // A cardinality explosion on a host whose gauge later alerts: 40 new series, 3 samples each, in 4 messages.
    for (let m = 0; m < 4; m++) burst.push(seriesMessage(victim, Array.from({ length: 10 }, (_, i) => `v${m * 10 + i}`), T0 + 15_000, 3));
    // A new host: its first series fits the total, the other two do not.
    burst.push(seriesMessage('intruder', ['i0', 'i1', 'i2'], T0 + 15_000, 2));
    await send(bus, burst);
    await drain(bus);
    expect(await metric(telemetry, 'foreshock_series_active')).toMatch(/ 37$/m);
    for (let i = 0; i < 40; i++) expect(svc.getSeries(xKey(victim, `v${i}`))).toBeNull();
    expect(svc.getSeries(xKey('intruder', 'i0'))).not.toBeNull();
    expect(svc.getSeries(xKey('intruder', 'i1'))).toBeNull();
    await send(bus, WORKLOAD.messages.slice(12));
    await drain(bus);

    const dropped = await metric(telemetry, 'foreshock_samples_dropped_total');
    expect(dropped).toMatch(/reason="series_limit_host"} 120$/m);
    expect(dropped).toMatch(/reason="series_limit_total"} 4$/m);
    // The workload's series: same state and the same events as without the explosion.
    expect(summaries(svc)).toEqual(refSeries);
    expect(events.map((e) => e.id).sort()).toEqual(refEvents.map((e) => e.id).sort());
    expect(events.some((e) => e.kind === 'anomaly_opened' && e.host === victim)).toBe(true);
    // One warning (rate-limited), naming the host.
    const warnings = lines.map((l) => JSON.parse(l) as { host: string; reason: string; msg: string });
    expect(warnings.length).toBe(1);
    expect(warnings[0].host).toBe(victim);
    expect(warnings[0].reason).toBe('series_limit_host');
    expect(warnings[0].msg).toContain(victim);
  });

  it('frees room when idle series are evicted', async () => {
    const bus = newBus();
    const { svc, telemetry } = await detector(bus, new MemoryStateStore(), config({ seriesPerHost: 2 }, { checkpoint: false }));
    let offset = 0;
    await svc.handleBatch(batch(seriesMessage('x', ['a', 'b', 'c'], T0), offset++));
    expect(svc.getSeries(xKey('x', 'a'))).not.toBeNull();
    expect(svc.getSeries(xKey('x', 'c'))).toBeNull();
    expect(await metric(telemetry, 'foreshock_samples_dropped_total')).toMatch(/reason="series_limit_host"} 1$/m);
    // Another host runs on for two hours of event time: x's series are idle beyond idleEvict (1h).
    for (let i = 1; i <= 130; i++) await svc.handleBatch(batch(seriesMessage('y', ['a'], T0 + i * 60_000), offset++));
    expect(svc.getSeries(xKey('x', 'a'))).toBeNull();
    expect(await metric(telemetry, 'foreshock_series_evicted_total')).toMatch(/ 2$/m);
    await svc.handleBatch(batch(seriesMessage('x', ['c', 'd', 'e'], T0 + 131 * 60_000), offset++));
    expect(svc.getSeries(xKey('x', 'c'))).not.toBeNull();
    expect(svc.getSeries(xKey('x', 'd'))).not.toBeNull();
    expect(svc.getSeries(xKey('x', 'e'))).toBeNull();
    expect(await metric(telemetry, 'foreshock_samples_dropped_total')).toMatch(/reason="series_limit_host"} 2$/m);
  });

  it('rebuilds the per-host counts from a restored checkpoint', async () => {
    const store = new MemoryStateStore();
    const cfg = config({ seriesPerHost: 2, seriesTotal: 4 });
    const busA = newBus();
    const a = await detector(busA, store, cfg);
    let offset = 0;
    await a.svc.handleBatch(batch(seriesMessage('x', ['a', 'b'], T0, 5), offset++));
    await a.svc.handleBatch(batch(seriesMessage('y', ['a'], T0, 5), offset++));
    await a.svc.close(); // final snapshot of its partitions

    const busB = newBus();
    const b = await detector(busB, store, cfg);
    // Restored on assignment.
    expect(b.svc.getSeries(xKey('x', 'a'))?.samples).toBe(5);
    expect(b.svc.getSeries(xKey('y', 'a'))?.samples).toBe(5);
    await b.svc.handleBatch(batch(seriesMessage('x', ['a', 'c'], T0 + 100_000), offset++));
    expect(b.svc.getSeries(xKey('x', 'a'))?.samples).toBe(6);
    expect(b.svc.getSeries(xKey('x', 'c'))).toBeNull();
    await b.svc.handleBatch(batch(seriesMessage('y', ['b', 'c'], T0 + 100_000), offset++));
    // y had 1: b fits (4 in total), c is over the total.
    expect(b.svc.getSeries(xKey('y', 'b'))).not.toBeNull();
    expect(b.svc.getSeries(xKey('y', 'c'))).toBeNull();
    const dropped = await metric(b.telemetry, 'foreshock_samples_dropped_total');
    expect(dropped).toMatch(/reason="series_limit_host"} 1$/m);
    expect(dropped).toMatch(/reason="series_limit_total"} 1$/m);
  });
});
