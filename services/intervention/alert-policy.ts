// Alert policy on top of the per-series lifecycle: grouping (events of the series of one host,
// cluster or service fold into one alert) and anti-flapping (minimum firing time, resolve hold).

import type { AnomalyEvent } from '../../shared/model/index.js';
import { applyEvent, alertIdOf, alertLabels, ALERTNAME_ANOMALY, openRecord, type AlertRecord, type LifecycleResult } from './alert-lifecycle.js';

export interface AlertPolicy {
  /** Labels whose values name the group of an event (`host` is the event's host); empty: one alert per series. */
  groupBy: readonly string[];
  /** An alert fires at least this long (wall clock), ms. */
  minFiringMs: number;
  /** A resolve waits this long; a new anomaly meanwhile keeps the alert firing, ms. */
  resolveHoldMs: number;
}

export const NO_POLICY: AlertPolicy = Object.freeze({ groupBy: [], minFiringMs: 0, resolveHoldMs: 0 });

function groupValue(event: AnomalyEvent, label: string): string {
  return label === 'host' ? event.host || event.labels.host || '' : event.labels[label] ?? '';
}

/** `group:cluster=db,service=api` for grouped anomaly events; else the per-series id. Forecast breaches stay per series. */
export function alertIdFor(event: AnomalyEvent, policy: AlertPolicy): string {
  if (policy.groupBy.length === 0 || event.kind === 'forecast_breach') return alertIdOf(event);
  return 'group:' + policy.groupBy.map((k) => `${k}=${groupValue(event, k)}`).join(',');
}

function held(policy: AlertPolicy): boolean {
  return policy.minFiringMs > 0 || policy.resolveHoldMs > 0;
}

/**
 * Applies `event` under the policy. Pure; idempotent like applyEvent. New transition:
 * `resolve_held` (the alert would resolve but stays firing until releaseHeld says so).
 */
export function applyWithPolicy(prev: AlertRecord | null, event: AnomalyEvent, now: number, policy: AlertPolicy): LifecycleResult {
  if (policy.groupBy.length > 0 && event.kind !== 'forecast_breach') return applyGroup(prev, event, now, policy);
  if (!held(policy) || prev === null) return applyEvent(prev, event, now);
  // The detector episode merged last is what the per-series rules compare with.
  const alertStart = prev.startsAt;
  const view: AlertRecord = { ...prev, startsAt: prev.episodeStart ?? prev.startsAt };
  const r = applyEvent(view, event, now);
  switch (r.transition) {
    case 'duplicate':
    case 'stale':
      return { record: prev, transition: r.transition };
    case 'opened':
      if (prev.status === 'firing' && prev.pendingResolve) return { record: continueAlert(prev, event, now), transition: 'updated' };
      return r;
    case 'resolved': {
      const rec = { ...r.record, startsAt: alertStart, episodeStart: view.startsAt };
      return { record: hold(rec, Math.max(alertStart, r.record.endsAt ?? event.ts), now), transition: 'resolve_held' };
    }
    default:
      return { record: { ...r.record, startsAt: alertStart, episodeStart: r.record.startsAt }, transition: r.transition };
  }
}

/** The alert stays firing; releaseHeld resolves it once the hold and the minimum firing time passed. */
function hold(rec: AlertRecord, endsAt: number, now: number): AlertRecord {
  return { ...rec, status: 'firing', endsAt: null, resolvedAt: null, pendingResolve: { endsAt, since: now } };
}

/** A new anomaly during a held resolve: the same alert goes on (no resolve and re-open in Alertmanager or PagerDuty). */
function continueAlert(prev: AlertRecord, event: AnomalyEvent, now: number): AlertRecord {
  const next: AlertRecord = {
    ...prev,
    explanation: event.explanation,
    lastEventId: event.id,
    lastEventTs: event.ts,
    lastEventAt: now,
    episodeStart: event.startedAt,
    pendingResolve: null,
  };
  return escalateBy(prev, next, event, now);
}

function escalateBy(prev: AlertRecord, next: AlertRecord, event: AnomalyEvent, now: number): AlertRecord {
  if (prev.severity === 'warning' && event.severity === 'critical') {
    next.retired = { labels: prev.labels, endsAt: Math.max(prev.startsAt, event.ts), at: now };
    next.labels = { ...prev.labels, severity: 'critical' };
    next.severity = 'critical';
  }
  return next;
}

