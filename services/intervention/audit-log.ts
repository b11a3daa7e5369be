// The intervention stage's audit trail: every alert transition, notification attempt and runbook
// step appended to a capped log in the StateStore (read back by GET /api/v1/audit).

import { AUDIT_LOG, type AuditEntry } from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';

export class AuditLog {
  /** Entries appended by this process. */
  appended = 0;

  constructor(
    private readonly store: StateStore,
    private readonly maxEntries: number,
    private readonly log: string = AUDIT_LOG,
  ) {}

  /** Appends one entry; a store error propagates (the job retries, so nothing goes unaudited). */
  async append(entry: AuditEntry): Promise<void> {
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) if (v !== undefined) clean[k] = v;
    await this.store.append(this.log, JSON.stringify(clean), this.maxEntries);
    this.appended++;
  }
}
