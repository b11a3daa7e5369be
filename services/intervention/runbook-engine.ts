// Runbooks of the intervention stage: matching events become runbook jobs (one per runbook and
// alert episode); guardrails (dry run, cooldown per target, concurrency per cluster, hourly
// budget, approval) decide; the signed webhook runs; then the alert must clear within the
// verify window, or the runbook failed and the alert escalates. Every step is audited.

import type { RunbookRule } from '../../shared/config/index.js';
import {
  RUNBOOK_EXECUTIONS_KEY,
  type AnomalyEvent,
  type AuditEntry,
  type RunbookApproval,
  type RunbookExecution,
} from '../../shared/model/index.js';
import type { Job, JobQueue, StateStore } from '../../shared/ports/index.js';
import type { AlertRecord } from './alert-lifecycle.js';
import type { AuditLog } from './audit-log.js';
import type { KeyedLock } from './keyed-lock.js';
import { DEFAULT_BODY, callWebhook, renderTemplate, ruleMatches, type TemplateContext } from './runbook-webhook.js';

export const RUNBOOK_JOB = 'intervention.runbook';
export const VERIFY_JOB = 'intervention.verify';
/** StateStore hash of guardrail state: `budget` → JSON start times, `cooldown/<runbook>/<target>` → until (ms). */
export const RUNBOOK_GUARD_KEY = 'fs:runbooks:guard';
const GUARD_LOCK = 'runbook-guard';
const HOUR_MS = 3600_000;
/** Finished executions are forgotten after this. */
const KEEP_FINISHED_MS = 7 * 24 * HOUR_MS;

export interface RunbookOptions {
  rules: RunbookRule[];
  dryRun: boolean;
  maxConcurrentPerCluster: number;
  hourlyBudget: number;
  clusterLabel: string;
  /** First retry delay cap of a webhook call, ms. Default 500. */
  webhookBackoffBaseMs?: number;
}

export interface RunbookJob {
  runbook: string;
  executionId: string;
  alertId: string;
  alertStartsAt: number;
  event: AnomalyEvent;
}

export interface RunbookStats {
  runbooksMatched: number;
  runbooksExecuted: number;
  runbooksSkipped: number;
  runbooksSucceeded: number;
  runbooksFailed: number;
  runbooksDryRun: number;
}

interface RunbookLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RunbookDeps {
  queue: JobQueue;
  store: StateStore;
  audit: AuditLog;
  logger: RunbookLogger;
  clock: () => number;
  locks: KeyedLock;
  /** The alert a runbook acts on, as it is now. */
  alert(id: string): Promise<AlertRecord | null>;
  /** Escalates the alert of a failed runbook (page, critical). */
  escalate(execution: RunbookExecution, reason: string): Promise<void>;
}

/** Execution id: one per runbook and anomaly episode of a series. */
export function executionIdOf(runbook: string, seriesKey: string, startedAt: number): string {
  return `${runbook}/${seriesKey}/${startedAt}`;
}

export class RunbookEngine {
  readonly stats: RunbookStats = { runbooksMatched: 0, runbooksExecuted: 0, runbooksSkipped: 0, runbooksSucceeded: 0, runbooksFailed: 0, runbooksDryRun: 0 };
  private readonly rules: Map<string, RunbookRule>;

  constructor(
    private readonly options: RunbookOptions,
    private readonly deps: RunbookDeps,
  ) {
    this.rules = new Map(options.rules.map((r) => [r.id, r]));
  }

  get enabled(): boolean {
    return this.rules.size > 0;
  }

  /** Queues a job for each rule the event matches (idempotent per runbook and series episode). */
  async enqueueMatches(event: AnomalyEvent, record: AlertRecord): Promise<void> {
    for (const rule of this.rules.values()) {
      if (!ruleMatches(rule, event)) continue;
      // Per series episode: in a group alert each member series gets its own remediation.
      const executionId = executionIdOf(rule.id, event.seriesKey, event.startedAt);
      const data: RunbookJob = { runbook: rule.id, executionId, alertId: record.id, alertStartsAt: record.startsAt, event };
      if (await this.deps.queue.add(RUNBOOK_JOB, `rb:${executionId}`, data)) this.stats.runbooksMatched++;
    }
  }

