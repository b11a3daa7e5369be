// Request limits and memory back-pressure as a sender sees them: a series over a per-series
// limit is refused with 400 naming the limit while the rest of the request is accepted, a
// request over a per-request limit gets 413, and above the memory high-water mark every
// write gets 503 with Retry-After (never 429), all counted on /metrics.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { waitFor } from '../support/wait.js';
import { tempDataDir } from '../support/data-dir.js';

const BASE_ENV = { FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_SERVER_PORT: '0' };

async function start(env: Record<string, string>): Promise<RunningForeshock> {
  const { config } = loadConfig({ env: { ...BASE_ENV, FORESHOCK_DATA_DIR: tempDataDir(), ...env } });
  return startForeshock(config, silentLogger());
}

function rw(fs: RunningForeshock, series: { labels: [string, string][]; n?: number }[]) {
  const t = Date.now() - 60_000;
  const body = encodeWriteRequest({
    series: series.map((s) => ({ labels: s.labels, timestamps: Array.from({ length: s.n ?? 1 }, (_, i) => t + i * 1000), values: Array.from({ length: s.n ?? 1 }, (_, i) => i) })),
  });
  return fetch(`${fs.url}/api/v1/write`, { method: 'POST', body: snappyCompress(body), headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
}

async function seriesCount(fs: RunningForeshock, match: string): Promise<number> {
  const r = await fetch(`${fs.url}/api/v1/series?match=${encodeURIComponent(match)}`);
  return ((await r.json()) as { total: number }).total;
}

async function metric(fs: RunningForeshock, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${fs.url}/metrics`)).text();
  const m = pattern.exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('request limits', () => {
  let fs: RunningForeshock;
  beforeAll(async () => {
    fs = await start({
      FORESHOCK_LIMITS_LABELS_PER_SERIES: '4',
      FORESHOCK_LIMITS_LABEL_NAME_LENGTH: '16',
      FORESHOCK_LIMITS_LABEL_VALUE_LENGTH: '32',
      FORESHOCK_LIMITS_SAMPLES_PER_REQUEST: '50',
      FORESHOCK_LIMITS_SERIES_PER_REQUEST: '10',
    });
  });
  afterAll(async () => {
    await fs?.close();
  });

  it('refuses a remote-write series with too many labels (400 naming the limit) and accepts the rest', async () => {
    const r = await rw(fs, [
      { labels: [['__name__', 'lim_ok'], ['instance', 'h1']] },
      { labels: [['__name__', 'lim_wide'], ['a', '1'], ['b', '2'], ['c', '3'], ['instance', 'h1']] },
    ]);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { code: string; message: string; refusedSeries: number; acceptedSeries: number };
    expect(body.code).toBe('FS_LIMIT_LABELS_PER_SERIES');
    expect(body.message).toMatch(/series "lim_wide" has 5 labels, more than 4 \(limits\.labelsPerSeries\)/);
    expect([body.refusedSeries, body.acceptedSeries]).toEqual([1, 1]);
    await waitFor(async () => ((await seriesCount(fs, 'lim_ok')) === 1 ? true : null), 5000);
    expect(await seriesCount(fs, 'lim_wide')).toBe(0);
    expect(await metric(fs, /foreshock_samples_dropped_total\{reason="labels_per_series"\} (\d+)/)).toBe(1);
  });

  it('refuses label names and values over their length limits', async () => {
    const long = await rw(fs, [{ labels: [['__name__', 'lim_long'], ['instance', 'x'.repeat(33)]] }]);
    expect(long.status).toBe(400);
    const body = (await long.json()) as { code: string; message: string };
    expect(body.code).toBe('FS_LIMIT_LABEL_VALUE_LENGTH');
    expect(body.message).toMatch(/label "instance" value of 33 characters, more than 32 \(limits\.labelValueLength\)/);
    const name = await rw(fs, [{ labels: [['__name__', 'lim_name'], ['n'.repeat(17), 'v']] }]);
    expect(((await name.json()) as { code: string }).code).toBe('FS_LIMIT_LABEL_NAME_LENGTH');
    expect(await metric(fs, /foreshock_samples_dropped_total\{reason="label_value_length"\} (\d+)/)).toBe(1);
  });

  it('answers 413 for a request with too many samples or series, accepting nothing', async () => {
    const samples = await rw(fs, [{ labels: [['__name__', 'lim_many_samples'], ['instance', 'h1']], n: 51 }]);
    expect(samples.status).toBe(413);
    const s = (await samples.json()) as { code: string; message: string };
    expect(s).toMatchObject({ code: 'FS_LIMIT_SAMPLES' });
    expect(s.message).toMatch(/more than 50 samples \(limits\.samplesPerRequest\)/);
    const series = await rw(fs, Array.from({ length: 11 }, (_, i) => ({ labels: [['__name__', 'lim_many_series'], ['i', String(i)]] as [string, string][] })));
    expect(series.status).toBe(413);
    expect(((await series.json()) as { code: string; message: string }).message).toMatch(/more than 10 series \(limits\.seriesPerRequest\)/);
    // Exactly at the limits is fine.
    expect((await rw(fs, [{ labels: [['__name__', 'lim_at_limit'], ['instance', 'h1']], n: 50 }])).status).toBe(204);
    expect(await seriesCount(fs, 'lim_many_samples')).toBe(0);
    expect(await metric(fs, /foreshock_requests_rejected_total\{route="\/api\/v1\/write",code="FS_LIMIT_SAMPLES"\} (\d+)/)).toBe(1);
  });

  it('applies the same limits to line protocol: 400 naming the line, 413 for the whole request', async () => {
    const ts = (Date.now() - 30_000) * 1e6;
    const body = [`lim_lp,host=h9 v=1 ${ts}`, `lim_lp_wide,host=h9,a=1,b=2,c=3 v=1 ${ts}`, `lim_lp2,host=h9 v=2 ${ts}`].join('\n');
    const r = await fetch(`${fs.url}/api/v2/write?precision=ns`, { method: 'POST', body });
    expect(r.status).toBe(400);
    const err = (await r.json()) as { code: string; message: string; line: number; accepted: number; rejected: number };
    expect(err).toMatchObject({ code: 'invalid', line: 2, accepted: 2, rejected: 1 });
    expect(err.message).toMatch(/line 2: series "lim_lp_wide" has 5 labels, more than 4 \(limits\.labelsPerSeries\)/);
    await waitFor(async () => ((await seriesCount(fs, 'lim_lp2_v')) === 1 ? true : null), 5000);
    expect(await seriesCount(fs, 'lim_lp_wide_v')).toBe(0);

    const many = Array.from({ length: 11 }, (_, i) => `lim_lp_many,host=h9 v=${i} ${ts + i}`).join('\n');
    const big = await fetch(`${fs.url}/write?db=x&precision=ns`, { method: 'POST', body: many });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toMatch(/limits\.seriesPerRequest/);
    expect(await seriesCount(fs, 'lim_lp_many_v')).toBe(0);
  });
});

describe('memory high-water mark', () => {
  let fs: RunningForeshock;
  beforeAll(async () => {
    // 1 MiB of resident memory: always exceeded, so every write must be shed.
    fs = await start({ FORESHOCK_LIMITS_RSS_HIGH_WATER_BYTES: String(1 << 20), FORESHOCK_LIMITS_RETRY_AFTER: '7s' });
  });
  afterAll(async () => {
    await fs?.close();
  });

  it('answers every write with 503 and Retry-After (never 429), keeps serving reads, and counts it', async () => {
    const r = await rw(fs, [{ labels: [['__name__', 'mem_rw'], ['instance', 'h1']] }]);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('7');
    const body = (await r.json()) as { code: string; message: string };
    expect(body.code).toBe('FS_MEMORY_HIGH');
    expect(body.message).toMatch(/limits\.rssHighWaterBytes/);
    for (const path of ['/api/v2/write?precision=s', '/write?db=x']) {
      const lp = await fetch(`${fs.url}${path}`, { method: 'POST', body: 'mem_lp,host=h v=1' });
      expect(lp.status).toBe(503);
      expect(lp.headers.get('retry-after')).toBe('7');
    }
    expect((await fetch(`${fs.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${fs.url}/ping`)).status).toBe(204);
    expect(await metric(fs, /foreshock_requests_rejected_total\{route="\/api\/v1\/write",code="FS_MEMORY_HIGH"\} (\d+)/)).toBe(1);
    expect(await metric(fs, /foreshock_requests_rejected_total\{route="\/write",code="FS_MEMORY_HIGH"\} (\d+)/)).toBe(1);
    expect(await seriesCount(fs, 'mem_rw')).toBe(0);
  });
});

describe('heap high-water mark', () => {
  it('sheds writes when the heap is above its fraction of the heap limit', async () => {
    const fs = await start({ FORESHOCK_LIMITS_HEAP_HIGH_WATER: '0.0001' });
    try {
      const r = await rw(fs, [{ labels: [['__name__', 'heap_rw'], ['instance', 'h1']] }]);
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(((await r.json()) as { message: string }).message).toMatch(/limits\.heapHighWater/);
    } finally {
      await fs.close();
    }
  });
});
