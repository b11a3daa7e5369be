import { describe, expect, it } from 'vitest';
import { seriesKey, sortedLabels } from '../../shared/model/index.js';
import { DERIVED_CONTAINER_MEMORY, DERIVED_CPU, DERIVED_FILESYSTEM, DerivedSignals, type DerivedInput, type DerivedSample } from './derived.js';

function series(d: DerivedSignals, name: string, labels: Record<string, string>, host = 'h1', partition = 0): DerivedInput[] {
  const l = sortedLabels(Object.entries({ __name__: name, instance: host, ...labels }));
  return d.bind(seriesKey(l), name, l, host, partition);
}

function feed(d: DerivedSignals, inputs: DerivedInput[], ts: number[], vs: number[]): void {
  for (const i of inputs) d.add(i, Float64Array.from(ts), 0, Float64Array.from(vs), 0, ts.length);
}

function flush(d: DerivedSignals): DerivedSample[] {
  const out: DerivedSample[] = [];
  d.flush(out);
  return out;
}

describe('derived saturation signals', () => {
  it('CPU utilisation: 1 − (idle + iowait + steal) / all modes, over every CPU of the host, from counter changes', () => {
    const d = new DerivedSignals();
    const modes = ['idle', 'iowait', 'steal', 'user', 'system'];
    const inputs: Record<string, DerivedInput[]> = {};
    for (const cpu of ['0', '1']) for (const mode of modes) inputs[`${cpu}/${mode}`] = series(d, 'node_cpu_seconds_total', { cpu, mode, job: 'node' });
    // per CPU and 10 s: idle 6 s, iowait 1, steal 0, user 2, system 1 → busy 3 of 10
    const per: Record<string, number> = { idle: 6, iowait: 1, steal: 0, user: 2, system: 1 };
    for (let k = 0; k < 3; k++) {
      for (const [key, inp] of Object.entries(inputs)) feed(d, inp, [10_000 * k], [per[key.split('/')[1]] * k + 100]);
    }
    const out = flush(d);
    // the first complete scrape only primes the counters
    expect(out.map((o) => o.ts)).toEqual([10_000, 20_000]);
    for (const o of out) expect(o.value).toBeCloseTo(0.3, 12);
    expect(out[0].group.labels).toEqual({ __name__: DERIVED_CPU, instance: 'h1', job: 'node' });
  });

  it('waits for every member of a scrape, across batches, and drops a scrape that never completes', () => {
    const d = new DerivedSignals();
    const avail = series(d, 'node_filesystem_avail_bytes', { mountpoint: '/data', device: 'sdb' });
    const size = series(d, 'node_filesystem_size_bytes', { mountpoint: '/data', device: 'sdb' });
    const ro = series(d, 'node_filesystem_readonly', { mountpoint: '/data', device: 'sdb' });
    feed(d, avail, [1000, 2000], [60, 50]);
    feed(d, size, [1000, 2000], [100, 100]);
    expect(flush(d)).toEqual([]); // the read-only flag of those scrapes has not arrived yet
    feed(d, ro, [1000, 2000], [0, 0]);
    const out = flush(d);
    expect(out.map((o) => [o.ts, o.value])).toEqual([[1000, 0.4], [2000, 0.5]]);
    expect(out[0].group.key).toBe(`${DERIVED_FILESYSTEM}{device="sdb",instance="h1",mountpoint="/data"}`);
    // 3000 lacks its size; 4000 is complete: 3000 will never be, and is dropped
    feed(d, avail, [3000, 4000], [40, 30]);
    feed(d, size, [4000], [100]);
    feed(d, ro, [3000, 4000], [0, 0]);
    expect(flush(d).map((o) => [o.ts, o.value])).toEqual([[4000, 0.7]]);
    expect(d.incomplete).toBe(1);
  });

  it('a read-only filesystem is full by design: no derived value', () => {
    const d = new DerivedSignals();
    const l = { mountpoint: '/snap/core', fstype: 'squashfs' };
    feed(d, series(d, 'node_filesystem_avail_bytes', l), [1000], [0]);
    feed(d, series(d, 'node_filesystem_size_bytes', l), [1000], [100]);
    feed(d, series(d, 'node_filesystem_readonly', l), [1000], [1]);
    expect(flush(d)).toEqual([]);
  });

  it('Telegraf: cpu-total usage_idle and disk used_percent, read-only disks left out', () => {
    const d = new DerivedSignals();
    feed(d, series(d, 'cpu_usage_idle', { cpu: 'cpu-total', host: 'h1' }), [1000], [75]);
    expect(series(d, 'cpu_usage_idle', { cpu: 'cpu0', host: 'h1' })).toEqual([]);
    feed(d, series(d, 'disk_used_percent', { path: '/', mode: 'rw', host: 'h1' }), [1000], [42]);
    expect(series(d, 'disk_used_percent', { path: '/iso', mode: 'ro', host: 'h1' })).toEqual([]);
    const out = flush(d).map((o) => [o.group.formula.name, o.value]);
    expect(out).toEqual([[DERIVED_CPU, 0.25], [DERIVED_FILESYSTEM, 0.42]]);
  });

  it('container working set against its limit: cAdvisor\'s own, else kube-state-metrics\'', () => {
    const d = new DerivedSignals();
    const c = { namespace: 'oms', pod: 'oms-1', container: 'app' };
    feed(d, series(d, 'container_memory_working_set_bytes', c, 'node-1'), [1000], [300]);
    feed(d, series(d, 'container_spec_memory_limit_bytes', c, 'node-1'), [1000], [400]);
    expect(flush(d).map((o) => o.value)).toEqual([0.75]);
    // no cAdvisor limit series: the limit from kube-state-metrics (another host) applies
    const c2 = { namespace: 'oms', pod: 'oms-2', container: 'app' };
    feed(d, series(d, 'kube_pod_container_resource_limits', { ...c2, resource: 'memory', unit: 'byte' }, 'ksm'), [500], [1000]);
    feed(d, series(d, 'container_memory_working_set_bytes', c2, 'node-2'), [1000], [250]);
    const out = flush(d);
    expect(out.map((o) => [o.group.formula.name, o.value])).toEqual([[DERIVED_CONTAINER_MEMORY, 0.25]]);
    // the pod's cgroup (no container) and the pause container are not containers of the workload
    expect(series(d, 'container_memory_working_set_bytes', { namespace: 'oms', pod: 'oms-1', container: 'POD' })).toEqual([]);
  });
});
