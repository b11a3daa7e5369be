// Alert policy on top of the per-series lifecycle: grouping (events of the series of one host,
// cluster or service fold into one alert) and anti-flapping (minimum firing time, resolve hold).

import { endsEpisode, eventFamily, rankedMembers, type AlertMember, type AnomalyEvent, type EventFamily } from '../../shared/model/index.js';
import { applyEvent, alertIdOf, openRecord, type AlertRecord, type LifecycleResult } from './alert-lifecycle.js';
import { ALERTNAME_ANOMALY, ALERTNAME_FORECAST, ALERTNAME_SATURATION } from './alert-names.js';

export interface AlertPolicy {
  /** Labels whose values name the group of an event (`host` is the event's host); empty: one alert per series. */
  groupBy: readonly string[];
  /**
   * Labels a group alert also carries, from the event that opened it (cluster, service, job,
   * env: what Alertmanager routes and inhibits on). Default none.
   */
  carryLabels?: readonly string[];
  /** An alert fires at least this long (wall clock), ms. */
  minFiringMs: number;
  /** A resolve waits this long; a new anomaly meanwhile keeps the alert firing, ms. */
  resolveHoldMs: number;
}

export const NO_POLICY: AlertPolicy = Object.freeze({ groupBy: [], minFiringMs: 0, resolveHoldMs: 0 });

function groupValue(event: AnomalyEvent, label: string): string {
  return label === 'host' ? event.host || event.labels.host || '' : event.labels[label] ?? '';
}

/** `group:cluster=db,service=api` for grouped events (every family: anomalies, forecasts, saturations); else the per-series id. */
export function alertIdFor(event: AnomalyEvent, policy: AlertPolicy): string {
  if (policy.groupBy.length === 0) return alertIdOf(event);
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
  if (policy.groupBy.length > 0) return applyGroup(prev, event, now, policy);
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

/** Key of a member: the anomaly episodes of a series keep its key, its forecast and saturation are their own members. */
export function memberKeyOf(event: AnomalyEvent): string {
  const f = eventFamily(event.kind);
  return f === 'anomaly' ? event.seriesKey : `${f}:${event.seriesKey}`;
}

/** Events without a role (older versions) page as they always did. */
function pagesOf(event: AnomalyEvent): boolean {
  return event.pages ?? true;
}

function memberOf(event: AnomalyEvent): AlertMember {
  return {
    family: eventFamily(event.kind),
    seriesKey: event.seriesKey,
    metric: event.labels.__name__ ?? '',
    pages: pagesOf(event),
    severity: event.severity,
    score: event.explanation.score,
    summary: event.explanation.summary,
    ts: event.ts,
  };
}

const ALERTNAME_OF: Record<EventFamily, string> = {
  anomaly: ALERTNAME_ANOMALY,
  forecast: ALERTNAME_FORECAST,
  saturation: ALERTNAME_SATURATION,
};

/** Labels of a group alert: the group's labels, `foreshock_group`, `severity`, `alertname` (of the member that opened it). */
function groupLabels(id: string, event: AnomalyEvent, policy: AlertPolicy): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of policy.groupBy) {
    const v = groupValue(event, k);
    const name = k.replace(/[^a-zA-Z0-9_]/g, '_');
    if (v !== '') out[/^[0-9]/.test(name) ? '_' + name : name] = v;
  }
  for (const k of policy.carryLabels ?? []) {
    const v = event.labels[k];
    const name = k.replace(/[^a-zA-Z0-9_]/g, '_');
    if (v !== undefined && v !== '' && !(name in out)) out[/^[0-9]/.test(name) ? '_' + name : name] = v;
  }
  out.foreshock_group = id.slice('group:'.length);
  out.severity = event.severity;
  out.alertname = ALERTNAME_OF[eventFamily(event.kind)];
  return out;
}

function pagingMembers(info: Record<string, AlertMember>, members: Record<string, number>): number {
  let n = 0;
  for (const k of Object.keys(members)) if (info[k]?.pages ?? true) n++;
  return n;
}

function openGroup(event: AnomalyEvent, now: number, policy: AlertPolicy, prev: AlertRecord | null): AlertRecord {
  const id = alertIdFor(event, policy);
  const k = memberKeyOf(event);
  // Context members still open when the alert opens are listed from the start.
  const members: Record<string, number> = {};
  const memberInfo: Record<string, AlertMember> = {};
  for (const [m, ep] of Object.entries(prev?.members ?? {})) {
    members[m] = ep;
    const info = prev?.memberInfo?.[m];
    if (info !== undefined) memberInfo[m] = info;
  }
  members[k] = event.startedAt;
  memberInfo[k] = memberOf(event);
  return {
    ...openRecord(event, now),
    id,
    alertname: ALERTNAME_OF[eventFamily(event.kind)],
    labels: groupLabels(id, event, policy),
    host: policy.groupBy.includes('host') ? event.host : '',
    members,
    memberInfo,
    closed: prev?.closed ?? {},
    quiet: false,
  };
}

/** Entries of `closed` kept per alert (the oldest are dropped: a replay that old is long gone). */
const CLOSED_KEPT = 1000;

