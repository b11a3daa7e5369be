// The web page at /: static HTML, JS and CSS (no build step) that draw the risk board, recent
// anomalies and a series chart from the query API. Assets are read once at start-up.

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const ASSETS: Record<string, string> = {
  'page.js': 'text/javascript; charset=utf-8',
  'page.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** The page directory: next to this file in the sources, or back in the sources from dist/. */
function pageDir(): string {
  for (const rel of ['./page/', '../../../services/api/page/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + 'index.html')) return dir;
  }
  throw new Error('web page assets (services/api/page) not found');
}

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  const dir = pageDir();
  const index = readFileSync(dir + 'index.html');
  const files = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(dir + name)]));
  const pub = { access: 'public' as const };
  app.get('/', { config: pub, schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(index));
  app.get('/assets/:name', { config: pub, schema: { hide: true } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const body = files.get(name);
    if (body === undefined) return reply.status(404).send({ code: 'FS_NOT_FOUND', message: `no asset ${name}` });
    return reply.type(ASSETS[name]).header('Cache-Control', 'no-cache').send(body);
  });
}