  /** Job handler of RUNBOOK_JOB: decide, then call. */
  async run(job: Job<RunbookJob>): Promise<void> {
    const d = job.data;
    const rule = this.rules.get(d.runbook);
    const base = { kind: 'runbook' as const, runbook: d.runbook, execution: d.executionId, alertId: d.alertId, seriesKey: d.event.seriesKey };
    if (rule === undefined) {
      await this.audit({ ...base, action: 'decide', outcome: 'skipped', detail: 'runbook no longer configured' });
      return;
    }
    const existing = await this.get(d.executionId);
    if (existing !== null) {
      // A worker died after the decision: resume a call in flight; anything else is decided.
      if (existing.status === 'running') await this.callAndFinish(rule, existing);
      return;
    }
    const now = this.deps.clock();
    const cluster = d.event.labels[this.options.clusterLabel] ?? '';
    const target = String(renderTemplate(rule.target, this.context(d.runbook, d.executionId, '', cluster, d.event)));
    const exec: RunbookExecution = {
      id: d.executionId, runbook: rule.id, alertId: d.alertId, alertStartsAt: d.alertStartsAt, seriesKey: d.event.seriesKey,
      target, cluster, status: 'running', event: d.event, createdAt: now, startedAt: null, finishedAt: null, verifyUntil: null,
      httpStatus: null, attempts: 0, error: null, approvedBy: null,
    };
    const entry = { ...base, target };
    if (this.options.dryRun) {
      exec.status = 'dry_run';
      exec.finishedAt = now;
      await this.save(exec);
      this.stats.runbooksDryRun++;
      const body = JSON.stringify(renderTemplate(rule.body ?? DEFAULT_BODY, this.context(rule.id, exec.id, target, cluster, d.event)));
      await this.audit({ ...entry, action: 'decide', outcome: 'dry_run', detail: `would POST ${rule.url}: ${body.slice(0, 1000)}` });
      return;
    }
    const decided = await this.deps.locks.run(GUARD_LOCK, async () => {
      const refused = await this.refusal(rule, target, cluster, now);
      if (refused !== null) return refused;
      if (rule.approval) {
        exec.status = 'pending_approval';
        await this.save(exec);
        return 'pending_approval';
      }
      await this.reserve(rule, exec, now);
      return null;
    });
    if (decided === 'pending_approval') {
      await this.audit({ ...entry, action: 'decide', outcome: 'pending_approval', detail: `POST /api/v1/runbooks/${encodeURIComponent(exec.id)}/approve runs it` });
      this.deps.logger.info({ runbook: rule.id, execution: exec.id, target }, 'runbook waits for approval');
      return;
    }
    if (decided !== null) {
      this.stats.runbooksSkipped++;
      await this.audit({ ...entry, action: 'decide', outcome: 'skipped', detail: decided });
      return;
    }
    await this.audit({ ...entry, action: 'decide', outcome: 'started' });
    await this.callAndFinish(rule, exec);
  }

  /** Job handler of RUNBOOK_APPROVED_JOB (added by the API): guardrails again, then the call. */
  async runApproved(job: Job<RunbookApproval>): Promise<void> {
    const a = job.data;
    const exec = await this.get(a.executionId);
    if (exec === null) return;
    if (exec.status === 'running') {
      const r = this.rules.get(exec.runbook);
      if (r !== undefined) await this.callAndFinish(r, exec);
      return;
    }
    if (exec.status !== 'pending_approval') return;
    const base = { kind: 'runbook' as const, runbook: exec.runbook, execution: exec.id, alertId: exec.alertId, seriesKey: exec.seriesKey, target: exec.target };
    const rule = this.rules.get(exec.runbook);
    const now = this.deps.clock();
    const alert = await this.deps.alert(exec.alertId);
    let refused: string | null = null;
    if (rule === undefined) refused = 'runbook no longer configured';
    else if (alert === null || alert.status !== 'firing' || alert.startsAt !== exec.alertStartsAt) refused = 'the alert cleared before the approval';
    else {
      refused = await this.deps.locks.run(GUARD_LOCK, async () => {
        const why = await this.refusal(rule, exec.target, exec.cluster, now);
        if (why === null) {
          exec.approvedBy = a.by;
          await this.reserve(rule, exec, now);
        }
        return why;
      });
    }
    if (refused !== null || rule === undefined) {
      exec.status = 'failed';
      exec.finishedAt = now;
      exec.approvedBy = a.by;
      exec.error = `not run after approval: ${refused}`;
      await this.save(exec);
      this.stats.runbooksSkipped++;
      await this.audit({ ...base, action: 'approve', outcome: 'skipped', detail: `approved by ${a.by}; ${refused}` });
      return;
    }
    await this.audit({ ...base, action: 'approve', outcome: 'started', detail: `approved by ${a.by}` });
    await this.callAndFinish(rule, exec);
  }

