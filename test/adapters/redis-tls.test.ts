// Redis over TLS with a password from a file, as the config passes it through: a private
// redis-server (Debian's, built with TLS) on a free port with a throw-away CA made by openssl;
// Foreshock starts on it with state.kind=redis and queue.kind=bullmq, and refuses to when the
// CA does not match.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock } from '../../cli/app.js';
import { RedisStateStore } from '../../shared/adapters/redis/index.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { requireService } from '../support/services.js';
import { freePort, waitFor } from '../support/wait.js';

// The shared Redis proves redis-server is installed here; this suite runs its own.
const redis = requireService('redis');

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

describe.skipIf(!redis)('Redis over TLS (redis.url rediss://, redis.tlsCaFile, redis.passwordFile)', () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | null = null;
  const password = 'tls-test-secret';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'foreshock-redis-tls-'));
    openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=foreshock-test-ca');
    openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext');
    // a second CA that did not sign the server
    openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=other-ca');
    writeFileSync(join(dir, 'password'), `${password}\n`);
    port = await freePort();
    server = spawn('redis-server', [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
      '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.crt'),
      '--tls-auth-clients', 'no', '--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir,
    ], { stdio: 'ignore' });
    await waitFor(async () => {
      const probe = new RedisStateStore({ url: `rediss://127.0.0.1:${port}`, password, tls: { ca: spawnSync('cat', [join(dir, 'ca.crt')], { encoding: 'utf8' }).stdout }, connectTimeoutMs: 500, maxRetriesPerRequest: 0 });
      try {
        await probe.get('probe');
        return true;
      } catch {
        return null;
      } finally {
        await probe.close().catch(() => undefined);
      }
    }, 15_000);
  }, 60_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const config = (overrides: Record<string, string>) =>
    loadConfig({
      env: {
        FORESHOCK_SERVER_PORT: '0',
        FORESHOCK_STATE_KIND: 'redis',
        FORESHOCK_QUEUE_KIND: 'bullmq',
        FORESHOCK_REDIS_URL: `rediss://127.0.0.1:${port}`,
        FORESHOCK_REDIS_PASSWORD_FILE: join(dir, 'password'),
        FORESHOCK_REDIS_KEY_PREFIX: 'tls-test:',
        FORESHOCK_REDIS_QUEUE_PREFIX: 'tls-test-bull',
        FORESHOCK_SINK_KIND: 'none',
        ...overrides,
      },
    }).config;

  it('starts on a TLS Redis with the CA and the password from files, and serves from it', async () => {
    const app = await startForeshock(config({ FORESHOCK_REDIS_TLS_CA_FILE: join(dir, 'ca.crt') }), silentLogger());
    try {
      const ready = await waitFor(async () => ((await fetch(`${app.url}/readyz`)).status === 200 ? true : null), 20_000);
      expect(ready).toBe(true);
      // the API reads the risk board from the StateStore: a round trip over TLS
      const risks = await fetch(`${app.url}/api/v1/risks`);
      expect(risks.status).toBe(200);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('does not start against a server its CA did not sign', async () => {
    const started = startForeshock(config({ FORESHOCK_REDIS_TLS_CA_FILE: join(dir, 'other.crt') }), silentLogger());
    const outcome = await Promise.race([
      started.then(async (app) => {
        // started anyway (the store connects lazily): it must not be able to read
        try {
          return (await fetch(`${app.url}/api/v1/risks`)).status;
        } finally {
          await app.close();
        }
      }, (err: Error) => err.message),
      new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000)),
    ]);
    // Not started within 10 s (the TLS handshake fails and is retried), an error, or a 5xx: never
    // a store that works with a CA that did not sign the server.
    expect(typeof outcome === 'string' || outcome >= 500).toBe(true);
  }, 60_000);

  it('names the key when a secret file cannot be read', async () => {
    await expect(startForeshock(config({ FORESHOCK_REDIS_PASSWORD_FILE: join(dir, 'missing') }), silentLogger())).rejects.toThrow(/redis\.passwordFile/);
  });
});
