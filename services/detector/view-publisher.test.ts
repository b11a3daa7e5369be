import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../shared/adapters/memory/index.js';
import {
  KIND_GAUGE, VIEW_RISKS_KEY, VIEW_RISKS_UPDATED_KEY, seriesKey, viewHostBucketKey, sortedLabels, viewSeriesBucketKey, type PublishedSeries, type RiskBoard,
} from '../../shared/model/index.js';
import { createTelemetry, silentLogger } from '../../shared/telemetry/index.js';
import { DetectorEngine } from './engine/index.js';
import { SeriesTable } from './series-table.js';
import { ViewPublisher, forecastFromModel, seriesJson, soonest, thresholdsFromConfig } from './view-publisher.js';
import { loadConfig } from '../../shared/config/index.js';

const detectorConfig = loadConfig({ env: {} }).config.detector;

/** An engine and table holding `n` gauges; series i rises by slope(i) per second from 10. */
function setup(n: number, slope: (i: number) => number, samples = 60) {
  const engine = new DetectorEngine();
  const table = new SeriesTable();
  const keys: string[] = [];
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    const labels = sortedLabels([['__name__', i % 2 === 0 ? 'disk_used' : 'mem_used'], ['host', `h${i}`], ['cluster', i < n / 2 ? 'a' : 'b']]);
    const key = seriesKey(labels);
    const slot = engine.allocSlot(0);
    table.bind(slot, key, labels, `h${i}`, KIND_GAUGE);
    for (let k = 0; k < samples; k++) {
      const t = t0 + k * 10_000;
      // a little deterministic wobble so the residual σ is not just the floor
      engine.update(slot, t, 10 + slope(i) * k * 10 + ((k * 7919) % 13) * 0.01);
      table.lastTs[slot] = t;
      table.samples[slot]++;
    }
    keys.push(key);
  }
  return { engine, table, keys };
}

function deps(engine: DetectorEngine, table: SeriesTable, store: MemoryStateStore) {
  return { engine, table, store, telemetry: createTelemetry({ defaultMetrics: false }), logger: silentLogger() };
}

async function record(store: MemoryStateStore, key: string): Promise<PublishedSeries | null> {
  const raw = await store.hget(viewSeriesBucketKey(key), key);
  return raw === null ? null : (JSON.parse(raw) as PublishedSeries);
}

describe('ViewPublisher', () => {
  it('leaves the records of a moved partition to its next owner, and drops those of evicted series', async () => {
    // Worker A held three series; the partition of one moves to B, which publishes them first. A's next
    // round must not delete B's records; a series A evicts is deleted.
    const a = setup(3, () => 0.01);
    const store = new MemoryStateStore();
    const pubA = new ViewPublisher(deps(a.engine, a.table, store), { workerId: 'a' });
    await pubA.publishNow();
    const moved = [a.keys[0]];
    const b = setup(1, () => 0.01, 80); // the same series, restored and further along at B
    expect(b.keys[0]).toBe(a.keys[0]);
    const pubB = new ViewPublisher(deps(b.engine, b.table, store), { workerId: 'b' });
    await pubB.publishNow();
    await pubA.release(moved);
    for (const k of moved) {
      const slot = a.table.get(k)!;
      a.engine.freeSlot(slot);
      a.table.release(slot);
    }
    // and A evicts another
    const third = a.table.get(a.keys[2])!;
    a.engine.freeSlot(third);
    a.table.release(third);
    await pubA.publishNow();
    for (const k of moved) expect((await record(store, k))?.samples).toBe(80);
    expect(await record(store, a.keys[2])).toBeNull();
    await pubA.close();
    await pubB.close();
  });

  it('publishes a forecast model that reproduces the engine forecast to the digit', async () => {
    const { engine, table, keys } = setup(3, (i) => 0.01 * (i + 1));
    const store = new MemoryStateStore();
    const pub = new ViewPublisher(deps(engine, table, store), { workerId: 'w1' });
    await pub.publishNow();
    const out = new Float64Array(3);
    const mine = new Float64Array(3);
    for (let i = 0; i < keys.length; i++) {
      const rec = await record(store, keys[i]);
      expect(rec).not.toBeNull();
      expect(rec!.samples).toBe(60);
      expect(rec!.model).not.toBeNull();
      for (const h of [0, 15_000, 3_600_000, 86_400_000]) {
        engine.forecast(table.get(keys[i])!, h, out);
        forecastFromModel(rec!.model!, h, mine);
        expect(Array.from(mine)).toEqual(Array.from(out));
      }
    }
    await pub.close();
  });

  it('predicts threshold crossings and keeps the soonest K on the risk board', async () => {
    // Series i rises at (i+1)·0.01/s: higher i crosses 100 sooner; metric filter: disk_used only.
    const { engine, table, keys } = setup(10, (i) => 0.01 * (i + 1));
    const store = new MemoryStateStore();
    const pub = new ViewPublisher(deps(engine, table, store), {
      workerId: 'w1',
      topK: 3,
      thresholdsOf: thresholdsFromConfig({ ...detectorConfig, rules: ['name=~disk_.*:threshold=100'] }),
    });
    await pub.publishNow();
    const board = JSON.parse((await store.hget(VIEW_RISKS_KEY, 'w1'))!) as RiskBoard;
    expect(board.series).toBe(10);
    expect(board.breaching).toBe(5); // the five disk_used series (even i)
    expect(board.items.map((r) => r.key)).toEqual([keys[8], keys[6], keys[4]]);
    const c = board.items[0].crossing;
    expect(c).toMatchObject({ threshold: 100, direction: 'above' });
    expect(c.earliest).toBeLessThanOrEqual(c.at);
    // The engine's own answer, not a recomputation.
    const out = new Float64Array(3);
    engine.timeToThreshold(table.get(keys[8])!, 100, out);
    expect(c.at).toBe(out[0]);
    // A rising trend of 0.09/s from ~63.7 reaches 100 in roughly 400 s.
    const rec = (await record(store, keys[8]))!;
    expect((c.at - rec.lastTs) / 1000).toBeGreaterThan(300);
    expect((c.at - rec.lastTs) / 1000).toBeLessThan(500);
    // mem_used series have no crossing.
    expect((await record(store, keys[1]))!.crossings).toEqual([]);
    await pub.close();
    expect(await store.hget(VIEW_RISKS_KEY, 'w1')).toBeNull();
    expect(await store.hget(VIEW_RISKS_UPDATED_KEY, 'w1')).toBeNull();
  });

  it('a series already past its threshold is breaching now; a falling one never crosses above', async () => {
    const { engine, table, keys } = setup(2, (i) => (i === 0 ? 0.5 : -0.01));
    const store = new MemoryStateStore();
    const pub = new ViewPublisher(deps(engine, table, store), {
      workerId: 'w1',
      thresholdsOf: () => [{ name: 'high', value: 100, direction: 'above' }],
    });
    await pub.publishNow();
    const past = (await record(store, keys[0]))!;
    expect(past.crossings).toHaveLength(1);
    expect(past.crossings[0].at).toBe(past.lastTs);
    expect((await record(store, keys[1]))!.crossings).toEqual([]);
    await pub.close();
  });

  it('rewrites only series with new samples and removes series the worker no longer holds', async () => {
    const { engine, table, keys } = setup(4, () => 0.001);
    const store = new MemoryStateStore();
    const telemetry = createTelemetry({ defaultMetrics: false });
    const pub = new ViewPublisher({ ...deps(engine, table, store), telemetry }, { workerId: 'w1' });
    await pub.publishNow();
    const written = async () => (await telemetry.viewSeriesWritten.get()).values[0].value;
    expect(await written()).toBe(4);
    await pub.publishNow();
    expect(await written()).toBe(4);
    const slot = table.get(keys[2])!;
    engine.update(slot, table.lastTs[slot] + 10_000, 11);
    table.lastTs[slot] += 10_000;
    table.samples[slot]++;
    await pub.publishNow();
    expect(await written()).toBe(5);
    expect((await record(store, keys[2]))!.samples).toBe(61);
    // Evict series 0.
    const s0 = table.get(keys[0])!;
    table.release(s0);
    engine.freeSlot(s0);
    expect(await store.hget(viewHostBucketKey('h0'), keys[0])).toBe('h0');
    await pub.publishNow();
    expect(await record(store, keys[0])).toBeNull();
    expect(await store.hget(viewHostBucketKey('h0'), keys[0])).toBeNull();
    expect(await store.hget(viewHostBucketKey('h1'), keys[1])).toBe('h1');
    expect(await record(store, keys[1])).not.toBeNull();
    await pub.close();
  });
});

