// GET /api/v1/audit: what the intervention stage did (alert transitions, notification attempts,
// runbook steps), read from the audit log in the StateStore, newest first, in pages.

import type { FastifyInstance } from 'fastify';
import { AUDIT_KINDS, AUDIT_LOG, type AuditEntry } from '../../shared/model/index.js';
import type { StateStore } from '../../shared/ports/index.js';

export interface AuditRoutesDeps {
  store: StateStore;
}

/** Entries scanned per request at most (filters that match little end early with a `next` cursor). */
const SCAN_MAX = 50_000;

export async function auditRoutes(app: FastifyInstance, deps: AuditRoutesDeps): Promise<void> {
  app.get('/api/v1/audit', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          since: { type: 'integer', minimum: 0, description: 'only entries at or after this time, ms since epoch' },
          alert: { type: 'string', maxLength: 8192, description: 'alert id' },
          series: { type: 'string', maxLength: 8192, description: 'series key' },
          kind: { type: 'string', enum: [...AUDIT_KINDS] },
          runbook: { type: 'string', maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          before: { type: 'string', maxLength: 64, description: 'cursor: the `next` of the previous page' },
        },
      },
      response: {
        200: {
          description: 'Audit entries, newest first; `next` is the cursor of the next page (null at the end).',
          type: 'object',
          properties: {
            entries: { type: 'array', items: { type: 'object', additionalProperties: true } },
            next: { type: ['string', 'null'] },
          },
          example: {
            entries: [
              { id: '1767225600000-00000000000000000003', at: 1767225600000, kind: 'notification', action: 'pagerduty.trigger', outcome: 'ok', target: 'pagerduty/sre', status: 202, attempt: 1, alertId: 'anomaly:node_load1{host="web-1"}', seriesKey: 'node_load1{host="web-1"}', detail: 'dedup_key foreshock/anomaly:node_load1{host="web-1"}' },
              { id: '1767225600000-00000000000000000002', at: 1767225600000, kind: 'alert', action: 'opened', outcome: 'firing', alertId: 'anomaly:node_load1{host="web-1"}', seriesKey: 'node_load1{host="web-1"}' },
            ],
            next: '1767225600000-00000000000000000002',
          },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { since?: number; alert?: string; series?: string; kind?: string; runbook?: string; limit: number; before?: string };
    const entries: (AuditEntry & { id: string })[] = [];
    let before = q.before;
    let scanned = 0;
    let next: string | null = null;
    let exhausted = false;
    while (entries.length < q.limit && scanned < SCAN_MAX) {
      const page = await deps.store.range(AUDIT_LOG, 500, before);
      if (page.length === 0) {
        exhausted = true;
        break;
      }
      let stop = false;
      for (const { id, entry } of page) {
        scanned++;
        before = id;
        const e = JSON.parse(entry) as AuditEntry;
        if (q.since !== undefined && e.at < q.since) {
          // Newest first: everything further is older still.
          stop = true;
          break;
        }
        if (q.kind !== undefined && e.kind !== q.kind) continue;
        if (q.alert !== undefined && e.alertId !== q.alert) continue;
        if (q.series !== undefined && e.seriesKey !== q.series) continue;
        if (q.runbook !== undefined && e.runbook !== q.runbook) continue;
        entries.push({ id, ...e });
        if (entries.length >= q.limit) break;
      }
      if (stop) {
        exhausted = true;
        break;
      }
      if (page.length < 500 && entries.length < q.limit) {
        exhausted = true;
        break;
      }
    }
    if (!exhausted && before !== undefined) next = before;
    return { entries, next };
  });
}
