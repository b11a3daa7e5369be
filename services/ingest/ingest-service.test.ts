// Ingest applies the per-series and per-message limits to what never passed a receiver
// (Telegraf's Kafka topic), counting what it drops, and skips without counting again the
// series a receiver already refused in a body it queued.

import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../shared/adapters/memory/index.js';
import { partitionForKey } from '../../shared/adapters/memory/murmur2.js';
import { RAW_FORMAT_LINE_PROTOCOL, decodeSampleBatch, encodeRawPayload } from '../../shared/codecs/index.js';
import type { BusBatch } from '../../shared/ports/index.js';
import { loadConfig } from '../../shared/config/index.js';
import { createTelemetry, silentLogger } from '../../shared/telemetry/index.js';
import { IngestService } from './ingest-service.js';

async function setup() {
  const { config } = loadConfig({ env: { FORESHOCK_LIMITS_LABELS_PER_SERIES: '3', FORESHOCK_LIMITS_SAMPLES_PER_REQUEST: '4' } });
  const bus = new MemoryBus();
  await bus.ensureTopics([{ name: config.bus.topicSamples, partitions: 1 }]);
  const telemetry = createTelemetry({ defaultMetrics: false });
  const ingest = new IngestService({ bus, config, telemetry, logger: silentLogger() });
  /** A counter's value with `label` among its label values ('' for a counter without labels). */
  const counter = async (name: string, label: string) => {
    const m = (await telemetry.registry.getSingleMetric(name)!.get()).values.find((v) => label === '' || Object.values(v.labels).includes(label));
    return m?.value ?? 0;
  };
  return { config, bus, ingest, counter };
}

const message = (value: Uint8Array, offset = 0) => ({ key: null, value, offset, timestamp: Date.now() });

describe('ingest limits', () => {
  it('drops and counts Telegraf lines over the per-series and per-message limits', async () => {
    const { config, bus, ingest, counter } = await setup();
    const body = ['ok,host=a v=1', 'wide,host=a,b=1,c=2 v=1', 'ok2,host=a v=1,w=2', 'late,host=a v=1,w=2', 'bad line'].join('\n');
    await ingest.handleBatch({ topic: config.bus.topicTelegraf, partition: 0, messages: [message(new TextEncoder().encode(body))] });
    expect(await counter('foreshock_samples_ingested_total', '')).toBe(3);
    expect(await counter('foreshock_samples_dropped_total', 'labels_per_series')).toBe(1);
    expect(await counter('foreshock_samples_dropped_total', 'samples_per_request')).toBe(2);
    expect(await counter('foreshock_samples_dropped_total', 'bad_line')).toBe(1);
    await bus.close();
  });

  it('skips, without counting again, lines a receiver already refused', async () => {
    const { config, bus, ingest, counter } = await setup();
    const raw = encodeRawPayload(RAW_FORMAT_LINE_PROTOCOL, 'ns', Date.now(), new TextEncoder().encode('ok,host=a v=1\nwide,host=a,b=1,c=2 v=1'));
    await ingest.handleBatch({ topic: config.bus.topicRaw, partition: 0, messages: [message(raw)] });
    expect(await counter('foreshock_samples_ingested_total', '')).toBe(1);
    expect(await counter('foreshock_samples_dropped_total', 'labels_per_series')).toBe(0);
    await bus.close();
  });
});

describe('ingest publishing', () => {
  it('sends one sample batch per partition, each host in the partition its key routes to', async () => {
    const { config } = loadConfig({ env: {} });
    const bus = new MemoryBus();
    const PARTITIONS = 4;
    await bus.ensureTopics([{ name: config.bus.topicSamples, partitions: PARTITIONS }]);
    const ingest = new IngestService({ bus, config, telemetry: createTelemetry({ defaultMetrics: false }), logger: silentLogger() });
    const hosts = Array.from({ length: 40 }, (_, i) => `host-${i}`);
    const body = hosts.flatMap((h) => [`cpu,host=${h} user=1,sys=2 1000000000`, `mem,host=${h} used=3 1000000000`]).join('\n');
    await ingest.handleBatch({ topic: config.bus.topicTelegraf, partition: 0, messages: [message(new TextEncoder().encode(body))] });

    const batches: BusBatch[] = [];
    const sub = await bus.subscribe({ groupId: 'ingest-test', topics: [config.bus.topicSamples], eachBatch: async (b) => void batches.push(b) });
    const deadline = Date.now() + 5_000;
    while (batches.reduce((n, b) => n + b.messages.length, 0) < PARTITIONS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.close();

    const seen = new Map<string, number>();
    let messages = 0;
    for (const b of batches) {
      for (const m of b.messages) {
        messages++;
        for (const s of decodeSampleBatch(m.value).series) {
          expect(b.partition).toBe(partitionForKey(s.host, PARTITIONS));
          seen.set(s.host, (seen.get(s.host) ?? 0) + 1);
        }
      }
    }
    // 40 hosts over 4 partitions: every partition gets exactly one message holding all its hosts.
    expect(messages).toBe(new Set(hosts.map((h) => partitionForKey(h, PARTITIONS))).size);
    expect([...seen.keys()].sort()).toEqual([...hosts].sort());
    for (const h of hosts) expect(seen.get(h)).toBe(3);
    await bus.close();
  });
});
