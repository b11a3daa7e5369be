// /docs: the OpenAPI document @fastify/swagger builds from the route schemas, as JSON
// (/docs/json) and as a light HTML view that renders it in the browser with no external assets.

import type { FastifyInstance } from 'fastify';

export const DOCS_HTML_ROUTE = '/docs';

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Foreshock API</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/docs/docs.css"></head>
<body><header><h1>Foreshock API</h1><p>OpenAPI 3 document: <a href="/docs/json">/docs/json</a></p></header>
<main id="ops"><p>loading…</p></main><script src="/docs/docs.js"></script></body></html>
`;

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1d232b;color:#fff;padding:12px 24px}header a{color:#9cd3ff}h1{margin:0;font-size:20px}
main{padding:12px 24px;max-width:1100px}section{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:12px 0;padding:10px 14px}
.m{display:inline-block;min-width:48px;font-weight:600;color:#fff;border-radius:4px;padding:1px 6px;text-align:center;margin-right:8px}
.get{background:#2b7bb9}.post{background:#3d9a50}.put,.delete{background:#b9532b}code,pre{font:12px/1.4 ui-monospace,monospace}
pre{background:#f1f3f6;padding:8px;overflow:auto;max-height:320px}table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
h2{font-size:15px;margin:4px 0}.tag{color:#68717d;font-size:12px}
`;

const JS = `'use strict';
(async function () {
  const main = document.getElementById('ops');
  const doc = await (await fetch('/docs/json')).json();
  main.textContent = '';
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const info = el('p', doc.info.description || ''); main.appendChild(info);
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const s = el('section'); const h = el('h2');
      h.appendChild(el('span', method.toUpperCase(), 'm ' + method)); h.appendChild(el('code', path));
      s.appendChild(h);
      if (op.tags) s.appendChild(el('div', op.tags.join(', '), 'tag'));
      if (op.summary) s.appendChild(el('p', op.summary));
      if (op.description) s.appendChild(el('p', op.description));
      if (op.parameters && op.parameters.length) {
        const t = el('table'); const hr = el('tr'); ['parameter', 'in', 'type', 'example', 'description'].forEach((x) => hr.appendChild(el('th', x))); t.appendChild(hr);
        for (const p of op.parameters) {
          const r = el('tr'); const sc = p.schema || {};
          [p.name + (p.required ? ' *' : ''), p.in, (sc.type || '') + (sc.enum ? ' (' + sc.enum.join('|') + ')' : ''), p.example !== undefined ? JSON.stringify(p.example) : (sc.example !== undefined ? JSON.stringify(sc.example) : ''), p.description || sc.description || ''].forEach((x) => r.appendChild(el('td', String(x))));
          t.appendChild(r);
        }
        s.appendChild(t);
      }
      const ok = op.responses && (op.responses['200'] || op.responses['204']);
      const media = ok && ok.content && ok.content['application/json'];
      const ex = media && (media.example !== undefined ? media.example : media.schema && media.schema.example);
      if (ex !== undefined) { s.appendChild(el('div', 'example response', 'tag')); s.appendChild(el('pre', JSON.stringify(ex, null, 2))); }
      main.appendChild(s);
    }
  }
})().catch((e) => { document.getElementById('ops').textContent = 'cannot load /docs/json: ' + e.message; });
`;

/** The document and its HTML view; public (the document holds no data). */
export async function docsRoutes(app: FastifyInstance): Promise<void> {
  const pub = { access: 'public' as const };
  app.get('/docs/json', { config: pub, schema: { hide: true } }, async () => app.swagger());
  app.get(DOCS_HTML_ROUTE, { config: pub, schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(HTML));
  app.get('/docs/docs.css', { config: pub, schema: { hide: true } }, async (_req, reply) => reply.type('text/css; charset=utf-8').send(CSS));
  app.get('/docs/docs.js', { config: pub, schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(JS));
}

const LP_EXAMPLE = 'cpu,host=web-1,cluster=eu-1,service=web usage_busy=0.42,load1=1.5 1767225600000000000\n';
const writeError = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, example: { code: 'FS_LP_FIELD', message: 'line 17: field value missing' } };
const lpQuery = {
  type: 'object',
  properties: {
    precision: { type: 'string', enum: ['ns', 'us', 'ms', 's'], description: 'timestamp precision (default ingest.defaultPrecision)', example: 'ns' },
    db: { type: 'string', description: 'InfluxDB 1.x database (accepted, unused)' },
    org: { type: 'string', description: 'InfluxDB 2 organisation (accepted, unused)' },
    bucket: { type: 'string', description: 'InfluxDB 2 bucket (accepted, unused)' },
  },
};
const lpDoc = (summary: string) => ({
  tags: ['write'],
  summary,
  description: 'InfluxDB line protocol as Telegraf sends it (gzip accepted). Every numeric field becomes series `<measurement>_<field>`. Needs a write token when auth is configured.',
  consumes: ['text/plain'],
  querystring: lpQuery,
  body: { type: 'string', example: LP_EXAMPLE },
  response: { 204: { description: 'accepted', type: 'null' }, 400: writeError, 401: writeError, 403: writeError, 413: writeError },
});

/**
 * OpenAPI text for the write endpoints and the InfluxDB probes, whose handlers read raw bodies (no body schema to
 * document them from): what a sender needs, with an example payload.
 */
export const WRITE_ROUTE_DOCS: Readonly<Record<string, Record<string, unknown>>> = {
  '/api/v1/write': {
    tags: ['write'],
    summary: 'Prometheus remote-write 1.0',
    description: 'Body: a snappy-compressed protobuf WriteRequest (Content-Encoding: snappy, Content-Type: application/x-protobuf). Needs a write token when auth is configured.',
    consumes: ['application/x-protobuf'],
    body: { type: 'string', format: 'binary', example: '<snappy-compressed prometheus.WriteRequest>' },
    response: { 204: { description: 'accepted', type: 'null' }, 400: writeError, 401: writeError, 403: writeError, 413: writeError, 415: writeError },
  },
  '/api/v2/write': lpDoc('InfluxDB 2 line protocol write'),
  '/write': lpDoc('InfluxDB 1.x line protocol write'),
  '/ping': {
    tags: ['write'],
    summary: 'InfluxDB ping (Telegraf and InfluxDB 1.x clients probe it before writing)',
    response: { 204: { description: 'up; header X-Influxdb-Version', type: 'null' } },
  },
  '/health': {
    tags: ['write'],
    summary: 'InfluxDB 2 health (probed by the influxdb_v2 output)',
    response: {
      200: {
        type: 'object',
        properties: { name: { type: 'string' }, status: { type: 'string' }, message: { type: 'string' } },
        example: { name: 'foreshock', status: 'pass', message: 'ready for writes' },
      },
    },
  },
};
