// Alert lifecycle of the intervention stage: detector events in, one alert record per series
// and alert kind out (kept in the StateStore hash ALERTS_KEY), and the Alertmanager form of it.

import {
  ALERTS_KEY,
  rankedMembers,
  type AlertRecord as AlertRecordModel,
  type AnomalyEvent,
  type Explanation,
} from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';
import type { PostableAlert } from './alertmanager-client.js';
import { NO_POLICY, alertIdFor, applyWithPolicy, type AlertPolicy } from './alert-policy.js';

import { ALERTNAME_ANOMALY, ALERTNAME_FORECAST } from './alert-names.js';

export { ALERTNAME_ANOMALY, ALERTNAME_FORECAST, ALERTNAME_SATURATION } from './alert-names.js';

/** A label set Alertmanager stopped receiving as firing (the alert was escalated), resent as resolved for a while. */
export interface RetiredLabels {
  labels: Record<string, string>;
  /** ms since epoch sent as its endsAt. */
  endsAt: number;
  /** Wall-clock ms when it was retired. */
  at: number;
}

/**
 * One alert as stored (JSON, field = `id` in hash ALERTS_KEY). Extends the shared model the
 * API reads; `labels` are the Alertmanager labels (series labels included).
 */
export interface AlertRecord extends AlertRecordModel {
  labels: Record<string, string>;
  /** Event id that opened the current episode. */
  openedBy: string;
  lastEventId: string;
  /** Event time of the last event applied, ms. */
  lastEventTs: number;
  /** Wall-clock ms when the last event was applied (forecast alerts expire from it). */
  lastEventAt: number;
  /** Wall-clock ms when it resolved (resends of the resolution are timed from it). */
  resolvedAt: number | null;
  retired: RetiredLabels | null;
  /** The PagerDuty page of this episode, once one was queued (severity it was sent with). */
  paged?: { route: string; dedupKey: string; severity: 'warning' | 'critical' } | null;
  /** Set when a runbook acting on this episode failed (the alert was escalated for it). */
  runbookFailed?: string | null;
  /** Wall-clock ms the alert started firing (minimum firing time counts from it). */
  firingSince?: number;
  /** Detector episode merged into this alert last (a new anomaly during a held resolve continues the alert). */
  episodeStart?: number;
  /** A resolve held back (resolve hold, minimum firing time): the alert still fires until it is released. */
  pendingResolve?: { endsAt: number; since: number } | null;
  /** Grouped alerts: member series → start of their open episode. */
  members?: Record<string, number>;
  /** Grouped alerts: member series → start of their last resolved episode (replays of it are stale). */
  closed?: Record<string, number>;
}

/**
 * What an event did to its alert. `opened`: new alert or new episode; `updated`: refreshed;
 * `escalated`: warning became critical (new label set, the old one is resolved in Alertmanager);
 * `resolved`: a firing alert ended; `resolved_unseen`: the end of an episode this stage never
 * saw open (recorded and sent, so an Alertmanager that has it converges); `duplicate`: already
 * applied; `stale`: older than the state (an earlier episode, or after the resolve); `noted`: a
 * group record changed that is not firing (context members remembered): stored, not sent.
 */
export type Transition = 'opened' | 'updated' | 'escalated' | 'resolved' | 'resolved_unseen' | 'resolve_held' | 'noted' | 'duplicate' | 'stale';

export interface LifecycleResult {
  record: AlertRecord;
  transition: Transition;
}

/** Alert id of the alert an event belongs to: one anomaly alert and one forecast alert per series. */
export function alertIdOf(event: AnomalyEvent): string {
  return (event.kind === 'forecast_breach' ? 'forecast:' : 'anomaly:') + event.seriesKey;
}

/** Alertmanager (legacy, pre-UTF-8) label names: [a-zA-Z_][a-zA-Z0-9_]*. */
function labelName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? '_' + s : s;
}

/**
 * Labels of the alert for an event: the series labels (`__name__` as `metric`, names made
 * valid for Alertmanager, empty values dropped), then `host`, `foreshock_series`, `severity`
 * and `alertname`, which win over series labels of the same name.
 */
