// Runs `foreshock <service>` as its own OS process, as a deployment does: the CLI from this
// checkout (node + tsx, installed by `npm ci`), configured only through FORESHOCK_* variables,
// with its output kept for the failure message. Used by the distributed suites.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../support/wait.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ForeshockProcess {
  service: string;
  url: string;
  child: ChildProcess;
  /** The last lines it printed (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The environment of one isolated Foreshock deployment on the given Kafka and Redis: topics,
 * consumer groups, Redis keys and BullMQ queues all carry `run` in their names.
 */
export function distributedEnv(kafka: string, redisUrl: string, run = `fsd${randomBytes(4).toString('hex')}`): Record<string, string> {
  return {
    FORESHOCK_BUS_KIND: 'kafka',
    FORESHOCK_KAFKA_BROKERS: kafka,
    FORESHOCK_KAFKA_CLIENT_ID: run,
    FORESHOCK_KAFKA_GROUP_ID_PREFIX: `${run}-`,
    FORESHOCK_KAFKA_HEARTBEAT_INTERVAL: '500ms',
    FORESHOCK_KAFKA_SESSION_TIMEOUT: '10s',
    FORESHOCK_KAFKA_REBALANCE_TIMEOUT: '15s',
    FORESHOCK_BUS_TOPIC_RAW: `${run}-raw`,
    FORESHOCK_BUS_TOPIC_TELEGRAF: `${run}-telegraf`,
    FORESHOCK_BUS_TOPIC_SAMPLES: `${run}-samples`,
    FORESHOCK_BUS_TOPIC_EVENTS: `${run}-events`,
    FORESHOCK_STATE_KIND: 'redis',
    FORESHOCK_QUEUE_KIND: 'bullmq',
    FORESHOCK_REDIS_URL: redisUrl,
    FORESHOCK_REDIS_KEY_PREFIX: `${run}:`,
    FORESHOCK_REDIS_QUEUE_PREFIX: `${run}-bull`,
    FORESHOCK_SERVER_HOST: '127.0.0.1',
    FORESHOCK_LOG_LEVEL: 'warn',
  };
}

/**
 * Starts `foreshock <service>` on `port` (default: a free one; a restarted process takes its
 * predecessor's, as behind a service address) and waits until /readyz answers 200.
 */
export async function startService(service: string, env: Record<string, string>, readyTimeoutMs = 90_000, port?: number): Promise<ForeshockProcess> {
  port ??= await freePort();
  const childEnv: Record<string, string> = {};
  // Only what a process needs: PATH and friends, never another test's FORESHOCK_* settings.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('FORESHOCK_')) childEnv[k] = v;
  Object.assign(childEnv, env, { FORESHOCK_SERVER_PORT: String(port) });
  // FORESHOCK_TEST_NODE_ARGS: extra node flags for every process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.FORESHOCK_TEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'cli/main.ts', service], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const proc: ForeshockProcess = {
    service,
    url,
    child,
    output: () => out,
    async stop(graceMs = 15_000) {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(async () => {
      if (exited !== undefined) throw new Error(`foreshock ${service} exited with ${exited}`);
      const r = await fetch(`${url}/readyz`).catch(() => null);
      return r?.status === 200 ? true : null;
    }, readyTimeoutMs, 200);
  } catch (err) {
    await proc.stop(2_000);
    throw new Error(`foreshock ${service} did not become ready: ${(err as Error).message}\n${out.slice(-4_000)}`);
  }
  return proc;
}

/** Value of an unlabelled (or first matching) sample of `name` in a /metrics page; 0 when absent. */
export async function metricValue(url: string, name: string, labelFilter = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelFilter !== '' && !rest.includes(labelFilter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
