// A Kafka broker of a test's own (KRaft, one node) on free ports in a temporary directory, for
// tests that stop or restart the broker: the shared test broker must never be touched. Started
// from the jars deploy/local/kafka.sh resolved (its classpath.txt under the run directory),
// the way that script starts the shared one.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runEnvPath } from './services.js';
import { freePort, stopChild, waitFor } from './wait.js';

export interface PrivateKafka {
  /** `127.0.0.1:port` of the broker. */
  brokers: string;
  /** Stop the broker (SIGTERM, SIGKILL after 30 s; or SIGKILL at once, a crash); its data directory stays. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Start it again on the same ports and data. */
  start(): Promise<void>;
  /** The broker's last output lines. */
  output(): string;
  /** Stop and delete everything. */
  close(): Promise<void>;
}

/**
 * The classpath of the Kafka jars deploy/local fetched, or null when there are none (then the
 * suite skips; under FORESHOCK_REQUIRE_SERVICES=1 it is an error, as for the shared servers).
 */
export function kafkaClasspath(): string | null {
  const dist = join(dirname(runEnvPath()), 'kafka-dist');
  let found: string | null = null;
  if (existsSync(dist)) {
    const versions = readdirSync(dist).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const v of versions.reverse()) {
      const cp = join(dist, v, 'classpath.txt');
      if (existsSync(cp)) {
        found = cp;
        break;
      }
    }
  }
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (found !== null && java.status === 0) return readFileSync(found, 'utf8').trim();
  if (process.env.FORESHOCK_REQUIRE_SERVICES === '1') {
    throw new Error(`a private Kafka broker is required (FORESHOCK_REQUIRE_SERVICES=1) but ${found === null ? `no ${dist}/*/classpath.txt exists` : 'java does not run'}: run npm run services -- up kafka`);
  }
  return null;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(1_000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
  });
}

export async function startPrivateKafka(classpath: string): Promise<PrivateKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'foreshock-kafka-'));
  const port = await freePort();
  const controller = await freePort();
  const props = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'auto.create.topics.enable=false',
      'num.partitions=1',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=2',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      '',
    ].join('\n'),
  );
  writeFileSync(
    log4j,
    ['status = warn', 'appender.stdout.type = Console', 'appender.stdout.name = STDOUT', 'appender.stdout.layout.type = PatternLayout',
      'appender.stdout.layout.pattern = [%d] %p %m (%c)%n', 'rootLogger.level = WARN', 'rootLogger.appenderRef.stdout.ref = STDOUT', ''].join('\n'),
  );
  // As Kafka's Uuid.randomUuid: an id starting with '-' would be read as an option by kafka-storage.
  let clusterId: string;
  do clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-'));
  const fmt = spawnSync('java', ['-Xmx256m', '-cp', classpath, `-Dlog4j2.configurationFile=${log4j}`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], { encoding: 'utf8', timeout: 120_000 });
  if (fmt.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka storage format failed (${fmt.status}): ${(fmt.stderr || fmt.stdout || '').slice(-2_000)}`);
  }
  const logPath = join(dir, 'kafka.log');
  let child: ChildProcess | null = null;

  const api: PrivateKafka = {
    brokers: `127.0.0.1:${port}`,
    async start() {
      if (child !== null) return;
      const fd = openSync(logPath, 'a');
      const c = spawn('java', ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-Djava.awt.headless=true', `-Dkafka.logs.dir=${dir}`, `-Dlog4j2.configurationFile=${log4j}`, '-cp', classpath, 'kafka.Kafka', props], {
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      child = c;
      c.once('exit', () => {
        if (child === c) child = null;
      });
      await waitFor(async () => {
        if (child !== c) throw new Error(`the broker exited: ${api.output()}`);
        return (await tcpOpen(port)) ? true : null;
      }, 120_000, 250);
    },
    async stop(signal = 'SIGTERM') {
      const c = child;
      if (c === null) return;
      await stopChild(c, signal, 30_000);
      child = null;
    },
    output() {
      try {
        return readFileSync(logPath, 'utf8').slice(-4_000);
      } catch {
        return '';
      }
    },
    async close() {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await api.start();
  return api;
}