  /** Job handler of VERIFY_JOB: the verify window of an execution ended. */
  async runVerify(job: Job<{ executionId: string }>): Promise<void> {
    await this.verify(job.data.executionId, this.deps.clock(), false);
  }

  /** The alert of `record` resolved: executions verifying on its episode succeeded. */
  async alertResolved(record: AlertRecord): Promise<void> {
    if (!this.enabled) return;
    for (const e of await this.list()) {
      if (e.alertId === record.id && e.alertStartsAt === record.startsAt && e.status === 'verifying') await this.verify(e.id, this.deps.clock(), true);
    }
  }

  /** Periodic: verifications whose job was lost (embedded queue restarted), and forgetting old executions. */
  async sweep(now: number): Promise<void> {
    if (!this.enabled) return;
    const forget: string[] = [];
    for (const e of await this.list()) {
      if (e.status === 'verifying' && e.verifyUntil !== null && now > e.verifyUntil + 60_000) await this.verify(e.id, now, false);
      else if (e.status === 'running' && e.startedAt !== null && now - e.startedAt > this.callBudgetMs(e.runbook)) await this.interrupted(e.id, now);
      else if (e.finishedAt !== null && now - e.finishedAt > KEEP_FINISHED_MS) forget.push(e.id);
    }
    if (forget.length > 0) await this.deps.store.hdel(RUNBOOK_EXECUTIONS_KEY, forget);
  }

  /** Longest a call with all its attempts can take, plus a margin: past it a `running` execution lost its worker. */
  private callBudgetMs(runbook: string): number {
    const r = this.rules.get(runbook);
    return r === undefined ? 0 : r.attempts * (r.timeoutMs + 30_000) + 5 * 60_000;
  }

  /**
   * A call whose worker stopped (the embedded queue loses its job): it counts as failed, as it may
   * or may not have reached the target; the alert escalates rather than the fix being repeated.
   */
  private async interrupted(id: string, now: number): Promise<void> {
    const exec = await this.deps.locks.run(`exec:${id}`, async () => {
      const e = await this.get(id);
      if (e === null || e.status !== 'running' || e.startedAt === null || now - e.startedAt <= this.callBudgetMs(e.runbook)) return null;
      e.status = 'failed';
      e.finishedAt = now;
      e.error = 'interrupted: the worker stopped during the webhook call';
      await this.save(e);
      return e;
    });
    if (exec === null) return;
    this.stats.runbooksFailed++;
    await this.audit({ kind: 'runbook', action: 'webhook', outcome: 'failed', runbook: exec.runbook, execution: exec.id, alertId: exec.alertId, seriesKey: exec.seriesKey, target: exec.target, detail: exec.error! });
    await this.deps.escalate(exec, exec.error!);
  }

  private async verify(id: string, now: number, resolvedNow: boolean): Promise<void> {
    const failed = await this.deps.locks.run(`exec:${id}`, async () => {
      const exec = await this.get(id);
      if (exec === null || exec.status !== 'verifying') return null;
      const alert = await this.deps.alert(exec.alertId);
      const cleared =
        resolvedNow ||
        alert === null ||
        alert.status === 'resolved' ||
        alert.startsAt !== exec.alertStartsAt ||
        Boolean(alert.pendingResolve) ||
        (alert.members !== undefined && alert.members[exec.seriesKey] !== exec.event.startedAt);
      exec.status = cleared ? 'succeeded' : 'failed';
      exec.finishedAt = now;
      if (!cleared) exec.error = `the anomaly did not clear within ${Math.round((this.rules.get(exec.runbook)?.verifyWindowMs ?? 0) / 1000)} s`;
      await this.save(exec);
      return { exec, cleared };
    });
    if (failed === null) return;
    const { exec, cleared } = failed;
    await this.audit({
      kind: 'runbook', action: 'verify', outcome: cleared ? 'succeeded' : 'failed', runbook: exec.runbook, execution: exec.id,
      alertId: exec.alertId, seriesKey: exec.seriesKey, target: exec.target, detail: exec.error ?? 'the alert cleared',
    });
    if (cleared) {
      this.stats.runbooksSucceeded++;
      return;
    }
    this.stats.runbooksFailed++;
    this.deps.logger.warn({ runbook: exec.runbook, execution: exec.id, alert: exec.alertId }, 'runbook did not fix the anomaly; escalating');
    await this.deps.escalate(exec, exec.error!);
  }

