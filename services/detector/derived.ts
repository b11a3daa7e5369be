// Derived saturation signals, computed in the stream per host (and mountpoint, container):
// CPU utilisation from node-exporter's idle counters or Telegraf's usage_idle, memory available
// ratio, filesystem used ratio and inodes used ratio (time to full comes from the forecast of
// the ratio), container working set against its memory limit. The inputs of one host arrive
// on one partition (samples are routed by host), so the detector worker that owns it sees
// them all; a derived sample is made once every input of its group has reported the same
// scrape timestamp, and then runs through the engine as a series of its own.
//
// Cost: inputs are recognised once per series (by name); per input sample, a scan of at most
// PENDING open timestamps of its group and a few additions. Nothing else pays anything.

import { seriesKey, sortedLabels, type Labels } from '../../shared/model/index.js';

export const DERIVED_CPU = 'host:cpu_utilisation:ratio';
export const DERIVED_MEMORY = 'host:memory_available:ratio';
export const DERIVED_FILESYSTEM = 'host:filesystem_used:ratio';
export const DERIVED_INODES = 'host:filesystem_inodes_used:ratio';
export const DERIVED_CONTAINER_MEMORY = 'container:memory_limit_used:ratio';
/** Every derived metric name. */
export const DERIVED_NAMES = [DERIVED_CPU, DERIVED_MEMORY, DERIVED_FILESYSTEM, DERIVED_INODES, DERIVED_CONTAINER_MEMORY] as const;

/** Open timestamps kept per group while their inputs arrive. */
const PENDING = 8;
/** A member silent for this long (event time) no longer counts towards a complete scrape. */
const MEMBER_STALE_MS = 5 * 60_000;
/** Values of one role at or above this mean "no limit" (cAdvisor reports unlimited as ~2^63). */
const UNLIMITED = 2 ** 60;

/** How a derived group combines its inputs at one timestamp (sums per role → value, or NaN to skip). */
interface Formula {
  readonly name: string;
  readonly roles: number;
  /** Roles that must be present for a value (bit mask). */
  readonly required: number;
  /** Inputs are counters: the value comes from the change of the sums between complete timestamps. */
  readonly counter: boolean;
  /** Labels of an input that do not name the group (dropped from the derived series' labels). */
  readonly perInput: readonly string[];
  combine(sum: Float64Array, prev: Float64Array | null): number;
}

const NODE_CPU: Formula = {
  name: DERIVED_CPU, roles: 2, required: 0b11, counter: true, perInput: ['cpu', 'mode'],
  // sum[0]: seconds not in use (idle, iowait, steal: as the node mixin counts it), sum[1]: the other modes
  combine: (s, p) => {
    if (p === null) return NaN;
    const free = s[0] - p[0];
    const busy = s[1] - p[1];
    if (free < 0 || busy < 0 || !(free + busy > 0)) return NaN; // a reset or a changed CPU set
    return busy / (free + busy);
  },
};
const NODE_MEMORY: Formula = {
  name: DERIVED_MEMORY, roles: 2, required: 0b11, counter: false, perInput: [],
  combine: (s) => (s[1] > 0 ? s[0] / s[1] : NaN),
};
// roles: 0 available, 1 size, 2 read-only flag (node-exporter sends it with the others: a
// read-only filesystem is full by design, so no value is made before the flag is known)
const NODE_FILESYSTEM: Formula = {
  name: DERIVED_FILESYSTEM, roles: 3, required: 0b111, counter: false, perInput: [],
  combine: (s) => (s[1] > 0 && !(s[2] > 0) ? Math.min(1, Math.max(0, 1 - s[0] / s[1])) : NaN),
};
const NODE_INODES: Formula = {
  name: DERIVED_INODES, roles: 3, required: 0b111, counter: false, perInput: [],
  combine: (s) => (s[1] > 0 && !(s[2] > 0) ? Math.min(1, Math.max(0, 1 - s[0] / s[1])) : NaN),
};
const TELEGRAF_CPU: Formula = {
  name: DERIVED_CPU, roles: 1, required: 0b1, counter: false, perInput: ['cpu'],
  combine: (s) => Math.min(1, Math.max(0, 1 - s[0] / 100)),
};
const TELEGRAF_MEMORY: Formula = {
  name: DERIVED_MEMORY, roles: 1, required: 0b1, counter: false, perInput: [],
  combine: (s) => s[0] / 100,
};
const TELEGRAF_FILESYSTEM: Formula = {
  name: DERIVED_FILESYSTEM, roles: 1, required: 0b1, counter: false, perInput: [],
  combine: (s) => Math.min(1, Math.max(0, s[0] / 100)),
};
// roles: 0 used, 1 total
const TELEGRAF_INODES: Formula = {
  name: DERIVED_INODES, roles: 2, required: 0b11, counter: false, perInput: [],
  combine: (s) => (s[1] > 0 ? Math.min(1, Math.max(0, s[0] / s[1])) : NaN),
};
// roles: 0 working set, 1 limit (cAdvisor's own, or kube-state-metrics' through the limits directory)
const CONTAINER_MEMORY: Formula = {
  name: DERIVED_CONTAINER_MEMORY, roles: 2, required: 0b01, counter: false, perInput: [],
  combine: (s) => (s[1] > 0 && s[1] < UNLIMITED ? s[0] / s[1] : NaN),
};