export function alertLabels(event: AnomalyEvent, alertname: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(event.labels)) {
    const v = event.labels[k];
    if (v === '' || k === '__name__') continue;
    out[labelName(k)] = v;
  }
  const metric = event.labels.__name__;
  if (metric) out.metric = metric;
  if (event.host) out.host = event.host;
  out.foreshock_series = event.seriesKey;
  out.severity = event.severity;
  out.alertname = alertname;
  return out;
}

/** Member lines an alert's description lists (the rest are counted). */
const MEMBERS_SHOWN = 12;

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Annotations: summary, description (the whole explanation in one paragraph), value, expected. */
export function alertAnnotations(record: Pick<AlertRecord, 'alertname' | 'seriesKey' | 'explanation' | 'runbookFailed' | 'memberInfo'> & { host?: string }): Record<string, string> {
  const x: Explanation = record.explanation;
  const trend = (x.trendPerS >= 0 ? '+' : '') + fmt(x.trendPerS);
  const fired = x.fired.length > 0 ? x.fired.join(', ') : 'none';
  let description =
    `value ${fmt(x.value)}, expected ${fmt(x.expected)} (band ${fmt(x.lower)} to ${fmt(x.upper)}), ` +
    `z ${fmt(x.z)}, trend ${trend}/s, score ${fmt(x.score)}; detectors fired: ${fired}`;
  const out: Record<string, string> = {};
  if (x.forecast) {
    const f = x.forecast;
    description += `; forecast crosses ${fmt(f.threshold)} at ${iso(f.breachAt)} (between ${iso(f.breachEarliest)} and ${iso(f.breachLatest)})`;
    out.threshold = fmt(f.threshold);
    out.breach_at = iso(f.breachAt);
  }
  out.summary = x.summary || `${record.alertname} on ${record.seriesKey}`;
  const members = rankedMembers(record);
  if (members.length > 0) {
    // A group alert: one line per series involved, those that page first, strongest first.
    const paging = members.filter((m) => m.pages).length;
    const shown = members.slice(0, MEMBERS_SHOWN);
    const lines = shown.map((m) => `${m.pages ? '*' : '-'} ${m.seriesKey}: ${m.summary}`);
    if (members.length > shown.length) lines.push(`… and ${members.length - shown.length} more series`);
    const top = members[0].summary;
    const prefix = record.host && !top.includes(record.host) ? record.host + ': ' : '';
    out.summary = `${prefix}${top}${members.length > 1 ? ` (+${members.length - 1} more series)` : ''}`;
    out.series = String(members.length);
    out.paging_series = String(paging);
    description = `${paging} series page (*), ${members.length - paging} add context (-):\n${lines.join('\n')}`;
  }
  out.description = description;
  out.value = fmt(x.value);
  out.expected = fmt(x.expected);
  if (record.runbookFailed) out.runbook_failed = record.runbookFailed;
  return out;
}

/** A new firing alert for `event` (one series; grouped alerts extend it in alert-policy). */
export function openRecord(event: AnomalyEvent, now: number): AlertRecord {
  const alertname = event.kind === 'forecast_breach' ? ALERTNAME_FORECAST : ALERTNAME_ANOMALY;
  return {
    id: alertIdOf(event),
    alertname,
    seriesKey: event.seriesKey,
    labels: alertLabels(event, alertname),
    host: event.host,
    severity: event.severity,
    status: 'firing',
    startsAt: event.startedAt,
    endsAt: null,
    lastSentAt: null,
    explanation: event.explanation,
    openedBy: event.id,
    lastEventId: event.id,
    lastEventTs: event.ts,
    lastEventAt: now,
    resolvedAt: null,
    retired: null,
    firingSince: now,
  };
}

function refreshed(prev: AlertRecord, event: AnomalyEvent, now: number): AlertRecord {
  return { ...prev, explanation: event.explanation, lastEventId: event.id, lastEventTs: event.ts, lastEventAt: now };
}

