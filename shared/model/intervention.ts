// What the intervention stage records and the API reads back: the audit log and runbook
// executions (both in the StateStore), and the job the API adds when a runbook is approved.

import type { AnomalyEvent } from './events.js';

/** StateStore log of audit entries (JSON AuditEntry), newest last. */
export const AUDIT_LOG = 'fs:audit';
/** StateStore hash: one JSON RunbookExecution per execution id. */
export const RUNBOOK_EXECUTIONS_KEY = 'fs:runbooks:executions';
/** StateStore hash: execution id → JSON RunbookApproval, written by the API. */
export const RUNBOOK_APPROVALS_KEY = 'fs:runbooks:approvals';
/** JobQueue job the API adds (id = execution id, data = RunbookApproval) when a runbook is approved. */
export const RUNBOOK_APPROVED_JOB = 'intervention.runbook-approved';

export type AuditKind = 'alert' | 'notification' | 'runbook';
export const AUDIT_KINDS: readonly AuditKind[] = ['alert', 'notification', 'runbook'];

/**
 * One audit entry. `alert`: a transition (`action` = opened, resolved, escalated, …);
 * `notification`: one delivery attempt (`target` = alertmanager URL or `pagerduty/<route>`,
 * `status` = HTTP status, 0 without a response); `runbook`: a decision or execution step.
 */
export interface AuditEntry {
  /** Wall-clock ms. */
  at: number;
  kind: AuditKind;
  action: string;
  /** ok, failed, rejected, skipped, dry_run, pending_approval, … */
  outcome: string;
  alertId?: string;
  seriesKey?: string;
  target?: string;
  status?: number;
  attempt?: number;
  runbook?: string;
  execution?: string;
  detail?: string;
}

export type RunbookStatus = 'pending_approval' | 'running' | 'verifying' | 'succeeded' | 'failed' | 'dry_run';

export interface RunbookExecution {
  /** `<runbook>/<series key>/<episode start>`: one execution per runbook and anomaly episode of a series. */
  id: string;
  runbook: string;
  alertId: string;
  /** startsAt of the alert episode it acts on. */
  alertStartsAt: number;
  seriesKey: string;
  target: string;
  cluster: string;
  status: RunbookStatus;
  /** The event that matched (template input). */
  event: AnomalyEvent;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** While verifying: the alert must have cleared by then. */
  verifyUntil: number | null;
  httpStatus: number | null;
  attempts: number;
  error: string | null;
  approvedBy: string | null;
}

export interface RunbookApproval {
  executionId: string;
  by: string;
  at: number;
}
