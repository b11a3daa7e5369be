// What one write request may carry (config `limits.*`): the decoders stop allocating once a
// request is over a count limit, the receiver answers 400/413 naming the limit, and ingest
// applies the same checks to payloads that never passed a receiver (Telegraf's Kafka topic).

import { PayloadTooLargeError } from '../errors/index.js';
import type { LineProtocolPoint } from './line-protocol.js';

export interface RequestLimits {
  /** Samples in one request: remote-write samples, line-protocol field values. */
  readonly samplesPerRequest: number;
  /** Series entries in one request: remote-write timeseries, line-protocol lines. */
  readonly seriesPerRequest: number;
  /** Labels of one series, `__name__` included. */
  readonly labelsPerSeries: number;
  /** Characters (UTF-16 units) of one label name; the metric name counts as a label value. */
  readonly labelNameLength: number;
  /** Characters (UTF-16 units) of one label value. */
  readonly labelValueLength: number;
}

/** Why a series or request was refused; also the `reason` label of foreshock_samples_dropped_total. */
export type LimitReason = 'samples_per_request' | 'series_per_request' | 'labels_per_series' | 'label_name_length' | 'label_value_length';

/** The config key behind each reason, for messages that tell the sender what to change. */
export const LIMIT_KEYS: Readonly<Record<LimitReason, string>> = {
  samples_per_request: 'limits.samplesPerRequest',
  series_per_request: 'limits.seriesPerRequest',
  labels_per_series: 'limits.labelsPerSeries',
  label_name_length: 'limits.labelNameLength',
  label_value_length: 'limits.labelValueLength',
};

/** A request over `limits.samplesPerRequest`: it can never succeed as sent (413). */
export function tooManySamples(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError('FS_LIMIT_SAMPLES', `request has more than ${limit} samples (${LIMIT_KEYS.samples_per_request}); send smaller batches`);
}

/** A request over `limits.seriesPerRequest` (413). */
export function tooManySeries(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError('FS_LIMIT_SERIES', `request has more than ${limit} series (${LIMIT_KEYS.series_per_request}); send smaller batches`);
}

/**
 * The per-series limit `labels` breaks, or null. `count` is how many labels the series had on
 * the wire (the decoder may have kept only the first `labelsPerSeries + 1`).
 */
export function labelLimitBroken(labels: readonly (readonly [string, string])[], count: number, limits: RequestLimits): LimitReason | null {
  if (count > limits.labelsPerSeries) return 'labels_per_series';
  const maxName = limits.labelNameLength;
  const maxValue = limits.labelValueLength;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i][0].length > maxName) return 'label_name_length';
    if (labels[i][1].length > maxValue) return 'label_value_length';
  }
  return null;
}

function clip(s: string): string {
  return s.length <= 64 ? s : `${s.slice(0, 61)}...`;
}

/** A message naming the series, the limit and the config key, e.g. for a 400 body. */
export function describeLabelLimit(reason: LimitReason, labels: readonly (readonly [string, string])[], count: number, limits: RequestLimits): string {
  let name = '';
  for (let i = 0; i < labels.length; i++) if (labels[i][0] === '__name__') name = labels[i][1];
  const series = `series ${JSON.stringify(clip(name))}`;
  switch (reason) {
    case 'labels_per_series':
      return `${series} has ${count} labels, more than ${limits.labelsPerSeries} (${LIMIT_KEYS.labels_per_series})`;
    case 'label_name_length':
    case 'label_value_length': {
      const isName = reason === 'label_name_length';
      const max = isName ? limits.labelNameLength : limits.labelValueLength;
      for (let i = 0; i < labels.length; i++) {
        const len = labels[i][isName ? 0 : 1].length;
        if (len > max) {
          return `${series}: label ${isName ? 'name' : `"${clip(labels[i][0])}" value`} of ${len} characters, more than ${max} (${LIMIT_KEYS[reason]})`;
        }
      }
      return `${series} breaks ${LIMIT_KEYS[reason]}`;
    }
    default:
      return `${series} breaks ${LIMIT_KEYS[reason]}`;
  }
}

/**
 * The limit a line-protocol point breaks, or null. A point becomes one series per field
 * (`measurement_field`, with the tags as labels), so the labels are the tags plus the name.
 */
export function linePointLimitBroken(p: LineProtocolPoint, limits: RequestLimits): LimitReason | null {
  const tags = p.tags;
  let labels = 1;
  for (let i = 0; i < tags.length; i++) {
    // Normalisation ignores a tag named __name__: the name is measurement_field.
    if (tags[i][0] === '__name__') continue;
    labels++;
    if (tags[i][0].length > limits.labelNameLength) return 'label_name_length';
    if (tags[i][1].length > limits.labelValueLength) return 'label_value_length';
  }
  if (labels > limits.labelsPerSeries) return 'labels_per_series';
  const m = p.measurement.length + 1;
  for (let f = 0; f < p.fieldKeys.length; f++) if (m + p.fieldKeys[f].length > limits.labelValueLength) return 'label_value_length';
  return null;
}

/** A message for a line-protocol point over a limit (without the line number). */
export function describeLinePointLimit(reason: LimitReason, p: LineProtocolPoint, limits: RequestLimits): string {
  const labels: [string, string][] = [['__name__', p.measurement]];
  let count = 1;
  for (const [k, v] of p.tags) {
    if (k === '__name__') continue;
    labels.push([k, v]);
    count++;
  }
  if (reason === 'label_value_length') {
    const m = p.measurement.length + 1;
    for (const f of p.fieldKeys) {
      if (m + f.length > limits.labelValueLength) {
        return `series name ${JSON.stringify(clip(`${p.measurement}_${f}`))} of ${m + f.length} characters, more than ${limits.labelValueLength} (${LIMIT_KEYS.label_value_length})`;
      }
    }
  }
  return describeLabelLimit(reason, labels, count, limits);
}
