// The query API in its own process: `foreshock start` on Kafka and Redis takes the writes and
// runs the detector, a separate `foreshock api` answers from what the detector published to
// Redis: anomalies, risks, forecasts and series, the same answers as embedded.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropNamespace } from '../adapters/redis-namespace.js';
import { distributedEnv, startService, type ForeshockProcess } from '../distributed/support/foreshock-process.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { seedLines, type Seed } from './seed.js';

const kafka = requireService('kafka');
const redis = requireService('redis');

describe.skipIf(!kafka || !redis)('API process answering from Redis', () => {
  let worker: ForeshockProcess;
  let api: ForeshockProcess;
  let seed: Seed;
  let env: Record<string, string>;
  const run = `fsapi${process.pid}`;

  beforeAll(async () => {
    env = {
      ...distributedEnv(kafka!, redis!, run),
      FORESHOCK_API_PUBLISH_INTERVAL: '300ms',
      FORESHOCK_DETECTOR_RULES: 'name=disk_used_ratio:threshold=0.9',
      FORESHOCK_BUS_PARTITIONS: '2',
    };
    worker = await startService('start', env);
    api = await startService('api', env);
    seed = seedLines(run);
    const r = await fetch(`${worker.url}/api/v2/write?precision=ms`, { method: 'POST', body: seed.body });
    expect(r.status).toBe(204);
  }, 180_000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    if (redis) await dropNamespace(redis, `${run}:`);
  });

  it('lists the anomaly the other process detected', async () => {
    const e = await waitFor(async () => {
      const body = (await (await fetch(`${api.url}/api/v1/anomalies?host=${seed.anomalyHost}&kind=anomaly_opened`)).json()) as { anomalies: { seriesKey: string; explanation: { summary: string } }[] };
      return body.anomalies[0] ?? null;
    }, 90_000, 500);
    expect(e.seriesKey).toBe(seed.anomalyKey);
    expect(e.explanation.summary).toMatch(/\S/);
  }, 100_000);

  it('ranks the trending series on the risk board and forecasts it', async () => {
    const risk = await waitFor(async () => {
      const body = (await (await fetch(`${api.url}/api/v1/risks?host=${run}-h2`)).json()) as { workers: number; risks: { key: string; crossing: { threshold: number; at: number } }[] };
      return body.risks[0] ? { ...body.risks[0], workers: body.workers } : null;
    }, 60_000, 500);
    expect(risk.key).toBe(seed.trendKey);
    expect(risk.workers).toBe(1);
    expect(risk.crossing.threshold).toBe(0.9);
    const f = (await (await fetch(`${api.url}/api/v1/forecast?host=${run}-h2&metric=disk_used_ratio&horizon=2h&steps=4`)).json()) as {
      forecasts: { series: { key: string }; points: unknown[]; crossings: { at: number }[] }[];
    };
    expect(f.forecasts[0].series.key).toBe(seed.trendKey);
    expect(f.forecasts[0].points).toHaveLength(5);
    expect(f.forecasts[0].crossings[0].at).toBe(risk.crossing.at);
    const series = (await (await fetch(`${api.url}/api/v1/series?match=${run}`)).json()) as { total: number };
    expect(series.total).toBe(3);
    // The API process has no detector: it says recent values are not available here.
    const v = (await (await fetch(`${api.url}/api/v1/series/values?series=${encodeURIComponent(seed.trendKey)}`)).json()) as { available: boolean };
    expect(v.available).toBe(false);
  }, 70_000);

  it('drops the board of a worker that stopped', async () => {
    await worker.stop();
    const body = (await (await fetch(`${api.url}/api/v1/risks`)).json()) as { workers: number; risks: unknown[] };
    expect(body.workers).toBe(0);
    expect(body.risks).toEqual([]);
  }, 30_000);
});
