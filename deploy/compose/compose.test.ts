// docker-compose.yml and the files under deploy/compose hold together without a Docker engine:
// every mounted file exists, every FORESHOCK_* variable is a config key, Foreshock's config file
// loads and points at services the stack defines, and Prometheus, Grafana and Telegraf talk to
// the right containers on the right ports.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SERVICES } from '../../cli/app.js';
import { configKeys, envName, loadConfig, SCHEMA } from '../../shared/config/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string): string => readFileSync(ROOT + rel, 'utf8');

interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  depends_on?: Record<string, unknown> | string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as Compose;
const FORESHOCK = ['receiver', 'ingest', 'detect', 'intervene', 'api'];
const CONFIG_ENVS = new Set(configKeys().map(([path]) => envName(path)));
/** FORESHOCK_* variables that are not config keys but are read by the CLI. */
const CLI_ENVS = new Set(['FORESHOCK_CONFIG']);

function hostPort(url: string): [string, number] {
  const u = new URL(url.includes('://') ? url : `tcp://${url}`);
  return [u.hostname, Number(u.port)];
}

/** Host port and container port of a compose port entry ("9741:9740" or "9740"). */
function ports(entry: string): [number, number] {
  const parts = entry.split(':').map(Number);
  return parts.length === 1 ? [parts[0], parts[0]] : [parts[parts.length - 2], parts[parts.length - 1]];
}

/** Compose services a container reaches at host:port, with the port each one listens on. */
const LISTENS: Record<string, number[]> = {
  kafka: [9092],
  redis: [6379],
  influxdb: [8086],
  alertmanager: [9093],
  'node-exporter': [9100],
  prometheus: [9090],
  grafana: [3000],
  ...Object.fromEntries(FORESHOCK.map((s) => [s, [SCHEMA.server.port.default]])),
};

function expectReachable(url: string, what: string): void {
  const [host, port] = hostPort(url);
  expect(compose.services, `${what}: ${url} names no compose service`).toHaveProperty([host]);
  expect(LISTENS[host], `${what}: ${host} does not listen on ${port}`).toContain(port);
}

