// Runbook executions and their approval: GET /api/v1/runbooks lists executions, POST
// /api/v1/runbooks/{id}/approve approves one that waits. The API never calls the intervention
// stage: it records the approval in the StateStore and queues the job the stage runs.

import type { FastifyInstance } from 'fastify';
import { ForeshockError, NotFoundError } from '../../shared/errors/index.js';
import {
  RUNBOOK_APPROVALS_KEY,
  RUNBOOK_APPROVED_JOB,
  RUNBOOK_EXECUTIONS_KEY,
  type RunbookApproval,
  type RunbookExecution,
} from '../../shared/model/index.js';
import type { JobQueue, StateStore } from '../../shared/ports/index.js';

export interface RunbookRoutesDeps {
  store: StateStore;
  queue: JobQueue;
  clock?: () => number;
}

const STATUSES = ['pending_approval', 'running', 'verifying', 'succeeded', 'failed', 'dry_run'];

export async function runbookRoutes(app: FastifyInstance, deps: RunbookRoutesDeps): Promise<void> {
  const clock = deps.clock ?? Date.now;

  app.get('/api/v1/runbooks', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: STATUSES },
          runbook: { type: 'string', maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
      },
      response: {
        200: {
          description: 'Runbook executions, newest first.',
          type: 'object',
          properties: { executions: { type: 'array', items: { type: 'object', additionalProperties: true } } },
          example: {
            executions: [{
              id: 'restart-collector/otelcol_exporter_queue_size{host="web-1"}/1767225600000', runbook: 'restart-collector', status: 'pending_approval',
              target: 'web-1', cluster: 'eu-1', alertId: 'anomaly:otelcol_exporter_queue_size{host="web-1"}', createdAt: 1767225600000,
            }],
          },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { status?: string; runbook?: string; limit: number };
    const all = Object.values(await deps.store.hgetall(RUNBOOK_EXECUTIONS_KEY)).map((v) => JSON.parse(v) as RunbookExecution);
    const executions = all
      .filter((e) => (q.status === undefined || e.status === q.status) && (q.runbook === undefined || e.runbook === q.runbook))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, q.limit);
    return { executions };
  });

  app.post('/api/v1/runbooks/:id/approve', {
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 8192 } } },
      body: {
        anyOf: [
          { type: 'object', additionalProperties: false, properties: { by: { type: 'string', minLength: 1, maxLength: 200 } } },
          { type: 'null' },
        ],
      },
      response: {
        202: {
          description: 'Approved: the intervention worker runs it (guardrails are checked again).',
          type: 'object',
          properties: { id: { type: 'string' }, status: { type: 'string' }, queued: { type: 'boolean' } },
          example: { id: 'restart-collector/otelcol_exporter_queue_size{host="web-1"}/1767225600000', status: 'approved', queued: true },
        },
      },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const by = (req.body as { by?: string } | null)?.by ?? 'api';
    const raw = await deps.store.hget(RUNBOOK_EXECUTIONS_KEY, id);
    if (raw === null) throw new NotFoundError('FS_RUNBOOK_EXECUTION', `params/id: no runbook execution "${id}"`);
    const exec = JSON.parse(raw) as RunbookExecution;
    if (exec.status !== 'pending_approval') {
      throw new ForeshockError('FS_RUNBOOK_NOT_PENDING', `params/id: execution "${id}" is ${exec.status}, not pending_approval`, 409);
    }
    const approval: RunbookApproval = { executionId: id, by, at: clock() };
    await deps.store.hset(RUNBOOK_APPROVALS_KEY, { [id]: JSON.stringify(approval) });
    // Idempotent by id: approving twice queues one run.
    const queued = await deps.queue.add(RUNBOOK_APPROVED_JOB, `approve:${id}`, approval);
    return reply.status(202).send({ id, status: 'approved', queued });
  });
}
