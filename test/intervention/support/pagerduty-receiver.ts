// Stands in for PagerDuty's Events API v2 (POST /v2/enqueue) in the tests: checks every request
// against the documented schema (developer.pagerduty.com, "Send an Alert Event"), answers as
// PagerDuty does (202 / 400 with errors), and can answer scripted statuses or hold a request.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpServer, readBody } from '../../support/local-http.js';

const TOP_FIELDS = new Set(['routing_key', 'event_action', 'dedup_key', 'payload', 'images', 'links', 'client', 'client_url']);
const PAYLOAD_FIELDS = new Set(['summary', 'source', 'severity', 'timestamp', 'component', 'group', 'class', 'custom_details']);
const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);
const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);
const ISO8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const MAX_BYTES = 512 * 1024;

/** Problems of one Events API v2 alert event body; empty when it is valid. */
export function pagerDutyProblems(raw: string): string[] {
  const p: string[] = [];
  if (Buffer.byteLength(raw) > MAX_BYTES) p.push('payload larger than 512 KB');
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return ['not JSON'];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['not an object'];
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TOP_FIELDS.has(k)) p.push(`unknown field ${k}`);
  if (typeof o.routing_key !== 'string' || o.routing_key.length !== 32) p.push('routing_key must be the 32 character integration key');
  if (typeof o.event_action !== 'string' || !ACTIONS.has(o.event_action)) p.push('event_action must be trigger, acknowledge or resolve');
  if (o.dedup_key !== undefined && (typeof o.dedup_key !== 'string' || o.dedup_key.length === 0 || o.dedup_key.length > 255)) {
    p.push('dedup_key must be a string of at most 255 characters');
  }
  if (o.event_action !== 'trigger' && o.dedup_key === undefined) p.push('dedup_key is required to acknowledge or resolve');
  if (o.event_action === 'trigger') {
    const pl = o.payload as Record<string, unknown> | undefined;
    if (typeof pl !== 'object' || pl === null || Array.isArray(pl)) p.push('payload is required for a trigger');
    else {
      for (const k of Object.keys(pl)) if (!PAYLOAD_FIELDS.has(k)) p.push(`unknown field payload.${k}`);
      if (typeof pl.summary !== 'string' || pl.summary.length === 0 || [...pl.summary].length > 1024) p.push('payload.summary must be 1-1024 characters');
      if (typeof pl.source !== 'string' || pl.source.length === 0) p.push('payload.source is required');
      if (typeof pl.severity !== 'string' || !SEVERITIES.has(pl.severity)) p.push('payload.severity must be critical, error, warning or info');
      if (pl.timestamp !== undefined && (typeof pl.timestamp !== 'string' || !ISO8601.test(pl.timestamp))) p.push('payload.timestamp must be ISO 8601');
      for (const k of ['component', 'group', 'class'] as const) if (pl[k] !== undefined && typeof pl[k] !== 'string') p.push(`payload.${k} must be a string`);
      if (pl.custom_details !== undefined && (typeof pl.custom_details !== 'object' || pl.custom_details === null || Array.isArray(pl.custom_details))) {
        p.push('payload.custom_details must be an object');
      }
    }
  }
  if (o.links !== undefined) {
    if (!Array.isArray(o.links)) p.push('links must be an array');
    else o.links.forEach((l: unknown, i) => {
      const x = l as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || typeof x.href !== 'string' || !URL.canParse(x.href)) p.push(`links[${i}].href must be a URL`);
      else if (x.text !== undefined && typeof x.text !== 'string') p.push(`links[${i}].text must be a string`);
    });
  }
  if (o.images !== undefined) {
    if (!Array.isArray(o.images)) p.push('images must be an array');
    else o.images.forEach((im: unknown, i) => {
      const x = im as Record<string, unknown>;
      if (typeof x !== 'object' || x === null || typeof x.src !== 'string' || !x.src.startsWith('https://')) p.push(`images[${i}].src must be an https URL`);
    });
  }
  for (const k of ['client', 'client_url'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') p.push(`${k} must be a string`);
  return p;
}

export interface ReceivedEvent {
  at: number;
  body: Record<string, unknown> & { routing_key: string; event_action: string; dedup_key?: string; payload?: Record<string, unknown> };
  /** Status answered; 0 while held. */
  status: number;
}

export class PagerDutyReceiver {
  readonly received: ReceivedEvent[] = [];
  /** Requests that failed the schema check, with their problems. */
  readonly invalid: { raw: string; problems: string[] }[] = [];
  /** Statuses to answer to the next requests, in order (then 202). */
  script: number[] = [];
  /** When set, the next matching request is held (never answered) and this is called. */
  holdNext: ((e: ReceivedEvent) => void) | null = null;
  private readonly http = new LocalHttpServer((req, res) => void this.handle(req, res));
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/enqueue`;
  }

  /** Requests answered 202, per action. */
  accepted(action?: string): ReceivedEvent[] {
    return this.received.filter((r) => r.status === 202 && (action === undefined || r.body.event_action === action));
  }

  async start(port = 0): Promise<this> {
    this.port = await this.http.start(port);
    return this;
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    if (req.method !== 'POST' || req.url !== '/v2/enqueue') return void res.writeHead(404).end();
    const problems = String(req.headers['content-type']).startsWith('application/json') ? pagerDutyProblems(raw) : ['content-type must be application/json'];
    if (problems.length > 0) {
      this.invalid.push({ raw, problems });
      return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: problems }));
    }
    const e: ReceivedEvent = { at: Date.now(), body: JSON.parse(raw) as ReceivedEvent['body'], status: 0 };
    this.received.push(e);
    if (this.holdNext !== null) {
      const cb = this.holdNext;
      this.holdNext = null;
      cb(e);
      return; // never answered: the sender dies or times out
    }
    const status = this.script.shift() ?? 202;
    e.status = status;
    if (status === 202) {
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: e.body.dedup_key }));
    } else if (status === 400) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: ['scripted'] }));
    } else {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'throttled', message: 'scripted' }));
    }
  }
}