/** The held resolve of `record` once it is due, else null. */
export function releaseHeld(record: AlertRecord, now: number, policy: AlertPolicy): AlertRecord | null {
  const p = record.pendingResolve;
  if (record.status !== 'firing' || !p) return null;
  const due = Math.max(p.since + policy.resolveHoldMs, (record.firingSince ?? 0) + policy.minFiringMs);
  if (now < due) return null;
  return { ...record, status: 'resolved', endsAt: Math.max(record.startsAt, p.endsAt), resolvedAt: now, pendingResolve: null };
}

/** Labels of a group alert: the group's labels, `foreshock_group`, `severity`, `alertname`. */
function groupLabels(id: string, event: AnomalyEvent, policy: AlertPolicy): Record<string, string> {
  const all = alertLabels(event, ALERTNAME_ANOMALY);
  const out: Record<string, string> = {};
  for (const k of policy.groupBy) {
    const v = groupValue(event, k);
    const name = k.replace(/[^a-zA-Z0-9_]/g, '_');
    if (v !== '') out[/^[0-9]/.test(name) ? '_' + name : name] = v;
  }
  out.foreshock_group = id.slice('group:'.length);
  out.severity = all.severity;
  out.alertname = all.alertname;
  return out;
}

function openGroup(event: AnomalyEvent, now: number, policy: AlertPolicy, closed: Record<string, number>): AlertRecord {
  const id = alertIdFor(event, policy);
  return {
    ...openRecord(event, now),
    id,
    labels: groupLabels(id, event, policy),
    host: policy.groupBy.includes('host') ? event.host : '',
    members: { [event.seriesKey]: event.startedAt },
    closed,
  };
}

/**
 * Group alerts: a member series joins with its anomaly episode and leaves with its resolve; the
 * alert opens with the first member and resolves (subject to the holds) when the last one left.
 */
function applyGroup(prev: AlertRecord | null, event: AnomalyEvent, now: number, policy: AlertPolicy): LifecycleResult {
  const s = event.seriesKey;
  const ep = event.startedAt;
  const closedAt = prev?.closed?.[s];
  if (event.kind === 'anomaly_resolved') {
    // The end of an episode no alert saw open: nothing to resolve (a group has no per-series record).
    if (prev === null) return { record: { ...openGroup(event, now, policy, {}), status: 'resolved', endsAt: event.ts, resolvedAt: now }, transition: 'stale' };
    const member = prev.members?.[s];
    if (member === undefined || member > ep) return { record: prev, transition: closedAt !== undefined && closedAt >= ep ? 'duplicate' : 'stale' };
    const members = { ...prev.members };
    delete members[s];
    const next: AlertRecord = {
      ...prev,
      members,
      closed: { ...prev.closed, [s]: ep },
      explanation: event.explanation,
      lastEventId: event.id,
      lastEventTs: Math.max(prev.lastEventTs, event.ts),
      lastEventAt: now,
    };
    if (Object.keys(members).length > 0) return { record: next, transition: 'updated' };
    const endsAt = Math.max(prev.startsAt, event.ts);
    if (held(policy)) return { record: hold(next, endsAt, now), transition: 'resolve_held' };
    return { record: { ...next, status: 'resolved', endsAt, resolvedAt: now }, transition: 'resolved' };
  }
  if (closedAt !== undefined && closedAt >= ep) return { record: prev!, transition: 'stale' };
  if (prev === null || prev.status === 'resolved') {
    const record = openGroup(event, now, policy, prev?.closed ?? {});
    return { record, transition: 'opened' };
  }
  if (event.id === prev.lastEventId || (prev.members?.[s] === ep && event.ts < prev.lastEventTs && event.kind === 'anomaly_opened')) {
    return { record: prev, transition: 'duplicate' };
  }
  const next: AlertRecord = {
    ...prev,
    members: { ...prev.members, [s]: Math.max(prev.members?.[s] ?? ep, ep) },
    explanation: event.explanation,
    lastEventId: event.id,
    lastEventTs: Math.max(prev.lastEventTs, event.ts),
    lastEventAt: now,
    pendingResolve: null,
  };
  const escalated = escalateBy(prev, next, event, now);
  return { record: escalated, transition: escalated.severity !== prev.severity ? 'escalated' : 'updated' };
}