/** One input series' place: its group and role. */
export interface DerivedInput {
  readonly group: DerivedGroup;
  readonly role: number;
  readonly member: string;
}

/** One derived series and the inputs of its current scrapes. */
export class DerivedGroup {
  /** Labels and key of the derived series. */
  readonly labels: Labels;
  readonly key: string;
  readonly host: string;
  readonly partition: number;
  /** Pending timestamps and, per pending slot and role, the sum and count of what arrived. */
  readonly ts = new Float64Array(PENDING).fill(NaN);
  readonly sum: Float64Array;
  readonly count: Int32Array;
  /** Sums of the last complete timestamp (counter formulas). */
  prev: Float64Array | null = null;
  prevMembers = 0;
  lastEmitted = -Infinity;
  /** Members (input series): their role and the event time they last reported. */
  readonly members = new Map<string, { role: number; last: number }>();
  dirty = false;
  /** ns/pod/container of a container group (limits directory look-up); '' otherwise. */
  containerKey = '';

  constructor(readonly formula: Formula, labels: Labels, host: string, partition: number) {
    this.labels = labels;
    this.key = seriesKey(labels);
    this.host = host;
    this.partition = partition;
    this.sum = new Float64Array(PENDING * formula.roles);
    this.count = new Int32Array(PENDING * formula.roles);
  }
}

/** A derived sample ready for the engine. */
export interface DerivedSample {
  group: DerivedGroup;
  ts: number;
  value: number;
}

function idleMode(mode: string | undefined): boolean {
  return mode === 'idle' || mode === 'iowait' || mode === 'steal';
}

/** Which formula and role a series feeds, or null: the recognition, once per series. */
function recognise(name: string, labels: Labels): { formula: Formula; role: number } | null {
  switch (name) {
    case 'node_cpu_seconds_total':
      return { formula: NODE_CPU, role: idleMode(labels.mode) ? 0 : 1 };
    case 'node_memory_MemAvailable_bytes':
      return { formula: NODE_MEMORY, role: 0 };
    case 'node_memory_MemTotal_bytes':
      return { formula: NODE_MEMORY, role: 1 };
    case 'node_filesystem_avail_bytes':
      return { formula: NODE_FILESYSTEM, role: 0 };
    case 'node_filesystem_size_bytes':
      return { formula: NODE_FILESYSTEM, role: 1 };
    case 'node_filesystem_files_free':
      return { formula: NODE_INODES, role: 0 };
    case 'node_filesystem_files':
      return { formula: NODE_INODES, role: 1 };
    case 'cpu_usage_idle':
      return labels.cpu === undefined || labels.cpu === 'cpu-total' ? { formula: TELEGRAF_CPU, role: 0 } : null;
    case 'mem_available_percent':
      return { formula: TELEGRAF_MEMORY, role: 0 };
    case 'disk_used_percent':
      return labels.mode === 'ro' ? null : { formula: TELEGRAF_FILESYSTEM, role: 0 };
    case 'disk_inodes_used':
      return labels.mode === 'ro' ? null : { formula: TELEGRAF_INODES, role: 0 };
    case 'disk_inodes_total':
      return labels.mode === 'ro' ? null : { formula: TELEGRAF_INODES, role: 1 };
    case 'container_memory_working_set_bytes':
    case 'container_spec_memory_limit_bytes': {
      const c = labels.container;
      if (c === undefined || c === '' || c === 'POD') return null;
      return { formula: CONTAINER_MEMORY, role: name === 'container_memory_working_set_bytes' ? 0 : 1 };
    }
    default:
      return null;
  }
}