describe('soonest', () => {
  it('selects the k soonest crossings in order, as a full sort would', () => {
    let seed = 1;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (const [n, k] of [[0, 5], [3, 5], [1000, 10], [5000, 1000], [50, 0]]) {
      const risks = Array.from({ length: n }, (_, i) => ({
        key: `s${i}`, labels: {}, host: 'h', metric: 'm', state: 'normal' as const, value: 0, score: 0, trendPerS: 0,
        crossing: { name: 't', threshold: 1, direction: 'above' as const, at: Math.floor(rnd() * 500), earliest: 0, latest: null },
      }));
      const want = [...risks].sort((a, b) => a.crossing.at - b.crossing.at || (a.key < b.key ? -1 : 1)).slice(0, k);
      expect(soonest(risks, k).map((r) => r.key)).toEqual(want.map((r) => r.key));
    }
  });
});

describe('series record JSON', () => {
  it('is JSON.stringify of the record, non-finite numbers, escapes and crossings included', () => {
    const n = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-324));
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', 'é', '\u2028'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('__name__', 'host', 'job'), text), { maxLength: 4 }), text,
        fc.record({ kind: fc.constantFrom('gauge' as const, 'counter' as const), state: fc.constantFrom('warmup' as const, 'normal' as const, 'pending' as const, 'anomalous' as const, 'resolving' as const) }),
        fc.array(n, { minLength: 12, maxLength: 12 }), fc.boolean(), fc.array(fc.tuple(n, n, fc.option(n)), { maxLength: 2 }),
        (pairs, host, { kind, state }, x, hasModel, crossings) => {
          const labels = sortedLabels(pairs);
          const key = seriesKey(labels);
          const rec: PublishedSeries = {
            key, labels, host, kind, state, samples: x[0], lastTs: x[1], value: x[2], expected: x[3], lower: x[4], upper: x[5], score: x[6], z: x[7], trendPerS: x[8],
            publishedAt: x[9],
            model: hasModel ? { level: x[10], trendPerS: x[11], residualSd: x[0], stepMs: 15000, alpha: 0.5, beta: 0.1, phi: 0.98, z: 1.96 } : null,
            crossings: crossings.map(([at, earliest, latest]) => ({ name: 'threshold', threshold: 0.9, direction: 'above' as const, at, earliest, latest })),
          };
          const head = `{"key":${JSON.stringify(key)},"labels":${JSON.stringify(labels)},`;
          expect(seriesJson(head, rec)).toBe(JSON.stringify(rec));
        },
      ),
      { numRuns: 500 },
    );
  });
});
