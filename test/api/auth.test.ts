// Bearer-token auth as senders and readers meet it: a write token for the receivers, a read
// token for the API and the page's data, configured as SHA-256 hashes (one from a file).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { loadConfig } from '../../shared/config/index.js';
import { tokenHash } from '../../shared/http/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { tempDataDir } from '../support/data-dir.js';

const READ = 'read-token-3f1c9a';
const WRITE = 'write-token-77be02';
const OTHER_READ = 'second-reader';
let fs: RunningForeshock;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fs-auth-'));
  const file = join(dir, 'read-hashes');
  writeFileSync(file, `# readers\n${tokenHash(OTHER_READ)}\n`);
  const { config } = loadConfig({
    env: {
      FORESHOCK_SERVER_HOST: '127.0.0.1',
      FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(),
      FORESHOCK_AUTH_READ_TOKENS: `${tokenHash(READ)},file:${file}`,
      FORESHOCK_AUTH_WRITE_TOKENS: tokenHash(WRITE).toUpperCase(),
    },
  });
  fs = await startForeshock(config, silentLogger());
});
afterAll(async () => {
  await fs?.close();
  rmSync(dir, { recursive: true, force: true });
});

const req = (path: string, token?: string, init: RequestInit = {}) =>
  fetch(fs.url + path, { ...init, headers: { ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }), ...(init.headers ?? {}) } });
const write = (token?: string) => req('/api/v2/write?precision=s', token, { method: 'POST', body: `authtest,host=a v=1 ${Math.floor(Date.now() / 1000)}\n` });

describe('read endpoints', () => {
  it('401 without a token, with a WWW-Authenticate challenge', async () => {
    const r = await req('/api/v1/risks');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await r.json()) as { code: string }).code).toBe('FS_AUTH_REQUIRED');
  });
  it('401 with an unknown token or a malformed header', async () => {
    expect((await req('/api/v1/anomalies', 'nope')).status).toBe(401);
    expect((await fetch(fs.url + '/api/v1/anomalies', { headers: { Authorization: `Basic ${READ}` } })).status).toBe(401);
  });
  it('403 for a write token', async () => {
    const r = await req('/api/v1/alerts', WRITE);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { code: string }).code).toBe('FS_AUTH_FORBIDDEN');
  });
  it('200 for a read token, also one whose hash came from a file', async () => {
    expect((await req('/api/v1/risks', READ)).status).toBe(200);
    expect((await req('/api/v1/anomalies', OTHER_READ)).status).toBe(200);
    expect((await req('/metrics', READ)).status).toBe(200);
  });
});

describe('write endpoints', () => {
  it('401 without a token, 403 for a read token, 204 for the write token', async () => {
    expect((await write()).status).toBe(401);
    expect((await write(READ)).status).toBe(403);
    expect((await write(WRITE)).status).toBe(204);
  });
  it('accepts the write token in the InfluxDB "Token" scheme Telegraf sends', async () => {
    const r = await fetch(`${fs.url}/api/v2/write?precision=s`, { method: 'POST', headers: { Authorization: `Token ${WRITE}` }, body: `authtest,host=b v=1 ${Math.floor(Date.now() / 1000)}\n` });
    expect(r.status).toBe(204);
  });
});

describe('public routes', () => {
  it('health, the page shell and the docs need no token', async () => {
    for (const p of ['/healthz', '/', '/assets/page.js', '/docs', '/docs/json']) expect((await req(p)).status, p).toBe(200);
  });
  it('counts refusals by reason', async () => {
    const text = await (await req('/metrics', READ)).text();
    expect(text).toMatch(/foreshock_auth_rejected_total\{reason="missing"\} [1-9]/);
    expect(text).toMatch(/foreshock_auth_rejected_total\{reason="forbidden"\} [1-9]/);
    expect(text).toMatch(/foreshock_auth_rejected_total\{reason="invalid"\} [1-9]/);
  });
});
