// Runbooks of the intervention stage: which rule an event triggers, the JSON body it sends (a
// template filled from the event) and the signed webhook call with timeout and retries.

import { createHmac } from 'node:crypto';
import type { RunbookRule } from '../../shared/config/index.js';
import type { AnomalyEvent } from '../../shared/model/index.js';

/** Header carrying `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
export const SIGNATURE_HEADER = 'x-foreshock-signature';
/** Header carrying the signing time, unix seconds; receivers refuse old ones (replay). */
export const TIMESTAMP_HEADER = 'x-foreshock-timestamp';
/** Header carrying the execution id, so a receiver can drop a repeated call. */
export const EXECUTION_HEADER = 'x-foreshock-execution';

/** Whether `rule` acts on `event`. */
export function ruleMatches(rule: RunbookRule, event: AnomalyEvent): boolean {
  if (!rule.kinds.includes(event.kind)) return false;
  if (event.explanation.score < rule.minScore) return false;
  const hasForecast = event.explanation.forecast !== undefined;
  if (rule.forecast === 'only' && !hasForecast) return false;
  if (rule.forecast === 'never' && hasForecast) return false;
  for (const [k, v] of Object.entries(rule.labels)) {
    const actual = k === 'host' ? event.host || event.labels.host : event.labels[k];
    if (actual !== v) return false;
  }
  return true;
}

/** What templates can read: `{{host}}`, `{{series}}`, `{{labels.cluster}}`, `{{score}}`, `{{event.kind}}`, … */
export interface TemplateContext {
  runbook: string;
  execution: string;
  target: string;
  cluster: string;
  event: AnomalyEvent;
}

function lookup(ctx: TemplateContext, path: string): unknown {
  const e = ctx.event;
  const x = e.explanation;
  const top: Record<string, unknown> = {
    runbook: ctx.runbook,
    execution: ctx.execution,
    target: ctx.target,
    cluster: ctx.cluster,
    host: e.host,
    series: e.seriesKey,
    kind: e.kind,
    severity: e.severity,
    score: x.score,
    value: x.value,
    expected: x.expected,
    summary: x.summary,
    startedAt: new Date(e.startedAt).toISOString(),
    ts: new Date(e.ts).toISOString(),
    labels: e.labels,
    explanation: x,
    forecast: x.forecast ?? null,
    event: e,
  };
  let cur: unknown = top;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const WHOLE = /^\{\{\s*([A-Za-z0-9_.]+)\s*\}\}$/;
const PART = /\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g;

/** Fills a string: one placeholder alone keeps its value's JSON type; inside text it becomes text; unknown names become ''. */
function fill(s: string, ctx: TemplateContext): unknown {
  const whole = WHOLE.exec(s);
  if (whole) {
    const v = lookup(ctx, whole[1]);
    return v === undefined ? '' : structuredClone(v);
  }
  return s.replace(PART, (_m, p: string) => {
    const v = lookup(ctx, p);
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

/** The body template with every string filled from `ctx` (keys are filled too). No code runs: only lookups. */
export function renderTemplate(template: unknown, ctx: TemplateContext): unknown {
  if (typeof template === 'string') return fill(template, ctx);
  if (Array.isArray(template)) return template.map((t) => renderTemplate(t, ctx));
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) out[String(fill(k, ctx))] = renderTemplate(v, ctx);
    return out;
  }
  return template;
}

/** Body sent when a rule has none. */
export const DEFAULT_BODY = {
  runbook: '{{runbook}}',
  execution: '{{execution}}',
  target: '{{target}}',
  cluster: '{{cluster}}',
  series: '{{series}}',
  labels: '{{labels}}',
  kind: '{{kind}}',
  severity: '{{severity}}',
  summary: '{{summary}}',
  explanation: '{{explanation}}',
};

/** `sha256=<hex>` over `<timestampS>.<body>`, the value of SIGNATURE_HEADER. */
export function signature(secret: string, timestampS: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex');
}

export interface WebhookAttempt {
  attempt: number;
  /** 0 without a response. */
  status: number;
  message: string;
}

export interface WebhookResult {
  ok: boolean;
  status: number;
  attempts: WebhookAttempt[];
}

/**
 * POSTs `body` (already JSON) to the rule's URL, signed anew on each attempt, up to
 * `rule.attempts` times; 5xx, 408, 429 and network errors are retried after a capped exponential
 * backoff with full jitter, other answers end it. `onAttempt` sees each attempt (the audit).
 */
export async function callWebhook(
  rule: RunbookRule, executionId: string, body: string, clock: () => number,
  onAttempt: (a: WebhookAttempt) => Promise<void>, backoffBaseMs = 500,
): Promise<WebhookResult> {
  const attempts: WebhookAttempt[] = [];
  for (let attempt = 1; attempt <= rule.attempts; attempt++) {
    const ts = Math.floor(clock() / 1000);
    let status = 0;
    let message: string;
    try {
      const res = await fetch(rule.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'foreshock',
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signature(rule.secret, ts, body),
          [EXECUTION_HEADER]: executionId,
        },
        body,
        redirect: 'manual', // a redirect could leave the allow-list
        signal: AbortSignal.timeout(rule.timeoutMs),
      });
      status = res.status;
      const text = await res.text().catch(() => '');
      message = `HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      message = e.name === 'TimeoutError' ? `timed out after ${rule.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const a = { attempt, status, message };
    attempts.push(a);
    await onAttempt(a);
    if (status >= 200 && status < 300) return { ok: true, status, attempts };
    const retryable = status === 0 || status >= 500 || status === 408 || status === 429;
    if (!retryable || attempt === rule.attempts) return { ok: false, status, attempts };
    const cap = Math.min(30_000, backoffBaseMs * 2 ** (attempt - 1));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * cap)));
  }
  return { ok: false, status: 0, attempts };
}
