// The real servers the integration suites run against (deploy/local/services.sh) answer as those
// suites expect, and test/support/services.ts turns a missing one into a failure under
// FORESHOCK_REQUIRE_SERVICES=1 rather than a silent skip.

import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { requireService, SERVICE_ENV } from './support/services.js';
import { freePort } from './support/wait.js';

const kafka = requireService('kafka');
const redis = requireService('redis');
const alertmanager = requireService('alertmanager');
const victoria = requireService('victoria');
const nodeExporter = requireService('node-exporter');
const prometheus = requireService('prometheus');

/** One RESP command over a raw socket; resolves with a simple reply's line or a bulk reply's data. */
function redisCommand(url: string, ...args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  const payload = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port) }, () => sock.write(payload));
    let buf = '';
    sock.setTimeout(5_000, () => sock.destroy(new Error('redis: no reply within 5 s')));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const end = buf.indexOf('\r\n');
      if (end < 0) return;
      const line = buf.slice(0, end);
      if (line.startsWith('$') && Number(line.slice(1)) >= 0) {
        const len = Number(line.slice(1));
        if (buf.length < end + 2 + len + 2) return;
        sock.end();
        resolve(buf.slice(end + 2, end + 2 + len));
        return;
      }
      sock.end();
      resolve(line);
    });
    sock.on('error', reject);
  });
}

describe('local test servers', () => {
  it.skipIf(!redis)('redis answers PING and keeps a value', async () => {
    expect(await redisCommand(redis!, 'PING')).toBe('+PONG');
    const key = `foreshock:services-test:${process.pid}`;
    expect(await redisCommand(redis!, 'SET', key, 'v1', 'EX', '60')).toBe('+OK');
    expect(await redisCommand(redis!, 'GET', key)).toBe('v1');
  });

  it.skipIf(!alertmanager)('alertmanager reports its status, as a single node', async () => {
    const r = await fetch(`${alertmanager}/api/v2/status`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { cluster: { status: string }; versionInfo: { version: string } };
    expect(body.versionInfo.version).toMatch(/^\d+\.\d+/);
    expect(body.cluster.status).toBe('disabled');
  });

  it.skipIf(!victoria)('victoria-metrics is healthy and takes line protocol', async () => {
    const health = await fetch(`${victoria}/health`);
    expect(health.status).toBe(200);
    expect((await health.text()).trim()).toBe('OK');
    const write = await fetch(`${victoria}/api/v2/write`, {
      method: 'POST',
      body: `foreshock_services_test,host=t${process.pid} value=1 ${Date.now()}000000\n`,
    });
    expect(write.status).toBe(204);
  });

  it.skipIf(!kafka)('kafka lists its topics to kafkajs', async () => {
    const admin = new Kafka({
      clientId: 'foreshock-services-test',
      brokers: [kafka!],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3 },
    }).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toHaveLength(1);
      expect(Array.isArray(await admin.listTopics())).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });

  it.skipIf(!nodeExporter)('node-exporter exposes CPU counters', async () => {
    const r = await fetch(`${nodeExporter}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^node_cpu_seconds_total\{/m);
  });

  it.skipIf(!prometheus)('the prometheus binary runs', () => {
    const r = spawnSync(prometheus!, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/prometheus, version \d+\.\d+/);
  });
});

describe('requireService', () => {
  const touched = [SERVICE_ENV.redis, SERVICE_ENV.victoria, 'FORESHOCK_REQUIRE_SERVICES'];
  const saved = touched.map((k) => process.env[k]);
  afterEach(() => {
    touched.forEach((k, i) => {
      if (saved[i] === undefined) delete process.env[k];
      else process.env[k] = saved[i];
    });
  });

  it('skips a service that does not answer, and fails it when services are required', async () => {
    const port = await freePort(); // free a moment ago: nothing listens there
    process.env[SERVICE_ENV.redis] = `redis://127.0.0.1:${port}`;
    delete process.env.FORESHOCK_REQUIRE_SERVICES;
    expect(requireService('redis')).toBeNull();
    process.env.FORESHOCK_REQUIRE_SERVICES = '1';
    expect(() => requireService('redis')).toThrow(/required \(FORESHOCK_REQUIRE_SERVICES=1\).*nothing accepts connections/);
  });

  it('refuses an address off this machine', () => {
    process.env[SERVICE_ENV.victoria] = 'http://192.0.2.1:8428';
    expect(() => requireService('victoria')).toThrow(/only talk to loopback/);
  });
});
