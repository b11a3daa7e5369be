// The Kafka broker restarts under load: Foreshock (receiver → raw topic → ingest → samples
// topic → detector, on Kafka and Redis) resumes by itself and no accepted sample is lost —
// counted end to end, from the samples the receiver answered 204 for to the samples the
// detector scored. The broker is a private one on free ports (the shared test broker is never
// stopped); a sender that gets an error retries the same request, as Telegraf does.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { kafkaClasspath, startPrivateKafka, type PrivateKafka } from '../support/private-kafka.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { distributedEnv, metricValue, startService, type ForeshockProcess } from './support/foreshock-process.js';

const redis = requireService('redis');
const classpath = kafkaClasspath();
const HOSTS = 20;
const STEPS = 480;
const RESTART_AT_STEP = 150;
/** Hosts 0..3 shift by +60 from this step, after the restart: detection must have resumed to see it. */
const SHIFT_FROM = 320;
const T0 = Date.UTC(2025, 0, 1);

function body(step: number): string {
  const lines: string[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const x = Math.sin(h * 12.9898 + step * 37.719) * 43758.5453;
    const v = 50 + 4 * ((x - Math.floor(x)) * 2 - 1) + (h < 4 && step >= SHIFT_FROM ? 60 : 0);
    lines.push(`fs_load,host=h${h},cluster=c${h % 2} value=${v} ${T0 + step * 15_000}`);
  }
  return lines.join('\n') + '\n';
}

describe.skipIf(!redis || !classpath)('Kafka broker restart under load', () => {
  let broker: PrivateKafka | null = null;
  let fs: ForeshockProcess | null = null;
  const run = `fsb${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    await fs?.stop(10_000);
    await broker?.close();
    const store = new RedisStateStore({ url: redis!, keyPrefix: `${run}:` });
    for (const k of await store.keys('')) await store.del(k);
    await store.close();
  });

  it('resumes ingest and detection by itself and loses no accepted sample', async () => {
    broker = await startPrivateKafka(classpath!);
    const env: Record<string, string> = {
      ...distributedEnv(broker.brokers, redis!, run),
      FORESHOCK_BUS_PARTITIONS: '2',
      FORESHOCK_QUEUE_KIND: 'memory',
      FORESHOCK_SINK_KIND: 'none',
      FORESHOCK_DETECTOR_CHECKPOINT_INTERVAL: '2s',
      FORESHOCK_KAFKA_REQUEST_TIMEOUT: '5s',
    };
    fs = await startService('start', env, 120_000);
    const url = `${fs.url}/api/v2/write?precision=ms`;

    let accepted = 0;
    let retries = 0;
    let restartMs = 0;
    let restart: Promise<void> | null = null;
    for (let step = 0; step < STEPS; step++) {
      if (step === RESTART_AT_STEP) {
        const b = broker;
        restart = (async () => {
          const t = Date.now();
          await b.stop();
          await b.start();
          restartMs = Date.now() - t;
        })();
      }
      const payload = body(step);
      for (;;) {
        const r = await fetch(url, { method: 'POST', body: payload, signal: AbortSignal.timeout(30_000) }).catch(() => null);
        if (r !== null) await r.arrayBuffer();
        if (r?.status === 204) break;
        retries++;
        if (retries > 2_000) throw new Error(`step ${step}: the receiver keeps failing (last status ${r?.status ?? 'no answer'})\n${fs.output().slice(-3_000)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
      accepted += HOSTS;
      await new Promise((res) => setTimeout(res, 10));
    }
    await restart;

    const scored = await waitFor(async () => {
      const n = await metricValue(fs!.url, 'foreshock_samples_scored_total');
      return n >= accepted ? n : null;
    }, 180_000, 1_000).catch(async () => metricValue(fs!.url, 'foreshock_samples_scored_total'));
    const received = await metricValue(fs.url, 'foreshock_samples_received_total');
    const opened = await metricValue(fs.url, 'foreshock_events_total', 'kind="anomaly_opened"');
    console.log(JSON.stringify({ case: 'broker_restart', samples_accepted: accepted, samples_received: received, samples_scored: scored, sender_retries: retries, broker_restart_ms: restartMs, anomalies_opened: opened }));

    // Every sample the receiver accepted reached the detector, once.
    expect(scored).toBe(accepted);
    // The shifted hosts' anomalies (all after the restart) were detected.
    expect(opened).toBeGreaterThanOrEqual(4);
  }, 600_000);
});
