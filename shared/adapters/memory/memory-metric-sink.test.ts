import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../../ports/index.js';
import { MemoryMetricSink, NullMetricSink } from './memory-metric-sink.js';

function point(series: string, ts: number, value: number, measurement = 'foreshock_band'): MetricPoint {
  return { measurement, tags: { series, host: 'h1' }, fields: { value, lower: value - 1, upper: value + 1 }, ts };
}

describe('MemoryMetricSink', () => {
  it('keeps the last `capacity` points and counts the ones it overwrote', () => {
    const sink = new MemoryMetricSink({ capacity: 5 });
    sink.write(Array.from({ length: 8 }, (_, i) => point('a', i, i)));
    expect(sink.length).toBe(5);
    expect(sink.stats).toEqual({ written: 8, dropped: 3 });
    expect(sink.query('foreshock_band', {}, 0, 100).map((p) => p.ts)).toEqual([3, 4, 5, 6, 7]);
  });

  it('filters by measurement, tags and time range, sorted by time', () => {
    const sink = new MemoryMetricSink({ capacity: 100 });
    sink.write([point('a', 30, 1), point('b', 10, 2), point('a', 10, 3), point('a', 20, 4, 'foreshock_forecast'), point('a', 50, 5)]);
    const got = sink.query('foreshock_band', { series: 'a', host: 'h1' }, 10, 30);
    expect(got.map((p) => [p.ts, p.fields.value])).toEqual([
      [10, 3],
      [30, 1],
    ]);
    expect(sink.query('foreshock_band', { series: 'a', host: 'other' }, 0, 100)).toEqual([]);
    expect(sink.query('foreshock_forecast', {}, 0, 100)).toHaveLength(1);
  });
});

describe('NullMetricSink', () => {
  it('discards and counts', async () => {
    const sink = new NullMetricSink();
    sink.write([point('a', 1, 1), point('a', 2, 2)]);
    await sink.flush();
    await sink.close();
    expect(sink.stats).toEqual({ written: 2, dropped: 2 });
  });
});
