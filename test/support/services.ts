// Where the real servers of the integration tests are: the FORESHOCK_TEST_* addresses (from the
// environment, else from the .run/env that `npm run services -- up` writes), each checked to answer.
//
// Synchronous on purpose, so a test file can decide at module top level:
//   const kafka = requireService('kafka');
//   describe.skipIf(!kafka)('…', () => { … });
// The check runs in a short child process (a TCP connect, or `prometheus --version`), once per
// service and address per test process. A missing service is a skip locally, but an error when
// FORESHOCK_REQUIRE_SERVICES=1 (CI): there a suite must never pass by skipping.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServiceName = 'kafka' | 'redis' | 'alertmanager' | 'victoria' | 'prometheus' | 'node-exporter' | 'chromium';

/** The variable each service's address is read from, and what it holds. */
export const SERVICE_ENV: Readonly<Record<ServiceName, string>> = {
  kafka: 'FORESHOCK_TEST_KAFKA', // host:port of a broker
  redis: 'FORESHOCK_TEST_REDIS_URL', // redis://host:port
  alertmanager: 'FORESHOCK_TEST_ALERTMANAGER_URL', // http://host:port
  victoria: 'FORESHOCK_TEST_VICTORIA_URL', // http://host:port
  prometheus: 'FORESHOCK_TEST_PROMETHEUS_BIN', // path of the prometheus binary
  'node-exporter': 'FORESHOCK_TEST_NODE_EXPORTER_URL', // http://host:port
  chromium: 'FORESHOCK_TEST_CHROMIUM', // path of Debian's chromium (the page test drives it headless)
};

/** Its name for deploy/local/services.sh. */
const SCRIPT_NAME: Readonly<Record<ServiceName, string>> = {
  kafka: 'kafka',
  redis: 'redis',
  alertmanager: 'alertmanager',
  victoria: 'victoria-metrics',
  prometheus: 'prometheus',
  'node-exporter': 'node-exporter',
  chromium: 'chromium',
};

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE_TIMEOUT_MS = 5_000;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/;

/** name=value → why it is unusable ('' when it answered). */
const checked = new Map<string, string>();

/** The file services.sh writes; honours FORESHOCK_RUN_DIR like the script does. */
export function runEnvPath(): string {
  return join(process.env.FORESHOCK_RUN_DIR || join(REPO_ROOT, '.run'), 'env');
}

/** `export KEY=value` / `KEY=value` lines of the run env file; empty when there is none. */
function readRunEnv(): Record<string, string> {
  const path = runEnvPath();
  if (!existsSync(path)) return {};
  const vars: Record<string, string> = {};
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    vars[m[1]] = m[2].trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}

/**
 * The address of a test server, or null when it is not configured or does not answer (the caller
 * skips). With FORESHOCK_REQUIRE_SERVICES=1 it throws instead of returning null.
 * Returns: kafka `host:port`; redis `redis://host:port`; alertmanager, victoria, node-exporter
 * `http://host:port`; prometheus the binary's path. Only loopback addresses are accepted.
 */
export function requireService(name: ServiceName): string | null {
  const envVar = SERVICE_ENV[name];
  const fromEnv = process.env[envVar];
  const value = fromEnv || readRunEnv()[envVar] || '';
  const key = `${name}=${value}`;
  let why = checked.get(key);
  if (why === undefined) {
    if (!value) why = `${envVar} is not set and ${runEnvPath()} does not define it`;
    else {
      const problem = name === 'prometheus' || name === 'chromium' ? probeBinary(value) : probeAddress(name, value);
      why = problem ? `${envVar}=${value}${fromEnv ? '' : ` (from ${runEnvPath()})`}: ${problem}` : '';
    }
    checked.set(key, why);
  }
  return why ? missing(name, why) : value;
}

function missing(name: ServiceName, why: string): null {
  if (process.env.FORESHOCK_REQUIRE_SERVICES === '1') {
    throw new Error(
      `test server '${name}' is required (FORESHOCK_REQUIRE_SERVICES=1) but unavailable: ${why}. ` +
        (name === 'chromium' ? 'Install it with: npm run services -- install' : `Start it with: npm run services -- up ${SCRIPT_NAME[name]}`),
    );
  }
  return null;
}

/** host and port a service value points at; kafka may list several brokers, the first is probed. */
function hostPort(name: ServiceName, value: string): { host: string; port: number } {
  if (name === 'kafka') {
    const first = value.split(',')[0].trim();
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(first);
    if (!m) throw new Error(`expected host:port, got '${first}'`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }
  const url = new URL(value);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : url.protocol === 'redis:' ? 6379 : 80;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

// Connects and exits 0, or exits 1; argv: host port timeout_ms.
const TCP_PROBE = `
const [host, port, ms] = process.argv.slice(1);
const s = require('node:net').connect({ host, port: Number(port) });
s.setTimeout(Number(ms));
s.on('connect', () => { s.destroy(); process.exit(0); });
s.on('timeout', () => { console.error('timed out'); process.exit(1); });
s.on('error', (e) => { console.error(e.code || e.message); process.exit(1); });
`;

/** null when something accepts TCP connections there, else what went wrong. */
function probeAddress(name: ServiceName, value: string): string | null {
  let target: { host: string; port: number };
  try {
    target = hostPort(name, value);
  } catch (err) {
    return `not an address: ${(err as Error).message}`;
  }
  if (!LOOPBACK.test(target.host)) {
    // Tests here only ever talk to this machine.
    throw new Error(`${SERVICE_ENV[name]}=${value}: tests only talk to loopback addresses, not '${target.host}'`);
  }
  const r = spawnSync(process.execPath, ['-e', TCP_PROBE, target.host, String(target.port), String(PROBE_TIMEOUT_MS - 1_000)], {
    timeout: PROBE_TIMEOUT_MS,
    encoding: 'utf8',
  });
  if (r.status === 0) return null;
  return `nothing accepts connections at ${target.host}:${target.port} (${(r.stderr || r.error?.message || 'no answer').trim()})`;
}

/** null when the binary runs and prints its version, else what went wrong. */
function probeBinary(path: string): string | null {
  const r = spawnSync(path, ['--version'], { timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' });
  if (r.error) return `cannot run it: ${r.error.message}`;
  if (r.status !== 0) return `'${path} --version' exited with ${r.status}: ${(r.stderr || '').trim().slice(0, 200)}`;
  return null;
}
