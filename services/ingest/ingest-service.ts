// Ingest stage: consumes the raw topics (receiver payloads, Telegraf's line protocol),
// decodes and normalises them, and produces compact sample batches keyed by host to the
// "samples" topic. The offsets of a raw batch are committed only after its samples are sent.

import { loadCatalogue } from '../../shared/catalogue/index.js';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { ForeshockConfig } from '../../shared/config/index.js';
import {
  RAW_FORMAT_LINE_PROTOCOL_GZIP, RAW_FORMAT_REMOTE_WRITE, decodeRawPayload, linePointLimitBroken, parseLineProtocol, snappyDecompress, type DecodeWriteRequestOptions,
  type LimitReason,
} from '../../shared/codecs/index.js';
import { ForeshockError } from '../../shared/errors/index.js';
import type { Bus, BusBatch, OutgoingMessage, Subscription } from '../../shared/ports/index.js';
import type { Logger, Telemetry } from '../../shared/telemetry/index.js';
import { Normaliser, type DropReason } from './normalise.js';

export interface IngestDeps {
  bus: Bus;
  config: ForeshockConfig;
  telemetry: Telemetry;
  logger: Logger;
}

const textDecoder = new TextDecoder();
/** Consumer group of the ingest workers on the raw topics (the Kafka adapter prepends kafka.groupIdPrefix). */
export const INGEST_GROUP = 'foreshock-ingest';
const gunzipAsync = promisify(gunzip);
/**
 * Samples normalised before they are sent on, even mid-batch: a batch of large bodies must not
 * pile all its samples up in memory first (a redelivered batch re-sends them; the detector
 * drops the duplicates by timestamp).
 */
const PUBLISH_EVERY_SAMPLES = 250_000;

export class IngestService {
  private readonly normaliser: Normaliser;
  private subscription: Subscription | null = null;
  private readonly reported: Record<DropReason, number> = { nan: 0, string_field: 0, no_name: 0, empty_series: 0 };
  private readonly rwLimits: DecodeWriteRequestOptions;

  constructor(private readonly deps: IngestDeps) {
    const limits = deps.config.limits;
    this.rwLimits = { maxSeries: limits.seriesPerRequest, maxSamples: limits.samplesPerRequest, maxLabelsPerSeries: limits.labelsPerSeries };
    this.normaliser = new Normaliser({
      hostLabels: deps.config.ingest.hostLabels,
      counterSuffixes: deps.config.ingest.counterSuffixes,
      catalogue: loadCatalogue(deps.config.catalogue.files),
      limits,
    });
  }

  async start(): Promise<void> {
    const { bus, config } = this.deps;
    this.subscription = await bus.subscribe({
      groupId: INGEST_GROUP,
      topics: [config.bus.topicRaw, config.bus.topicTelegraf],
      eachBatch: (batch) => this.handleBatch(batch),
    });
  }

  /** Decode one batch of raw messages and publish the samples; throws to get it redelivered. */
  async handleBatch(batch: BusBatch): Promise<void> {
    const { config, telemetry, logger } = this.deps;
    const isTelegraf = batch.topic === config.bus.topicTelegraf;
    for (const m of batch.messages) {
      try {
        if (isTelegraf) this.addLineProtocol(textDecoder.decode(m.value), config.ingest.defaultPrecision, m.timestamp, batch.topic, m.offset);
        else await this.addRaw(m.value, batch.topic, m.offset);
      } catch (err) {
        // A payload that cannot be decoded will never decode: count it, log it, move on
        // (redelivering it would block the partition forever).
        const code = err instanceof ForeshockError ? err.code : 'FS_INGEST';
        telemetry.errors.inc({ code });
        telemetry.samplesDropped.inc({ reason: 'undecodable_message' });
        logger.warn({ topic: batch.topic, partition: batch.partition, offset: m.offset, code, err: (err as Error).message }, 'raw message dropped');
      }
      if (this.normaliser.accepted >= PUBLISH_EVERY_SAMPLES) await this.publish();
    }
    await this.publish();
  }