/** The read-only flag joins the filesystem groups as their third role (same labels but the name). */
function readOnlyInputs(name: string): Formula[] {
  return name === 'node_filesystem_readonly' ? [NODE_FILESYSTEM, NODE_INODES] : [];
}

/**
 * The derived signals of the series one detector worker owns. Inputs are bound once per
 * series (`bind`); their samples are added with `add`; `flush` hands out the derived samples
 * whose scrapes are complete, in time order per group.
 */
export class DerivedSignals {
  private readonly groups = new Map<string, DerivedGroup>();
  /** kube-state-metrics memory limits by namespace/pod/container (a pod's limit may come from another host). */
  private readonly limits = new Map<string, number>();
  /** Groups with samples since the last flush. */
  private readonly touched: DerivedGroup[] = [];
  /** Derived samples skipped: a scrape that never completed, or a value that could not be formed. */
  incomplete = 0;

  /**
   * The inputs a series feeds (empty for most series). `labels` are the series' own, `host`
   * its host, `partition` the samples partition it arrives on.
   */
  bind(key: string, name: string, labels: Labels, host: string, partition: number): DerivedInput[] {
    if (name === 'kube_pod_container_resource_limits' && labels.resource === 'memory') return [this.limitInput(labels)];
    const out: DerivedInput[] = [];
    const r = recognise(name, labels);
    if (r !== null) out.push(this.input(key, r.formula, r.role, labels, host, partition));
    for (const f of readOnlyInputs(name)) out.push(this.input(key, f, 2, labels, host, partition));
    return out;
  }

  private input(key: string, formula: Formula, role: number, labels: Labels, host: string, partition: number): DerivedInput {
    const pairs: [string, string][] = [['__name__', formula.name]];
    for (const k of Object.keys(labels)) if (k !== '__name__' && !formula.perInput.includes(k)) pairs.push([k, labels[k]]);
    const out = sortedLabels(pairs);
    const gk = seriesKey(out);
    let g = this.groups.get(gk);
    if (g === undefined) {
      g = new DerivedGroup(formula, out, host, partition);
      if (formula === CONTAINER_MEMORY) g.containerKey = `${labels.namespace ?? ''}/${labels.pod ?? ''}/${labels.container ?? ''}`;
      this.groups.set(gk, g);
    }
    if (!g.members.has(key)) g.members.set(key, { role, last: -Infinity });
    return { group: g, role, member: key };
  }

  /** A kube-state-metrics limit series: its samples only update the directory. */
  private limitInput(labels: Labels): DerivedInput {
    const ck = `${labels.namespace ?? ''}/${labels.pod ?? ''}/${labels.container ?? ''}`;
    return { group: LIMITS_GROUP, role: -1, member: ck };
  }

  /** Samples of one input: ts[at, at + n), vs[at2, at2 + n). */
  add(input: DerivedInput, ts: Float64Array, tsAt: number, vs: Float64Array, vsAt: number, n: number): void {
    const g = input.group;
    if (g === LIMITS_GROUP) {
      if (n > 0) this.limits.set(input.member, vs[vsAt + n - 1]);
      return;
    }
    const roles = g.formula.roles;
    const member = g.members.get(input.member);
    let last = member?.last ?? -Infinity;
    for (let i = 0; i < n; i++) {
      const t = ts[tsAt + i];
      const v = vs[vsAt + i];
      if (!(t > g.lastEmitted) || v !== v) continue;
      if (t > last) last = t;
      let k = -1;
      let oldest = -1;
      for (let j = 0; j < PENDING; j++) {
        const tj = g.ts[j];
        if (tj === t) {
          k = j;
          break;
        }
        // a free slot (NaN) first, else the oldest timestamp
        if (oldest < 0 || (g.ts[oldest] === g.ts[oldest] && (tj !== tj || tj < g.ts[oldest]))) oldest = j;
      }
      if (k < 0) {
        k = oldest;
        if (g.ts[k] === g.ts[k]) this.incomplete++;
        g.ts[k] = t;
        g.sum.fill(0, k * roles, (k + 1) * roles);
        g.count.fill(0, k * roles, (k + 1) * roles);
      }
      g.sum[k * roles + input.role] += v;
      g.count[k * roles + input.role]++;
    }
    if (member !== undefined) member.last = last;
    if (!g.dirty) {
      g.dirty = true;
      this.touched.push(g);
    }
  }

