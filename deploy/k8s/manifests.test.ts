// deploy/k8s parses and holds together: one Deployment per Foreshock service running that CLI
// service, probes on /healthz and /readyz at the configured port, resources set, only
// FORESHOCK_* variables that are config keys, references to the ConfigMap and Secret that
// exist, Services that select a Deployment's pods, and a config file that loads.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { SERVICES } from '../../cli/app.js';
import { configKeys, envName, loadConfig, SCHEMA } from '../../shared/config/index.js';

const DIR = fileURLToPath(new URL('./', import.meta.url));
const PORT = SCHEMA.server.port.default;
const CONFIG_ENVS = new Set(configKeys().map(([path]) => envName(path)));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports: { name: string; containerPort: number }[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: object;
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[]; volumes?: Volume[] } };
  };
}
interface Service extends K8sObject {
  spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] };
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const objects: K8sObject[] = files
  .filter((f) => f !== 'kustomization.yaml')
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0].message}`);
      return d.toJS() as K8sObject;
    }),
  );
const byKind = <T extends K8sObject>(kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const deployments = byKind<Deployment>('Deployment');
const services = byKind<Service>('Service');
const configMaps = byKind<K8sObject & { data: Record<string, string> }>('ConfigMap');
const secrets = byKind<K8sObject & { stringData?: Record<string, string>; data?: Record<string, string> }>('Secret');
const FORESHOCK = SERVICES.filter((s) => s !== 'all');

function secretHas(name: string, key: string): boolean {
  const s = secrets.find((x) => x.metadata.name === name);
  return !!s && key in { ...s.stringData, ...s.data };
}

describe('deploy/k8s manifests', () => {
  it('has one Deployment per Foreshock service, running that service of the CLI', () => {
    expect(deployments.map((d) => d.spec.template.spec.containers[0].args?.[0]).sort()).toEqual([...FORESHOCK].sort());
    for (const d of deployments) {
      expect(d.spec.replicas, d.metadata.name).toBeGreaterThanOrEqual(1);
      // The selector picks the pods of its own template.
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the configured port, with resources set', () => {
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      const where = d.metadata.name;
      const http = c.ports.find((p) => p.name === 'http');
      expect(http?.containerPort, where).toBe(PORT);
      const resolve = (port: string | number) => (typeof port === 'number' ? port : c.ports.find((p) => p.name === port)?.containerPort);
      expect(c.livenessProbe?.httpGet.path, where).toBe('/healthz');
      expect(resolve(c.livenessProbe!.httpGet.port), where).toBe(PORT);
      expect(c.readinessProbe?.httpGet.path, where).toBe('/readyz');
      expect(resolve(c.readinessProbe!.httpGet.port), where).toBe(PORT);
      if (c.startupProbe) expect(resolve(c.startupProbe.httpGet.port), where).toBe(PORT);
      for (const r of ['requests', 'limits'] as const) {
        expect(c.resources?.[r], `${where} ${r}`).toMatchObject({ cpu: expect.any(String), memory: expect.stringMatching(/^\d+(Mi|Gi)$/) });
      }
    }
  });

  it('sets only FORESHOCK_* variables that are config keys, from Secrets and ConfigMaps that exist', () => {
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      for (const e of c.env ?? []) {
        if (e.name.startsWith('FORESHOCK_') && e.name !== 'FORESHOCK_CONFIG') expect(CONFIG_ENVS.has(e.name), `${d.metadata.name}: ${e.name}`).toBe(true);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(secretHas(ref.name, ref.key), `${d.metadata.name}: secret ${ref.name}/${ref.key}`).toBe(true);
      }
      const volumes = d.spec.template.spec.volumes ?? [];
      for (const m of c.volumeMounts ?? []) expect(volumes.map((v) => v.name), `${d.metadata.name}: mount ${m.name}`).toContain(m.name);
      for (const v of volumes) {
        if (v.configMap) expect(configMaps.map((x) => x.metadata.name)).toContain(v.configMap.name);
        if (v.secret) for (const it of v.secret.items ?? []) expect(secretHas(v.secret.secretName, it.key), `${v.secret.secretName}/${it.key}`).toBe(true);
      }
    }
  });

  it('mounts a config file that loads with each Deployment\'s environment, and its secrets where the config reads them', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'foreshock-k8s-'));
    try {
      for (const d of deployments) {
        const c = d.spec.template.spec.containers[0];
        const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
        const configPath = env.FORESHOCK_CONFIG;
        const mount = c.volumeMounts!.find((m) => m.mountPath === configPath)!;
        expect(mount, `${d.metadata.name}: nothing mounted at ${configPath}`).toBeDefined();
        const volume = d.spec.template.spec.volumes!.find((v) => v.name === mount.name)!;
        const cm = configMaps.find((x) => x.metadata.name === volume.configMap?.name)!;
        const text = cm.data[mount.subPath!];
        expect(text, `${cm.metadata.name} has no ${mount.subPath}`).toBeDefined();
        const file = join(tmp, `${d.metadata.name}.yaml`);
        writeFileSync(file, text);
        const { FORESHOCK_CONFIG: _, ...overrides } = env;
        const { config } = loadConfig({ file, env: overrides });
        expect(config.server.port).toBe(PORT);
        expect([config.bus.kind, config.state.kind, config.queue.kind, config.sink.kind]).toEqual(['kafka', 'redis', 'bullmq', 'influx']);
        // sink.tokenFile lies in a mounted Secret that carries that file.
        const secretMount = c.volumeMounts!.find((m) => config.sink.tokenFile.startsWith(m.mountPath + '/'))!;
        const sv = d.spec.template.spec.volumes!.find((v) => v.name === secretMount.name)!;
        const fileName = config.sink.tokenFile.slice(secretMount.mountPath.length + 1);
        expect(sv.secret?.items?.map((i) => i.path)).toContain(fileName);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('exposes the API and the receivers through Services that select their pods', () => {
    const exposed = services.map((s) => {
      const d = deployments.find((x) => Object.entries(s.spec.selector).every(([k, v]) => x.spec.template.metadata.labels[k] === v));
      expect(d, `${s.metadata.name} selects no Deployment`).toBeDefined();
      const c = d!.spec.template.spec.containers[0];
      for (const p of s.spec.ports) {
        const target = typeof p.targetPort === 'number' ? p.targetPort : c.ports.find((x) => x.name === p.targetPort)?.containerPort;
        expect(target, `${s.metadata.name} port ${p.name}`).toBe(PORT);
      }
      return c.args![0];
    });
    expect(exposed.sort()).toEqual(['api', 'receiver']);
  });

  it('puts everything in one namespace and lists every file in the kustomization', () => {
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('foreshock');
    const k = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });
});