describe('docker-compose.yml', () => {
  it('has the whole stack, and each Foreshock service is the image built here running one CLI service', () => {
    for (const s of ['kafka', 'redis', 'influxdb', 'alertmanager', 'prometheus', 'node-exporter', 'telegraf', 'grafana', ...FORESHOCK]) {
      expect(compose.services, s).toHaveProperty([s]);
    }
    for (const s of FORESHOCK) {
      const svc = compose.services[s];
      expect(svc.build, s).toBe('.');
      expect(svc.command, s).toEqual([s]);
      expect(SERVICES as readonly string[]).toContain(svc.command![0]);
    }
    expect(existsSync(ROOT + 'Dockerfile')).toBe(true);
    // Kafka runs in KRaft mode: no ZooKeeper, broker and controller in one node.
    expect(compose.services.kafka.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller' });
    expect(Object.keys(compose.services)).not.toContain('zookeeper');
  });

  it('mounts only files that exist, and secrets that are declared', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0];
        if (src.startsWith('./')) expect(existsSync(ROOT + src.slice(2)), `${name}: ${src}`).toBe(true);
        else if (!src.startsWith('/')) expect(compose.volumes, `${name}: volume ${src}`).toHaveProperty([src]);
      }
      for (const s of svc.secrets ?? []) expect(compose.secrets, `${name}: secret ${s}`).toHaveProperty([s]);
    }
    for (const [name, s] of Object.entries(compose.secrets)) expect(existsSync(ROOT + s.file.replace(/^\.\//, '')), name).toBe(true);
  });

  it('publishes each host port once, and Foreshock on its configured port', () => {
    const hostPorts = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => ports(p)[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const s of ['receiver', 'api']) {
      expect(compose.services[s].ports!.map((p) => ports(p)[1])).toEqual([SCHEMA.server.port.default]);
    }
  });

  it('sets only FORESHOCK_* variables that are config keys, and the config they give loads and points into the stack', () => {
    for (const s of FORESHOCK) {
      const env = Object.fromEntries(Object.entries(compose.services[s].environment ?? {}).map(([k, v]) => [k, String(v)]));
      for (const k of Object.keys(env).filter((k) => k.startsWith('FORESHOCK_'))) {
        expect(CONFIG_ENVS.has(k) || CLI_ENVS.has(k), `${s}: ${k} is no config key`).toBe(true);
      }
      expect(env.FORESHOCK_CONFIG).toBe('/etc/foreshock/foreshock.yaml');
      const mount = compose.services[s].volumes!.find((v) => v.split(':')[1] === env.FORESHOCK_CONFIG)!;
      const file = ROOT + mount.split(':')[0].slice(2);
      const { FORESHOCK_CONFIG: _, ...overrides } = env;
      const { config } = loadConfig({ file, env: overrides });
      expect([config.bus.kind, config.state.kind, config.queue.kind, config.sink.kind]).toEqual(['kafka', 'redis', 'bullmq', 'influx']);
      for (const b of config.kafka.brokers) expectReachable(b, 'kafka.brokers');
      expectReachable(config.redis.url, 'redis.url');
      expectReachable(config.sink.url, 'sink.url');
      for (const u of config.alertmanager.url) expectReachable(u, 'alertmanager.url');
      expect(config.server.port).toBe(SCHEMA.server.port.default);
      // The Influx token file is a secret mounted into this container.
      const secret = /^\/run\/secrets\/(.+)$/.exec(config.sink.tokenFile)?.[1];
      expect(compose.services[s].secrets, s).toContain(secret);
    }
    // InfluxDB is set up with the org, bucket and token file Foreshock uses.
    const { config } = loadConfig({ file: ROOT + 'deploy/compose/foreshock.yaml', env: {} });
    expect(compose.services.influxdb.environment).toMatchObject({
      DOCKER_INFLUXDB_INIT_ORG: config.sink.org,
      DOCKER_INFLUXDB_INIT_BUCKET: config.sink.bucket,
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE: config.sink.tokenFile,
    });
  });

  it('Prometheus scrapes every Foreshock service and node-exporter, and remote-writes to the receiver', () => {
    const prom = parseYaml(read('deploy/compose/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
      remote_write: { url: string }[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets)).filter((t) => !t.startsWith('localhost:'));
    for (const t of targets) expectReachable(t, 'scrape target');
    expect(targets.map((t) => hostPort(t)[0])).toEqual(expect.arrayContaining([...FORESHOCK, 'node-exporter']));
    expect(prom.remote_write.map((r) => r.url)).toEqual([`http://receiver:${SCHEMA.server.port.default}/api/v1/write`]);
    for (const t of prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))) expectReachable(t, 'alertmanager');
  });

  it('Telegraf writes line protocol to the Kafka topic the ingest workers read', () => {
    const conf = read('deploy/compose/telegraf.conf');
    const out = conf.slice(conf.indexOf('[[outputs.kafka]]'));
    expect(/topic\s*=\s*"([^"]+)"/.exec(out)?.[1]).toBe(SCHEMA.bus.topicTelegraf.default);
    expect(/data_format\s*=\s*"([^"]+)"/.exec(out)?.[1]).toBe('influx');
    for (const [, b] of out.matchAll(/"([a-z-]+:\d+)"/g)) expectReachable(b, 'telegraf brokers');
  });

  it('Grafana gets the data sources the dashboards use, and the dashboards folder', () => {
    const ds = parseYaml(read('deploy/compose/grafana/provisioning/datasources/foreshock.yml')) as {
      datasources: { uid: string; type: string; url: string; jsonData?: Record<string, string>; secureJsonData?: Record<string, string> }[];
    };
    for (const d of ds.datasources) expectReachable(d.url, `datasource ${d.uid}`);
    const provided = new Set(ds.datasources.map((d) => `${d.type}/${d.uid}`));
    for (const file of ['foreshock-detector.json', 'foreshock-self.json']) {
      const text = read(`deploy/grafana/${file}`);
      for (const [, type, uid] of text.matchAll(/"type": "(influxdb|prometheus)",\s*"uid": "([^"]+)"/g)) {
        expect(provided.has(`${type}/${uid}`), `${file}: ${type}/${uid}`).toBe(true);
      }
    }
    const influx = ds.datasources.find((d) => d.type === 'influxdb')!;
    const { config } = loadConfig({ file: ROOT + 'deploy/compose/foreshock.yaml', env: {} });
    expect(influx.jsonData).toMatchObject({ version: 'Flux', organization: config.sink.org, defaultBucket: config.sink.bucket });
    expect(influx.secureJsonData?.token).toBe(`$__file{${config.sink.tokenFile}}`);
    expect(compose.services.grafana.secrets).toContain('influxdb_token');
    const providers = parseYaml(read('deploy/compose/grafana/provisioning/dashboards/foreshock.yml')) as { providers: { options: { path: string } }[] };
    const dashMount = compose.services.grafana.volumes!.find((v) => v.startsWith('./deploy/grafana:'))!;
    expect(providers.providers[0].options.path).toBe(dashMount.split(':')[1]);
  });
});

/** Whether a tool runs here (Prometheus' and Alertmanager's checkers come with their packages). */
function has(tool: string): boolean {
  return !spawnSync(tool, ['--version'], { encoding: 'utf8' }).error;
}

describe('config files, checked by their own tools where installed', () => {
  it.skipIf(!has('promtool'))('promtool check config deploy/compose/prometheus.yml', () => {
    const r = spawnSync('promtool', ['check', 'config', '--syntax-only', ROOT + 'deploy/compose/prometheus.yml'], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
  it.skipIf(!has('amtool'))('amtool check-config deploy/compose/alertmanager.yml', () => {
    const r = spawnSync('amtool', ['check-config', ROOT + 'deploy/compose/alertmanager.yml'], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  it('builds the CLI the compose services run, copies what exists, and names only config-key variables', () => {
    expect(text).toMatch(/ENTRYPOINT \["node", "dist\/cli\/main\.js"\]/);
    expect(existsSync(ROOT + 'cli/main.ts')).toBe(true);
    expect(JSON.parse(read('tsconfig.json')).compilerOptions.outDir).toBe('dist');
    for (const [, src] of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const f of src.split(/\s+/)) expect(existsSync(ROOT + f), f).toBe(true);
    }
    expect(text).toMatch(new RegExp(`EXPOSE ${SCHEMA.server.port.default}\\b`));
    for (const [v] of text.matchAll(/FORESHOCK_[A-Z0-9_]+/g)) expect(CONFIG_ENVS.has(v) || CLI_ENVS.has(v), v).toBe(true);
  });
});
