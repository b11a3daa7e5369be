// A deterministic fleet for detector failover tests: hosts × (a gauge with one anomaly episode
// per third host, a trending gauge, a counter with a reset), encoded as the samples topic
// carries them (binary sample batches keyed by host, a few steps per message).

import { encodeSampleBatch } from '../../shared/codecs/index.js';
import { KIND_COUNTER, KIND_GAUGE, seriesKey, sortedLabels, type SeriesSamples } from '../../shared/model/index.js';
import type { OutgoingMessage } from '../../shared/ports/index.js';

export interface WorkloadOptions {
  hosts: number;
  steps: number;
  /** Steps per message (each message holds every series of one host for these steps). Default 4. */
  stepsPerMessage?: number;
  /** Host name prefix, so concurrent runs do not share series. Default `h`. */
  hostPrefix?: string;
  /** Event time of step 0, ms. Default 2025-01-01T00:00:00Z. */
  t0?: number;
  /** Interval between steps, ms. Default 15 s. */
  stepMs?: number;
}

export interface Workload {
  /** Messages in send order: chunk by chunk, host by host. */
  messages: OutgoingMessage[];
  /** Samples in all messages. */
  samples: number;
  /** Series keys, per host. */
  keys: string[];
  /** Hosts whose gauge has an anomaly episode. */
  anomalousHosts: string[];
}

const METRICS = 3;

function noise(h: number, m: number, i: number): number {
  const x = Math.sin(h * 12.9898 + m * 78.233 + i * 37.719) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
}

/** Step range of host h's anomaly episode, or null when it has none. */
export function episodeOf(h: number): [number, number] | null {
  if (h % 3 !== 0) return null;
  const start = 150 + ((h * 7) % 80);
  return [start, start + 40];
}

export function buildWorkload(o: WorkloadOptions): Workload {
  const per = o.stepsPerMessage ?? 4;
  const prefix = o.hostPrefix ?? 'h';
  const t0 = o.t0 ?? Date.UTC(2025, 0, 1);
  const stepMs = o.stepMs ?? 15_000;
  const labels = [];
  const keys: string[] = [];
  const anomalousHosts: string[] = [];
  for (let h = 0; h < o.hosts; h++) {
    const host = `${prefix}${h}`;
    if (episodeOf(h) !== null) anomalousHosts.push(host);
    const row = [];
    for (const name of ['fs_cpu_percent', 'fs_mem_bytes', 'fs_requests_total']) {
      const l = sortedLabels([['__name__', name], ['host', host], ['cluster', `c${h % 3}`]]);
      row.push(l);
      keys.push(seriesKey(l));
    }
    labels.push(row);
  }
  const counters = new Float64Array(o.hosts);
  const messages: OutgoingMessage[] = [];
  let samples = 0;
  for (let from = 0; from < o.steps; from += per) {
    const to = Math.min(o.steps, from + per);
    for (let h = 0; h < o.hosts; h++) {
      const ep = episodeOf(h);
      const series: SeriesSamples[] = [];
      for (let m = 0; m < METRICS; m++) {
        const n = to - from;
        const ts = new Float64Array(n);
        const vs = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          const i = from + k;
          ts[k] = t0 + i * stepMs;
          if (m === 0) vs[k] = 50 + 4 * noise(h, m, i) + (ep !== null && i >= ep[0] && i < ep[1] ? 60 : 0);
          else if (m === 1) vs[k] = 1e6 + 200 * i + 500 * noise(h, m, i);
          else {
            // A counter that restarts from zero once for every fourth host.
            if (h % 4 === 1 && i === 250) counters[h] = 0;
            counters[h] += 15 * (100 + 10 * noise(h, m, i));
            vs[k] = counters[h];
          }
        }
        const l = labels[h][m];
        series.push({ key: seriesKey(l), labels: l, host: l.host, kind: m === 2 ? KIND_COUNTER : KIND_GAUGE, timestamps: ts, values: vs, stale: false });
        samples += n;
      }
      messages.push({ key: `${prefix}${h}`, value: encodeSampleBatch({ series }) });
    }
  }
  return { messages, samples, keys, anomalousHosts };
}
