// The Grafana dashboards query only what Foreshock writes: every measurement, field and tag of
// the detector dashboard's Flux queries is in the sink schema, and every metric and label of
// the service-health dashboard's PromQL is registered by the telemetry module.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SINK_MEASUREMENTS, SINK_TAGS } from '../../shared/model/index.js';
import { createTelemetry } from '../../shared/telemetry/index.js';

interface Target {
  refId: string;
  datasource?: { type: string; uid: string };
  query?: string;
  expr?: string;
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string; datasource?: { type: string; uid: string } }[] };
}

const dir = new URL('./', import.meta.url);
const load = (name: string): Dashboard => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Dashboard;

const DASHBOARD_DATASOURCES = { influxdb: 'foreshock-influxdb', prometheus: 'foreshock-prometheus' } as const;

const FLUX_COLUMNS = new Set(['_time', '_field', '_value', '_measurement', '_start', '_stop']);

/** Problems of one Flux query against the sink schema ('' entries never). */
function checkFlux(query: string): string[] {
  const problems: string[] = [];
  const schema = SINK_MEASUREMENTS as Record<string, { fields: readonly string[] }>;
  const measurements = [...query.matchAll(/r\._measurement\s*==\s*"([^"]+)"/g)].map((m) => m[1]);
  if (measurements.length === 0) problems.push('queries no measurement');
  for (const m of measurements) if (!(m in schema)) problems.push(`unknown measurement ${m}`);
  const fields = new Set(measurements.flatMap((m) => schema[m]?.fields ?? []));
  for (const [, f] of query.matchAll(/r\._field\s*==\s*"([^"]+)"/g)) {
    if (!fields.has(f)) problems.push(`field ${f} is not a field of ${measurements.join(', ')}`);
  }
  const tags = new Set<string>(SINK_TAGS);
  for (const [, t] of query.matchAll(/\br\.([A-Za-z]\w*)\s*==/g)) if (!tags.has(t)) problems.push(`unknown tag ${t}`);
  for (const [, t] of query.matchAll(/tag:\s*"([^"]+)"/g)) if (!tags.has(t)) problems.push(`unknown tag ${t}`);
  for (const [, list] of query.matchAll(/columns:\s*\[([^\]]*)\]/g)) {
    for (const [, c] of list.matchAll(/"([^"]+)"/g)) {
      if (!FLUX_COLUMNS.has(c) && !tags.has(c) && !fields.has(c)) problems.push(`unknown column ${c}`);
    }
  }
  return problems;
}

/** Metric name → label names, for every family the telemetry registers (histograms expanded). */
async function registeredMetrics(): Promise<Map<string, Set<string>>> {
  const { registry } = createTelemetry();
  const out = new Map<string, Set<string>>();
  for (const m of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
    const labels = new Set(metric.labelNames ?? []);
    if (String(m.type) === 'histogram') {
      out.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    } else {
      out.set(m.name, labels);
    }
  }
  return out;
}

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];

function checkPromQL(expr: string, metrics: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const names = [...expr.matchAll(/\b(foreshock_[a-z0-9_]+)\b/g)].map((m) => m[1]);
  if (names.length === 0) problems.push('queries no foreshock metric');
  const labels = new Set(TARGET_LABELS);
  for (const n of names) {
    const l = metrics.get(n);
    if (!l) problems.push(`unknown metric ${n}`);
    else for (const x of l) labels.add(x);
  }
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of list.split(',').map((s) => s.trim()).filter(Boolean)) if (!labels.has(l)) problems.push(`unknown label ${l}`);
  }
  for (const [, sel] of expr.matchAll(/foreshock_[a-z0-9_]+\{([^}]*)\}/g)) {
    for (const [, l] of sel.matchAll(/([A-Za-z_]\w*)\s*(?:=|!=|=~|!~)/g)) if (!labels.has(l)) problems.push(`unknown label ${l}`);
  }
  return problems;
}

function targets(d: Dashboard): [Panel, Target][] {
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => [p, t] as [Panel, Target]));
}

function checkShape(d: Dashboard, datasourceType: keyof typeof DASHBOARD_DATASOURCES): void {
  expect(d.uid).toMatch(/^foreshock-/);
  const ids = d.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const [p, t] of targets(d)) {
    expect(t.datasource ?? p.datasource, `${p.title} ${t.refId}`).toEqual({ type: datasourceType, uid: DASHBOARD_DATASOURCES[datasourceType] });
  }
}

describe('deploy/grafana dashboards', () => {
  it('detector output (InfluxDB, Flux): value, band, score, forecast and risk panels over the sink schema', () => {
    const d = load('foreshock-detector.json');
    checkShape(d, 'influxdb');
    const queries = [...targets(d).map(([p, t]) => [p.title, t.query ?? ''] as const), ...d.templating.list.filter((v) => v.query && v.type === 'query').map((v) => [`variable ${v.name}`, v.query!] as const)];
    expect(queries.length).toBeGreaterThan(5);
    for (const [where, q] of queries) expect(checkFlux(q), where).toEqual([]);
    // Each part of the data has a panel.
    const measurements = new Set(queries.flatMap(([, q]) => [...q.matchAll(/r\._measurement\s*==\s*"([^"]+)"/g)].map((m) => m[1])));
    expect([...measurements].sort()).toEqual(Object.keys(SINK_MEASUREMENTS).sort());
    expect(d.panels.some((p) => p.type === 'table' && /risk/i.test(p.title))).toBe(true);
  });

  it("service health (Prometheus): every metric and label is one Foreshock's /metrics registers", async () => {
    const d = load('foreshock-self.json');
    checkShape(d, 'prometheus');
    const metrics = await registeredMetrics();
    const exprs = targets(d).map(([p, t]) => [p.title, t.expr ?? ''] as const);
    expect(exprs.length).toBeGreaterThan(10);
    for (const [where, e] of exprs) expect(checkPromQL(e, metrics), where).toEqual([]);
  });

  it('the checkers catch names that do not exist', async () => {
    expect(checkFlux('from(bucket: "b") |> filter(fn: (r) => r._measurement == "foreshock_bands" and r._field == "value")')).toEqual([
      'unknown measurement foreshock_bands',
      'field value is not a field of foreshock_bands',
    ]);
    expect(checkFlux('filter(fn: (r) => r._measurement == "foreshock_score" and r.region == "x") |> keep(columns: ["lower"])')).toEqual([
      'unknown tag region',
      'unknown column lower',
    ]);
    const metrics = await registeredMetrics();
    expect(checkPromQL('sum by (reason) (rate(foreshock_samples_dropped_total[5m]))', metrics)).toEqual([]);
    expect(checkPromQL('sum by (host) (rate(foreshock_samples_droped_total{reason="nan"}[5m]))', metrics)).toEqual([
      'unknown metric foreshock_samples_droped_total',
      'unknown label host',
      'unknown label reason',
    ]);
  });
});