  /**
   * The derived samples of every complete scrape since the last call, oldest first per group.
   * A scrape is complete when each member reported it (members silent for MEMBER_STALE_MS do
   * not count); an incomplete one older than a complete one is dropped.
   */
  flush(out: DerivedSample[]): void {
    for (const g of this.touched) {
      g.dirty = false;
      this.flushGroup(g, out);
    }
    this.touched.length = 0;
  }

  private flushGroup(g: DerivedGroup, out: DerivedSample[]): void {
    const f = g.formula;
    const roles = f.roles;
    // members still reporting, per role
    let newest = -Infinity;
    for (let j = 0; j < PENDING; j++) if (g.ts[j] > newest) newest = g.ts[j];
    const expect = new Int32Array(roles);
    for (const m of g.members.values()) if (m.last >= newest - MEMBER_STALE_MS) expect[m.role]++;
    for (;;) {
      // the oldest pending timestamp
      let k = -1;
      for (let j = 0; j < PENDING; j++) if (g.ts[j] === g.ts[j] && (k < 0 || g.ts[j] < g.ts[k])) k = j;
      if (k < 0) return;
      let complete = true;
      let present = 0;
      for (let r = 0; r < roles; r++) {
        const c = g.count[k * roles + r];
        if (c > 0) present |= 1 << r;
        if (c < expect[r]) complete = false;
      }
      if ((present & f.required) !== f.required) complete = false;
      if (!complete) {
        // wait for the rest, unless a later scrape is already complete (this one never will be)
        if (!this.laterComplete(g, k, expect)) return;
        this.incomplete++;
        g.ts[k] = NaN;
        continue;
      }
      const t = g.ts[k];
      g.ts[k] = NaN;
      const sums = g.sum.subarray(k * roles, (k + 1) * roles);
      if (f === CONTAINER_MEMORY && !(sums[1] > 0)) {
        const lim = this.limits.get(g.containerKey);
        if (lim !== undefined) sums[1] = lim;
      }
      let members = 0;
      for (let r = 0; r < roles; r++) members += g.count[k * roles + r];
      let value: number;
      if (f.counter) {
        value = g.prev !== null && g.prevMembers === members ? f.combine(sums, g.prev) : NaN;
        g.prev = Float64Array.from(sums);
        g.prevMembers = members;
      } else {
        value = f.combine(sums, null);
      }
      g.lastEmitted = t;
      if (value === value) out.push({ group: g, ts: t, value });
      else if (!f.counter || g.prevMembers !== members) this.incomplete++;
    }
  }

  private laterComplete(g: DerivedGroup, k: number, expect: Int32Array): boolean {
    const roles = g.formula.roles;
    for (let j = 0; j < PENDING; j++) {
      if (j === k || !(g.ts[j] > g.ts[k])) continue;
      let ok = true;
      let present = 0;
      for (let r = 0; r < roles; r++) {
        if (g.count[j * roles + r] < expect[r]) ok = false;
        if (g.count[j * roles + r] > 0) present |= 1 << r;
      }
      if (ok && (present & g.formula.required) === g.formula.required) return true;
    }
    // all pending slots in use and the oldest still incomplete: the group has stalled on it
    for (let j = 0; j < PENDING; j++) if (g.ts[j] !== g.ts[j]) return false;
    return true;
  }

  /** Forget the groups of a partition (revoked); their inputs are bound again when they come back. */
  dropPartition(partition: number): void {
    for (const [k, g] of this.groups) if (g.partition === partition) this.groups.delete(k);
  }

  /** Derived series known (groups). */
  get size(): number {
    return this.groups.size;
  }
}

/** Stand-in group of kube-state-metrics limit inputs. */
const LIMITS_GROUP = new DerivedGroup(CONTAINER_MEMORY, sortedLabels([['__name__', 'limits']]), '', -1);