/**
 * Pure transition of one alert for one event; `now` is wall-clock ms. Idempotent: applying
 * the same event again gives `duplicate` (or `stale`) and the same record. Episodes are
 * ordered by `startedAt`, so a replayed event of an earlier episode never reopens an alert.
 */
export function applyEvent(prev: AlertRecord | null, event: AnomalyEvent, now: number): LifecycleResult {
  if (event.kind === 'anomaly_resolved') return applyResolve(prev, event, now);
  if (event.kind === 'forecast_breach') return applyBreach(prev, event, now);
  if (prev === null) return { record: openRecord(event, now), transition: 'opened' };
  if (event.startedAt < prev.startsAt) return { record: prev, transition: 'stale' };
  if (event.startedAt > prev.startsAt) return { record: openRecord(event, now), transition: 'opened' };
  if (prev.status === 'resolved') return { record: prev, transition: 'stale' };
  if (event.id === prev.lastEventId || event.id === prev.openedBy || event.ts < prev.lastEventTs) {
    return { record: prev, transition: 'duplicate' };
  }
  return refresh(prev, event, now);
}

/**
 * Forecast breaches have no resolve event (see expireForecast): while the alert fires every
 * newer breach refreshes it, whatever its episode; once expired, a newer breach opens it again.
 */
function applyBreach(prev: AlertRecord | null, event: AnomalyEvent, now: number): LifecycleResult {
  if (prev === null) return { record: openRecord(event, now), transition: 'opened' };
  if (event.id === prev.lastEventId || event.ts <= prev.lastEventTs) return { record: prev, transition: 'duplicate' };
  if (prev.status === 'resolved') return { record: openRecord(event, now), transition: 'opened' };
  return refresh(prev, event, now);
}

/**
 * The alert after a runbook acting on it failed: marked, and a warning becomes critical (the
 * warning label set is retired as in an escalation by event). Null when it is not firing.
 */
export function escalateForRunbook(prev: AlertRecord, reason: string, now: number): AlertRecord | null {
  if (prev.status !== 'firing') return null;
  const next: AlertRecord = { ...prev, runbookFailed: reason };
  if (prev.severity === 'warning') {
    next.retired = { labels: prev.labels, endsAt: Math.max(prev.startsAt, now), at: now };
    next.labels = { ...prev.labels, severity: 'critical' };
    next.severity = 'critical';
  }
  return next;
}

function refresh(prev: AlertRecord, event: AnomalyEvent, now: number): LifecycleResult {
  const next = refreshed(prev, event, now);
  // Escalate only: severity is a label (Alertmanager routes on it), so warning -> critical is a
  // new alert and the warning one is resolved; a critical alert stays critical until it resolves
  // rather than flapping between label sets.
  if (prev.severity === 'warning' && event.severity === 'critical') {
    next.retired = { labels: prev.labels, endsAt: Math.max(prev.startsAt, event.ts), at: now };
    next.labels = { ...prev.labels, severity: 'critical' };
    next.severity = 'critical';
    return { record: next, transition: 'escalated' };
  }
  return { record: next, transition: 'updated' };
}

function applyResolve(prev: AlertRecord | null, event: AnomalyEvent, now: number): LifecycleResult {
  if (prev !== null && event.startedAt < prev.startsAt) return { record: prev, transition: 'stale' };
  if (prev === null || (prev.status === 'resolved' && event.startedAt > prev.startsAt)) {
    const record = openRecord(event, now);
    record.status = 'resolved';
    record.endsAt = Math.max(record.startsAt, event.ts);
    record.resolvedAt = now;
    return { record, transition: 'resolved_unseen' };
  }
  if (prev.status === 'resolved') return { record: prev, transition: 'duplicate' };
  const record = refreshed(prev, event, now);
  record.status = 'resolved';
  record.endsAt = Math.max(prev.startsAt, event.ts);
  record.resolvedAt = now;
  return { record, transition: 'resolved' };
}

