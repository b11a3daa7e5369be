// The write endpoints as a sender sees them: good payloads are accepted and reach the
// detector; malformed ones get a 4xx naming the problem, and the process keeps serving.

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { waitFor } from '../support/wait.js';
import { tempDataDir } from '../support/data-dir.js';

let fs: RunningForeshock;

beforeAll(async () => {
  const { config } = loadConfig({
    env: { FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(), FORESHOCK_SERVER_MAX_BODY_BYTES: '65536' },
  });
  fs = await startForeshock(config, silentLogger());
});
afterAll(async () => {
  await fs?.close();
});

function rw(body: Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${fs.url}/api/v1/write`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0', ...headers },
  });
}

async function seriesCount(match: string): Promise<number> {
  const r = await fetch(`${fs.url}/api/v1/series?match=${encodeURIComponent(match)}`);
  return ((await r.json()) as { total: number }).total;
}

describe('remote-write', () => {
  const t0 = Date.now() - 60_000;
  const good = encodeWriteRequest({
    series: [
      { labels: [['__name__', 'rw_test_gauge'], ['instance', 'h1:9100'], ['job', 'node']], timestamps: [t0, t0 + 15_000], values: [1, 2] },
      // The same series again in the same request: merged, not an error.
      { labels: [['__name__', 'rw_test_gauge'], ['instance', 'h1:9100'], ['job', 'node']], timestamps: [t0 + 30_000], values: [3] },
    ],
  });

  it('accepts a valid request with 204 and the series appears', async () => {
    const r = await rw(snappyCompress(good));
    expect(r.status).toBe(204);
    await waitFor(async () => ((await seriesCount('rw_test_gauge')) === 1 ? true : null), 5000);
    const body = (await (await fetch(`${fs.url}/api/v1/series?match=rw_test_gauge`)).json()) as { series: { host: string; samples: number }[] };
    expect(body.series[0].host).toBe('h1:9100');
    expect(body.series[0].samples).toBe(3);
  });

  it('accepts a metadata-only request', async () => {
    const meta = encodeWriteRequest({ series: [], metadata: [{ type: 'counter', family: 'x_total', help: 'h', unit: '' }] });
    expect((await rw(snappyCompress(meta))).status).toBe(204);
  });

  it('answers 400 for bad snappy, naming it', async () => {
    const r = await rw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: string }).code).toBe('FS_SNAPPY');
  });

  it('answers 400 for a truncated protobuf', async () => {
    const r = await rw(snappyCompress(good.subarray(0, good.length - 5)));
    expect(r.status).toBe(400);
    const body = (await r.json()) as { code: string; message: string };
    expect(body.code).toBe('FS_RW_PROTO');
    expect(body.message).toMatch(/truncated/);
  });

  it('answers 415 for remote-write 2.0 and for a non-snappy encoding', async () => {
    expect((await rw(snappyCompress(good), { 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' })).status).toBe(415);
    expect((await rw(good, { 'Content-Encoding': 'gzip' })).status).toBe(415);
  });

  it('answers 413 for an oversized body and keeps serving', async () => {
    const r = await rw(new Uint8Array(200_000));
    expect(r.status).toBe(413);
    expect((await fetch(`${fs.url}/healthz`)).status).toBe(200);
  });
});

describe('line protocol', () => {
  const ts = (Date.now() - 30_000) * 1e6;

  it('accepts /api/v2/write with gzip and /write (v1) with precision', async () => {
    const body = gzipSync(`lp_v2,host=h2,cluster=c usage=1.5,count=3i ${ts}\nlp_v2,host=h2,cluster=c usage=1.7,count=4i ${ts + 10e9}\n`);
    const r = await fetch(`${fs.url}/api/v2/write?org=o&bucket=b&precision=ns`, { method: 'POST', body, headers: { 'Content-Encoding': 'gzip' } });
    expect(r.status).toBe(204);
    const r1 = await fetch(`${fs.url}/write?db=telegraf&precision=s`, { method: 'POST', body: `lp_v1,host=h3 value=2 ${Math.floor(Date.now() / 1000)}` });
    expect(r1.status).toBe(204);
    await waitFor(async () => ((await seriesCount('lp_v2_usage')) === 1 && (await seriesCount('lp_v1_value')) === 1 ? true : null), 5000);
    expect(await seriesCount('lp_v2_count')).toBe(1);
  });

  it('accepts the good lines of a partly bad body and answers 400 naming the first bad line', async () => {
    const body = [`lp_partial,host=h4 v=1 ${ts}`, 'lp_partial,host=h4', `lp_partial,host=h4 v=oops ${ts}`, `lp_partial2,host=h4 v=2 ${ts}`].join('\n');
    const r = await fetch(`${fs.url}/api/v2/write?precision=ns`, { method: 'POST', body });
    expect(r.status).toBe(400);
    const err = (await r.json()) as { code: string; message: string; line: number };
    expect(err.code).toBe('invalid');
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/line 2/);
    await waitFor(async () => ((await seriesCount('lp_partial2_v')) === 1 ? true : null), 5000);
    expect(await seriesCount('lp_partial_v')).toBe(1);
  });

  it('answers 400 for a bad precision and for bad gzip', async () => {
    expect((await fetch(`${fs.url}/api/v2/write?precision=h`, { method: 'POST', body: 'a v=1' })).status).toBe(400);
    const r = await fetch(`${fs.url}/api/v2/write`, { method: 'POST', body: 'not gzip', headers: { 'Content-Encoding': 'gzip' } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { code: string }).code).toBe('FS_LP_GZIP');
  });

  it('counts what it rejected on /metrics', async () => {
    const text = await (await fetch(`${fs.url}/metrics`)).text();
    expect(text).toMatch(/foreshock_requests_rejected_total\{route="\/api\/v1\/write",code="FS_SNAPPY"\} 1/);
    expect(text).toMatch(/foreshock_samples_dropped_total\{reason="bad_line"\} [1-9]/);
  });
});

describe('query API', () => {
  it('validates query parameters with a 400 naming the field', async () => {
    const r = await fetch(`${fs.url}/api/v1/series?limit=0`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toMatch(/limit/);
    const f = await fetch(`${fs.url}/api/v1/forecast`);
    expect(f.status).toBe(400);
    expect(((await f.json()) as { message: string }).message).toMatch(/series/);
  });

  it('answers 404 for an unknown series forecast', async () => {
    expect((await fetch(`${fs.url}/api/v1/forecast?series=nope%7B%7D`)).status).toBe(404);
  });
});