  /** Why the guardrails refuse a run now, or null. Called under the guard lock. */
  private async refusal(rule: RunbookRule, target: string, cluster: string, now: number): Promise<string | null> {
    const until = Number(await this.deps.store.hget(RUNBOOK_GUARD_KEY, `cooldown/${rule.id}/${target}`) ?? 0);
    if (until > now) return `cooldown: ${rule.id} ran on ${target} recently (until ${new Date(until).toISOString()})`;
    let running = 0;
    for (const e of await this.list()) {
      if (e.cluster === cluster && (e.status === 'running' || e.status === 'verifying')) running++;
    }
    if (running >= this.options.maxConcurrentPerCluster) {
      return `concurrency: ${running} remediation(s) running or verifying in cluster "${cluster}" (max ${this.options.maxConcurrentPerCluster})`;
    }
    const used = (await this.budget()).filter((t) => t > now - HOUR_MS);
    if (used.length >= this.options.hourlyBudget) return `budget: ${used.length} remediation(s) in the last hour (max ${this.options.hourlyBudget})`;
    return null;
  }

  /** Takes the cooldown and a budget slot and records the execution as running. Under the guard lock. */
  private async reserve(rule: RunbookRule, exec: RunbookExecution, now: number): Promise<void> {
    const used = (await this.budget()).filter((t) => t > now - HOUR_MS);
    used.push(now);
    exec.status = 'running';
    exec.startedAt = now;
    await this.save(exec);
    await this.deps.store.hset(RUNBOOK_GUARD_KEY, {
      budget: JSON.stringify(used),
      [`cooldown/${rule.id}/${exec.target}`]: String(now + rule.cooldownMs),
    });
  }

  private async callAndFinish(rule: RunbookRule, started: RunbookExecution): Promise<void> {
    const ctx = this.context(rule.id, started.id, started.target, started.cluster, started.event);
    const body = JSON.stringify(renderTemplate(rule.body ?? DEFAULT_BODY, ctx));
    const base = { kind: 'runbook' as const, runbook: rule.id, execution: started.id, alertId: started.alertId, seriesKey: started.seriesKey, target: started.target };
    this.stats.runbooksExecuted++;
    const res = await callWebhook(rule, started.id, body, this.deps.clock, async (a) => {
      const ok = a.status >= 200 && a.status < 300;
      await this.audit({ ...base, action: 'webhook', outcome: ok ? 'ok' : 'failed', status: a.status, attempt: a.attempt, detail: `${rule.url}: ${a.message}` });
    }, this.options.webhookBackoffBaseMs ?? 500);
    const now = this.deps.clock();
    const exec = await this.deps.locks.run(`exec:${started.id}`, async () => {
      const e = (await this.get(started.id)) ?? started;
      e.httpStatus = res.status;
      e.attempts += res.attempts.length;
      if (res.ok) {
        e.status = 'verifying';
        e.verifyUntil = now + rule.verifyWindowMs;
      } else {
        e.status = 'failed';
        e.finishedAt = now;
        e.error = `webhook failed: ${res.attempts[res.attempts.length - 1]?.message ?? 'no attempt'}`;
      }
      await this.save(e);
      return e;
    });
    if (res.ok) {
      await this.deps.queue.add(VERIFY_JOB, `verify:${exec.id}`, { executionId: exec.id }, { delayMs: rule.verifyWindowMs });
      return;
    }
    this.stats.runbooksFailed++;
    await this.deps.escalate(exec, exec.error!);
  }

  private context(runbook: string, execution: string, target: string, cluster: string, event: AnomalyEvent): TemplateContext {
    return { runbook, execution, target, cluster, event };
  }

  private async budget(): Promise<number[]> {
    const raw = await this.deps.store.hget(RUNBOOK_GUARD_KEY, 'budget');
    return raw === null ? [] : (JSON.parse(raw) as number[]);
  }

  private async get(id: string): Promise<RunbookExecution | null> {
    const raw = await this.deps.store.hget(RUNBOOK_EXECUTIONS_KEY, id);
    return raw === null ? null : (JSON.parse(raw) as RunbookExecution);
  }

  private async save(e: RunbookExecution): Promise<void> {
    await this.deps.store.hset(RUNBOOK_EXECUTIONS_KEY, { [e.id]: JSON.stringify(e) });
  }

  private async list(): Promise<RunbookExecution[]> {
    return Object.values(await this.deps.store.hgetall(RUNBOOK_EXECUTIONS_KEY)).map((v) => JSON.parse(v) as RunbookExecution);
  }

  private async audit(e: Omit<AuditEntry, 'at'>): Promise<void> {
    await this.deps.audit.append({ at: this.deps.clock(), ...e });
  }
}