function closedWith(closed: Record<string, number> | undefined, key: string, ep: number): Record<string, number> {
  const next = { ...closed, [key]: ep };
  const keys = Object.keys(next);
  if (keys.length > CLOSED_KEPT) {
    keys.sort((a, b) => next[a] - next[b]);
    for (const k of keys.slice(0, keys.length - CLOSED_KEPT)) delete next[k];
  }
  return next;
}

/**
 * Group alerts (one page per incident): a member series joins with its episode (anomaly,
 * forecast breach or saturation) and leaves when it ends. Only a member that pages (a signal,
 * the kind of event its catalogue entry pages on, the direction that matters) opens the alert;
 * context members join a firing alert, or wait in a quiet record (never sent) so that an alert
 * opening later lists them too. The alert resolves (subject to the holds) when the last paging
 * member left.
 */
function applyGroup(prev: AlertRecord | null, event: AnomalyEvent, now: number, policy: AlertPolicy): LifecycleResult {
  const s = memberKeyOf(event);
  const ep = event.startedAt;
  const closedAt = prev?.closed?.[s];
  const firing = prev !== null && prev.status === 'firing';
  if (endsEpisode(event.kind)) {
    // The end of an episode no alert saw open: nothing to resolve (a group has no per-series record).
    if (prev === null) return { record: { ...openGroup(event, now, policy, null), status: 'resolved', endsAt: event.ts, resolvedAt: now, quiet: true }, transition: 'stale' };
    const member = prev.members?.[s];
    const sameEpisode = member !== undefined && (member <= ep || eventFamily(event.kind) !== 'anomaly');
    if (!sameEpisode) return { record: prev, transition: closedAt !== undefined && closedAt >= ep ? 'duplicate' : 'stale' };
    const members = { ...prev.members };
    delete members[s];
    const memberInfo = { ...prev.memberInfo };
    delete memberInfo[s];
    const next: AlertRecord = {
      ...prev,
      members,
      memberInfo,
      closed: closedWith(prev.closed, s, ep),
      lastEventId: event.id,
      lastEventTs: Math.max(prev.lastEventTs, event.ts),
      lastEventAt: now,
    };
    if (!firing) return { record: next, transition: 'noted' };
    if (pagingMembers(memberInfo, members) > 0) return { record: { ...next, explanation: strongestExplanation(next, prev.explanation) }, transition: 'updated' };
    const endsAt = Math.max(prev.startsAt, event.ts);
    if (held(policy)) return { record: hold(next, endsAt, now), transition: 'resolve_held' };
    return { record: { ...next, status: 'resolved', endsAt, resolvedAt: now }, transition: 'resolved' };
  }
  if (closedAt !== undefined && closedAt >= ep) return { record: prev!, transition: 'stale' };
  const pages = pagesOf(event);
  if (!firing) {
    if (pages) return { record: openGroup(event, now, policy, prev), transition: 'opened' };
    // A context member with nothing paging: remembered, not sent.
    const base: AlertRecord = prev ?? { ...openGroup(event, now, policy, null), status: 'resolved', endsAt: event.ts, resolvedAt: null, quiet: true, members: {}, memberInfo: {} };
    if (base.members?.[s] === ep && base.memberInfo?.[s]?.ts !== undefined && event.ts <= base.memberInfo[s].ts) return { record: base, transition: 'duplicate' };
    return {
      record: { ...base, members: { ...base.members, [s]: ep }, memberInfo: { ...base.memberInfo, [s]: memberOf(event) }, lastEventAt: now },
      transition: 'noted',
    };
  }
  if (event.id === prev.lastEventId || (prev.members?.[s] === ep && event.ts < prev.lastEventTs && !event.kind.endsWith('_updated'))) {
    return { record: prev, transition: 'duplicate' };
  }
  const info = memberOf(event);
  // A member that paged keeps paging for the rest of its episode (an update in the other direction does not demote it).
  if (prev.memberInfo?.[s]?.pages && prev.members?.[s] === ep) info.pages = true;
  const next: AlertRecord = {
    ...prev,
    members: { ...prev.members, [s]: Math.max(prev.members?.[s] ?? ep, ep) },
    memberInfo: { ...prev.memberInfo, [s]: info },
    lastEventId: event.id,
    lastEventTs: Math.max(prev.lastEventTs, event.ts),
    lastEventAt: now,
    pendingResolve: null,
  };
  next.explanation = strongestExplanation(next, prev.explanation);
  // Only a paging member raises the alert's severity.
  const escalated = info.pages ? escalateBy(prev, next, event, now) : next;
  return { record: escalated, transition: escalated.severity !== prev.severity ? 'escalated' : 'updated' };
}

/** The explanation an alert shows first: its strongest paging member's, kept from the last one when it has none. */
function strongestExplanation(record: AlertRecord, fallback: AlertRecord['explanation']): AlertRecord['explanation'] {
  const top = rankedMembers(record)[0];
  if (top === undefined) return fallback;
  return { ...fallback, summary: top.summary, score: top.score };
}