/**
 * A forecast alert has no resolve event: it ends when no breach refreshed it for `ttlMs`.
 * Returns the resolved record, or null when it stays as it is.
 */
export function expireForecast(record: AlertRecord, now: number, ttlMs: number): AlertRecord | null {
  if (record.alertname !== ALERTNAME_FORECAST || record.status !== 'firing' || now - record.lastEventAt < ttlMs) return null;
  return { ...record, status: 'resolved', endsAt: Math.max(record.startsAt, now), resolvedAt: now };
}

export interface PostableOptions {
  /** While firing, endsAt = now + this (Prometheus sends 4 × its resend interval). */
  endsAtAheadMs: number;
  /** How long after resolving (or escalating) the resolved label set is still sent. */
  resolvedResendForMs: number;
  /** Base URL of Foreshock for generatorURL; '' for none. */
  foreshockUrl: string;
}

/** Whether the periodic resend should include this alert now. */
export function needsResend(record: AlertRecord, now: number, resolvedResendForMs: number): boolean {
  if (record.status === 'firing') return true;
  return record.resolvedAt !== null && now - record.resolvedAt < resolvedResendForMs;
}

/** The alert (and a recently retired label set) as Alertmanager's postableAlert. */
export function toPostableAlerts(record: AlertRecord, now: number, options: PostableOptions): PostableAlert[] {
  const annotations = alertAnnotations(record);
  const generatorURL = generatorUrl(options.foreshockUrl, record.seriesKey);
  const startsAt = iso(record.startsAt);
  const endsAt =
    record.status === 'firing' || record.endsAt === null
      ? Math.max(now, record.startsAt) + options.endsAtAheadMs
      : Math.max(record.endsAt, record.startsAt);
  const main: PostableAlert = { labels: { ...record.labels }, annotations, startsAt, endsAt: iso(endsAt) };
  if (generatorURL) main.generatorURL = generatorURL;
  const out = [main];
  const r = record.retired;
  if (r !== null && now - r.at < options.resolvedResendForMs) {
    const retired: PostableAlert = { labels: { ...r.labels }, annotations, startsAt, endsAt: iso(Math.max(r.endsAt, record.startsAt)) };
    if (generatorURL) retired.generatorURL = generatorURL;
    out.push(retired);
  }
  return out;
}

/** Link back to the series on Foreshock's page. */
export function generatorUrl(foreshockUrl: string, seriesKey: string): string {
  if (!foreshockUrl) return '';
  const u = new URL(foreshockUrl);
  u.searchParams.set('series', seriesKey);
  return u.toString();
}

/** Alert records in the StateStore: one JSON value per alert id in hash `key`. */
export class AlertLifecycle {
  constructor(
    private readonly store: StateStore,
    private readonly key: string = ALERTS_KEY,
    private readonly policy: AlertPolicy = NO_POLICY,
  ) {}

  /** The id of the alert `event` belongs to under the grouping policy. */
  idOf(event: AnomalyEvent): string {
    return alertIdFor(event, this.policy);
  }

  async get(id: string): Promise<AlertRecord | null> {
    const raw = await this.store.hget(this.key, id);
    return raw === null ? null : (JSON.parse(raw) as AlertRecord);
  }

  async save(record: AlertRecord): Promise<void> {
    await this.store.hset(this.key, { [record.id]: JSON.stringify(record) });
  }

  async list(): Promise<AlertRecord[]> {
    const all = await this.store.hgetall(this.key);
    return Object.values(all).map((v) => JSON.parse(v) as AlertRecord);
  }

  async forget(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.store.hdel(this.key, ids);
  }

  /** Applies `event` to its alert and stores the result when it changed. Callers serialise per alert id. */
  async apply(event: AnomalyEvent, now: number): Promise<LifecycleResult> {
    const prev = await this.get(this.idOf(event));
    const result = applyWithPolicy(prev, event, now, this.policy);
    if (result.transition !== 'duplicate' && result.transition !== 'stale') await this.save(result.record);
    return result;
  }
}