  private async addRaw(value: Uint8Array, topic: string, offset: number): Promise<void> {
    const raw = decodeRawPayload(value);
    if (raw.format === RAW_FORMAT_LINE_PROTOCOL_GZIP) {
      // Kept compressed while it waited; inflated one body at a time, here.
      const text = await gunzipAsync(raw.body, { maxOutputLength: this.deps.config.server.maxDecodedBytes });
      this.addLineProtocol(text.toString('utf8'), raw.precision, raw.receivedAtMs, topic, offset);
      return;
    }
    if (raw.format === RAW_FORMAT_REMOTE_WRITE) {
      // Series over a per-series limit are skipped: the receiver refused (and counted) them,
      // the body it queued still holds them.
      const req = this.normaliser.addRemoteWrite(snappyDecompress(raw.body, this.deps.config.server.maxDecodedBytes), this.rwLimits);
      const skipped = this.deps.telemetry.remoteWriteSkipped;
      skipped.inc({ kind: 'exemplar' }, req.exemplars);
      skipped.inc({ kind: 'histogram' }, req.histograms);
      skipped.inc({ kind: 'metadata' }, req.metadata);
    } else {
      this.addLineProtocol(textDecoder.decode(raw.body), raw.precision, raw.receivedAtMs, topic, offset);
    }
  }

  private addLineProtocol(text: string, precision: 'ns' | 'us' | 'ms' | 's', defaultTimeMs: number, topic: string, offset: number): void {
    const n = this.normaliser;
    const limits = this.deps.config.limits;
    // Bad lines and lines over a limit in a receiver's payload were counted (and answered) by
    // the receiver; Telegraf's topic has no one to answer, so they are counted here.
    const counted = topic === this.deps.config.bus.topicTelegraf;
    const dropped: Partial<Record<LimitReason, number>> = {};
    let lines = 0;
    let samples = 0;
    const result = parseLineProtocol(text, precision, (p) => {
      let broken = linePointLimitBroken(p, limits);
      // A receiver refused whole requests over these; a Telegraf message keeps what fits.
      if (++lines > limits.seriesPerRequest) broken = 'series_per_request';
      else if ((samples += p.fieldKeys.length) > limits.samplesPerRequest) broken = 'samples_per_request';
      if (broken === null) n.addLinePoint(p, defaultTimeMs);
      else if (counted) dropped[broken] = (dropped[broken] ?? 0) + p.fieldKeys.length;
    });
    if (!counted) return;
    for (const [reason, d] of Object.entries(dropped)) this.deps.telemetry.samplesDropped.inc({ reason }, d);
    if (result.badLines > 0) {
      this.deps.telemetry.samplesDropped.inc({ reason: 'bad_line' }, result.badLines);
      this.deps.logger.debug({ topic, offset, first: result.errors[0] }, 'line protocol lines dropped');
    }
  }

  private async publish(): Promise<void> {
    const { bus, config, telemetry } = this.deps;
    const batch = this.normaliser.take();
    const n = this.normaliser;
    telemetry.samplesIngested.inc(n.accepted);
    n.accepted = 0;
    for (const reason of Object.keys(this.reported) as DropReason[]) {
      const d = n.dropped[reason] - this.reported[reason];
      if (d > 0) telemetry.samplesDropped.inc({ reason }, d);
      this.reported[reason] = n.dropped[reason];
    }
    if (batch.hosts.length === 0) return;
    // One message per partition, not per host: all hosts the topic routes to one partition share
    // a batch (a host's series still all land in its own partition, in order), which cuts the
    // per-message cost of producing and consuming by the hosts-per-partition factor.
    const topic = config.bus.topicSamples;
    const partitions = await bus.keyPartitions(topic, batch.hosts);
    const byPartition = new Map<number, number[]>();
    for (let h = 0; h < partitions.length; h++) {
      const into = byPartition.get(partitions[h]);
      if (into === undefined) byPartition.set(partitions[h], [h]);
      else into.push(h);
    }
    const messages: OutgoingMessage[] = [];
    for (const [partition, hosts] of byPartition) messages.push({ key: null, partition, value: batch.encode(hosts) });
    await bus.send(topic, messages);
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
  }
}
