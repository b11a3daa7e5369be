// A remediation endpoint for the runbook tests: verifies each call's HMAC-SHA256 signature and
// timestamp like a real receiver would, holds each call a while, and records concurrency.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalHttpServer, readBody } from '../../support/local-http.js';

/** Verifies `sha256=<hex>` over `<timestamp>.<body>` and that the timestamp is within `toleranceS`. */
export function verifySignature(secret: string, header: string | undefined, timestamp: string | undefined, body: string, nowS: number, toleranceS = 300): boolean {
  if (!header?.startsWith('sha256=') || timestamp === undefined || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const want = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  const got = Buffer.from(header.slice(7), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface WebhookCall {
  at: number;
  path: string;
  body: Record<string, unknown>;
  execution: string;
  signatureValid: boolean;
  status: number;
}

export class WebhookReceiver {
  readonly calls: WebhookCall[] = [];
  /** Statuses to answer next, in order (then 200). */
  script: number[] = [];
  holdMs = 0;
  private inFlight = new Map<string, number>();
  /** Highest number of calls in flight at once, per value of body[groupField]. */
  readonly maxInFlight = new Map<string, number>();
  private readonly http = new LocalHttpServer((req, res) => void this.handle(req, res));
  port = 0;

  constructor(
    private readonly secret: string,
    private readonly groupField = 'cluster',
  ) {}

  url(path = '/hooks/restart'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  get invalid(): WebhookCall[] {
    return this.calls.filter((c) => !c.signatureValid);
  }

  async start(): Promise<this> {
    this.port = await this.http.start();
    return this;
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    const valid = verifySignature(
      this.secret,
      req.headers['x-foreshock-signature'] as string | undefined,
      req.headers['x-foreshock-timestamp'] as string | undefined,
      raw,
      Math.floor(Date.now() / 1000),
    );
    const body = JSON.parse(raw) as Record<string, unknown>;
    const group = String(body[this.groupField] ?? '');
    const n = (this.inFlight.get(group) ?? 0) + 1;
    this.inFlight.set(group, n);
    this.maxInFlight.set(group, Math.max(this.maxInFlight.get(group) ?? 0, n));
    const status = valid ? (this.script.shift() ?? 200) : 401;
    this.calls.push({ at: Date.now(), path: req.url ?? '', body, execution: String(req.headers['x-foreshock-execution'] ?? ''), signatureValid: valid, status });
    if (this.holdMs > 0) await new Promise((r) => setTimeout(r, this.holdMs));
    this.inFlight.set(group, (this.inFlight.get(group) ?? 1) - 1);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
  }
}
