import { describe, expect, it } from 'vitest';
import { InfluxMetricSink } from './influx-metric-sink.js';

describe('InfluxMetricSink options', () => {
  it('refuses options it cannot work with, naming them', () => {
    const base = { url: 'http://127.0.0.1:1', org: 'o', bucket: 'b' };
    expect(() => new InfluxMetricSink({ ...base, url: 'influx:8086' })).toThrow('url "influx:8086" is not an http(s) URL');
    expect(() => new InfluxMetricSink({ ...base, bucket: '' })).toThrow('bucket is required');
    expect(() => new InfluxMetricSink({ ...base, batchSize: 0 })).toThrow('batchSize must be a positive integer');
    expect(() => new InfluxMetricSink({ ...base, downsampleMs: -1 })).toThrow('downsampleMs');
  });

  it('counts points written after close as dropped instead of throwing', async () => {
    const sink = new InfluxMetricSink({ url: 'http://127.0.0.1:1', org: 'o', bucket: 'b' });
    await sink.close();
    sink.write([{ measurement: 'foreshock_score', tags: { series: 's' }, fields: { score: 1 }, ts: 0 }]);
    expect(sink.stats.dropped).toBe(1);
  });

  it('counts a point line protocol cannot carry as invalid and writes the rest', async () => {
    const sink = new InfluxMetricSink({ url: 'http://127.0.0.1:1', org: 'o', bucket: 'b', downsampleMs: 0 });
    sink.write([{ measurement: 'foreshock_score', tags: { series: 'a\nb' }, fields: { score: 1 }, ts: 0 }]);
    expect(sink.stats.invalid).toBe(1);
    await sink.close();
  });
});
