// Real remote-write requests recorded from Prometheus scraping node-exporter (see
// test/fixtures/remote-write/README.md): the decoder must read what a real sender sends.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../errors/index.js';
import { decodeWriteRequest, isStaleMarker, type RemoteWriteSeries, type WriteRequest } from './remote-write.js';
import { snappyCompress, snappyDecompress } from './snappy.js';

const DIR = new URL('../../test/fixtures/remote-write/', import.meta.url);
const LIMIT = 32 << 20;

interface Capture {
  body: Uint8Array;
  headers: Record<string, string>;
  receivedAt: string;
  request: WriteRequest;
}

function load(name: string): Capture {
  const body = new Uint8Array(readFileSync(new URL(`${name}.snappy`, DIR)));
  const meta = JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8')) as { headers: Record<string, string>; receivedAt: string };
  return { body, headers: meta.headers, receivedAt: meta.receivedAt, request: decodeWriteRequest(snappyDecompress(body, LIMIT)) };
}

const label = (s: RemoteWriteSeries, name: string) => s.labels.find(([k]) => k === name)?.[1];
const FIXTURES = ['many-series', 'metadata-only', 'stale-markers', 'target-down'];

describe('real Prometheus remote-write payloads', () => {
  it.each(FIXTURES)('%s: recorded with the remote-write 0.1.0 headers, each body under 200 KB', (name) => {
    const c = load(name);
    expect(c.headers['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(c.headers['content-encoding']).toBe('snappy');
    expect(c.headers['content-type']).toBe('application/x-protobuf');
    expect(c.headers['user-agent']).toMatch(/^Prometheus\/2\./);
    expect(c.body.length).toBeLessThan(200 * 1024);
    expect(Number(c.headers['content-length'])).toBe(c.body.length);
  });

  it.each(FIXTURES)('%s: our snappy re-compresses the decompressed body losslessly', (name) => {
    const raw = snappyDecompress(load(name).body, LIMIT);
    const again = snappyDecompress(snappyCompress(raw), raw.length);
    expect(Buffer.from(again).equals(raw)).toBe(true);
    // A real body one byte over the limit is too large (413), not malformed.
    expect(() => snappyDecompress(load(name).body, raw.length - 1)).toThrow(PayloadTooLargeError);
  });

  it('many-series: node-exporter and Prometheus series with sorted labels and sane samples', () => {
    const c = load('many-series');
    const req = c.request;
    expect(req.series.length).toBeGreaterThanOrEqual(1000);
    expect(req.samples).toBeGreaterThanOrEqual(req.series.length);
    expect(req.metadata).toEqual([]);
    const names = new Set(req.series.map((s) => label(s, '__name__')));
    for (const n of ['node_cpu_seconds_total', 'node_memory_MemAvailable_bytes', 'node_load1', 'up', 'scrape_duration_seconds']) {
      expect(names.has(n), n).toBe(true);
    }
    const cpu = req.series.find((s) => label(s, '__name__') === 'node_cpu_seconds_total' && label(s, 'mode') === 'idle');
    expect(cpu).toBeDefined();
    expect(label(cpu!, 'job')).toBe('node');
    expect(label(cpu!, 'cpu')).toMatch(/^\d+$/);
    expect(cpu!.values[0]).toBeGreaterThan(0);
    const received = Date.parse(c.receivedAt);
    for (const s of req.series) {
      // Prometheus sends labels sorted by name, `__name__` first, external labels merged in.
      const keys = s.labels.map(([k]) => k);
      expect(keys).toEqual([...keys].sort());
      expect(keys[0]).toBe('__name__');
      expect(label(s, 'capture')).toBe('foreshock-fixtures');
      expect(s.values.length).toBeGreaterThan(0);
      for (let i = 0; i < s.values.length; i++) {
        expect(isStaleMarker(s.values[i])).toBe(false);
        expect(s.timestamps[i]).toBeGreaterThan(received - 120_000);
        expect(s.timestamps[i]).toBeLessThanOrEqual(received);
      }
    }
  });

  it('many-series: plain NaN from summaries without observations is not a stale marker', () => {
    const nan = load('many-series').request.series.filter((s) => Number.isNaN(s.values[0]));
    expect(nan.length).toBeGreaterThan(0);
    for (const s of nan) {
      expect(label(s, 'quantile')).toBeDefined();
      expect(isStaleMarker(s.values[0])).toBe(false);
    }
  });

  it('stale-markers: the stopped exporter\'s series end with stale markers, Prometheus\'s own do not', () => {
    const req = load('stale-markers').request;
    const stale = req.series.filter((s) => isStaleMarker(s.values[s.values.length - 1]));
    expect(stale.length).toBeGreaterThan(50);
    for (const s of stale) expect(label(s, 'job')).toBe('node');
    expect(stale.some((s) => label(s, '__name__') === 'node_cpu_seconds_total')).toBe(true);
    const own = req.series.filter((s) => label(s, 'job') === 'prometheus');
    expect(own.length).toBeGreaterThan(0);
    for (const s of own) for (let i = 0; i < s.values.length; i++) expect(isStaleMarker(s.values[i])).toBe(false);
  });

  it('target-down: `up` is 0 for the stopped exporter', () => {
    const req = load('target-down').request;
    const up = req.series.filter((s) => label(s, '__name__') === 'up' && label(s, 'job') === 'node');
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((s) => s.values[0] === 0)).toBe(true);
    expect(req.series.some((s) => label(s, 'job') === 'prometheus' && label(s, '__name__') === 'prometheus_build_info')).toBe(true);
  });

  it('metadata-only: a request with no series, only metric metadata, and its types decoded', () => {
    const req = load('metadata-only').request;
    expect(req.series).toEqual([]);
    expect(req.samples).toBe(0);
    expect(req.metadata.length).toBeGreaterThan(100);
    const byName = new Map(req.metadata.map((m) => [m.family, m]));
    expect(byName.get('node_cpu_seconds_total')).toEqual({ type: 'counter', family: 'node_cpu_seconds_total', help: 'Seconds the CPUs spent in each mode.', unit: '' });
    expect(byName.get('node_load1')?.type).toBe('gauge');
    expect(byName.get('go_gc_duration_seconds')?.type).toBe('summary');
    expect(byName.get('prometheus_http_request_duration_seconds')?.type).toBe('histogram');
    const types = new Set(req.metadata.map((m) => m.type));
    for (const t of ['counter', 'gauge', 'summary', 'histogram'] as const) expect(types.has(t)).toBe(true);
  });
});
