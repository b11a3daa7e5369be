// The metric catalogue: per metric (or name pattern) of the exporters teams run, its role
// (signal: may page; context: scored and shown, never pages alone; ignored: not scored), its
// kind (detector profile, counter or not), the direction that matters and its saturation
// model. A data file ships with Foreshock (metrics.yaml beside this file); files named in
// `catalogue.files` come first, so a team extends or overrides it without editing it.
// Looked up once per series (cold path), never per sample.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../config/spec.js';
import { ConfigError } from '../errors/index.js';

export const METRIC_ROLES = ['signal', 'context', 'ignored'] as const;
export type MetricRole = (typeof METRIC_ROLES)[number];
/** Detector profile kinds (services/detector/engine/profiles.ts names the same). */
export const CATALOGUE_KINDS = ['gauge', 'ratio', 'rate', 'latency', 'counter'] as const;
export type CatalogueKind = (typeof CATALOGUE_KINDS)[number];
export const DIRECTIONS = ['up', 'down', 'both'] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const UNITS = ['bytes', 'seconds', 'ratio', 'percent', 'count', 'per_second', 'celsius', 'info'] as const;
export type Unit = (typeof UNITS)[number];
export const PAGE_ON = ['threshold', 'forecast', 'anomaly'] as const;
export type PageOn = (typeof PAGE_ON)[number];

/** A saturation model: where the series pages, and what "time to saturation" counts to. */
export interface Saturation {
  /** The value at or beyond which (in `direction`) the series is saturated. */
  threshold: number;
  /** `above`: saturated at or above the threshold (direction up); `below`: at or below. */
  direction: 'above' | 'below';
  /** How long the value must stay saturated before it pages, ms. */
  forMs: number;
  /** The value the forecast's crossing is predicted for (null: no forecast). */
  capacity: number | null;
  /** How far ahead a crossing of `capacity` is worth a warning, ms. */
  horizonMs: number;
  /** The quantity accumulates (disk, memory): a fast fill is forecast from its recent steps too. */
  fills: boolean;
}

/** What the catalogue says of one series. */
export interface MetricInfo {
  role: MetricRole;
  /** Detector profile kind; null: guessed from the name (Prometheus naming conventions). */
  kind: CatalogueKind | null;
  direction: Direction;
  unit: Unit | null;
  saturation: Saturation | null;
  /** What of a signal pages (empty for context and ignored). */
  pagesOn: readonly PageOn[];
  /** Words of a page about it, a template: "disk {mountpoint|path} on {host} nearly full" ('' when none; see fillTemplate). */
  summary: string;
  /** Words of a forecast about it ("disk {mountpoint|path} on {host} full"), followed by "in about …" ('' when none). */
  forecast: string;
  /** Severity of its saturation page (forecasts always warn). */
  severity: 'warning' | 'critical';
  /** The `match` of the entry that decided (null: no entry matched, the default applied). */
  entry: string | null;
}

/** One catalogue entry as written in a file. */
export interface CatalogueEntry {
  match: string;
  labels?: Record<string, string>;
  role: MetricRole;
  kind?: CatalogueKind;
  direction?: Direction;
  unit?: Unit;
  threshold?: number;
  for?: string;
  capacity?: number | 'none';
  horizon?: string;
  pages?: PageOn[];
  summary?: string;
  forecast?: string;
  severity?: 'warning' | 'critical';
  fills?: boolean;
}

interface CompiledEntry {
  readonly name: RegExp | string;
  readonly labels: readonly [string, RegExp | string][];
  readonly info: MetricInfo;
}

const DEFAULT_FOR_MS = 5 * 60_000;
const DEFAULT_HORIZON_MS = 3_600_000;

/**
 * A glob (`*` = any run of characters, everything else literal) as an anchored regex, or the
 * string itself when it has no `*`. Built from escaped literals and `.*` only: no nested
 * quantifiers, so matching is linear in the name.
 */
function glob(pattern: string): RegExp | string {
  if (!pattern.includes('*')) return pattern;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

function test(m: RegExp | string, s: string): boolean {
  return typeof m === 'string' ? m === s : m.test(s);
}

function oneOf<T extends string>(where: string, key: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ConfigError(where, `${key} must be one of ${values.join(', ')} (got ${JSON.stringify(v)})`);
  }
  return v as T;
}

function durationOf(where: string, key: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null || ms < 0) throw new ConfigError(where, `${key} must be a duration like 30s, 5m, 4h (got ${JSON.stringify(v)})`);
  return ms;
}

const ENTRY_KEYS = new Set(['match', 'labels', 'role', 'kind', 'direction', 'unit', 'threshold', 'for', 'capacity', 'horizon', 'pages', 'summary', 'forecast', 'severity', 'fills']);

/** Validates and compiles one entry; `where` names it in errors (`file.yaml entries[3]`). */
function compile(raw: unknown, where: string): CompiledEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(where, 'must be a mapping with at least match and role');
  const e = raw as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!ENTRY_KEYS.has(k)) throw new ConfigError(where, `unknown key "${k}" (known: ${[...ENTRY_KEYS].join(', ')})`);
  if (typeof e.match !== 'string' || e.match === '') throw new ConfigError(where, 'match must be a metric name or a pattern with *');
  const role = oneOf(where, 'role', e.role, METRIC_ROLES);
  const kind = e.kind === undefined ? null : oneOf(where, 'kind', e.kind, CATALOGUE_KINDS);
  const direction = e.direction === undefined ? 'both' : oneOf(where, 'direction', e.direction, DIRECTIONS);
  const unit = e.unit === undefined ? null : oneOf(where, 'unit', e.unit, UNITS);
  const labels: [string, RegExp | string][] = [];
  if (e.labels !== undefined) {
    if (e.labels === null || typeof e.labels !== 'object' || Array.isArray(e.labels)) throw new ConfigError(where, 'labels must be a mapping of label name to glob');
    for (const [k, v] of Object.entries(e.labels as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new ConfigError(where, `labels.${k} must be a string`);
      labels.push([k, glob(v)]);
    }
  }
  let saturation: Saturation | null = null;
  if (e.threshold !== undefined) {
    if (typeof e.threshold !== 'number' || !Number.isFinite(e.threshold)) throw new ConfigError(where, `threshold must be a number (got ${JSON.stringify(e.threshold)})`);
    if (direction === 'both') throw new ConfigError(where, 'a threshold needs direction up or down');
    let capacity: number | null = e.threshold;
    if (e.capacity === 'none') capacity = null;
    else if (e.capacity !== undefined) {
      if (typeof e.capacity !== 'number' || !Number.isFinite(e.capacity)) throw new ConfigError(where, `capacity must be a number or none (got ${JSON.stringify(e.capacity)})`);
      capacity = e.capacity;
    }
    saturation = {
      threshold: e.threshold,
      direction: direction === 'up' ? 'above' : 'below',
      forMs: durationOf(where, 'for', e.for, DEFAULT_FOR_MS),
      capacity,
      horizonMs: durationOf(where, 'horizon', e.horizon, DEFAULT_HORIZON_MS),
      fills: e.fills === true,
    };
    if (e.fills !== undefined && typeof e.fills !== 'boolean') throw new ConfigError(where, `fills must be true or false (got ${JSON.stringify(e.fills)})`);
  } else {
    for (const k of ['for', 'capacity', 'horizon', 'fills'] as const) if (e[k] !== undefined) throw new ConfigError(where, `${k} needs a threshold`);
  }
  let pagesOn: PageOn[] = [];
  if (role === 'signal') {
    if (e.pages !== undefined) {
      if (!Array.isArray(e.pages)) throw new ConfigError(where, `pages must be a list of ${PAGE_ON.join(', ')}`);
      pagesOn = e.pages.map((p) => oneOf(where, 'pages', p, PAGE_ON));
    } else if (saturation !== null) {
      pagesOn = saturation.capacity === null ? ['threshold'] : ['threshold', 'forecast'];
    } else {
      pagesOn = ['anomaly'];
    }
    if ((pagesOn.includes('threshold') || pagesOn.includes('forecast')) && saturation === null) throw new ConfigError(where, 'pages threshold/forecast needs a threshold');
  } else if (e.pages !== undefined) {
    throw new ConfigError(where, 'pages applies to signals only');
  }
  if (e.summary !== undefined && typeof e.summary !== 'string') throw new ConfigError(where, 'summary must be a string');
  if (e.forecast !== undefined && typeof e.forecast !== 'string') throw new ConfigError(where, 'forecast must be a string');
  const severity = e.severity === undefined ? 'critical' : oneOf(where, 'severity', e.severity, ['warning', 'critical'] as const);
  return {
    name: glob(e.match),
    labels,
    info: {
      role, kind, direction, unit, saturation, pagesOn, summary: (e.summary as string | undefined) ?? '', forecast: (e.forecast as string | undefined) ?? '', severity, entry: e.match,
    },
  };
}

/** What an unmatched metric gets: context (never pages alone), kind from its name. */
export const UNKNOWN_METRIC: Readonly<MetricInfo> = Object.freeze({
  role: 'context', kind: null, direction: 'both', unit: null, saturation: null, pagesOn: [], summary: '', forecast: '', severity: 'warning', entry: null,
});

export class Catalogue {
  private readonly entries: readonly CompiledEntry[];
  /** Entries that look at labels (names alone decide for the others: their answers are cached per name). */
  private readonly byName = new Map<string, MetricInfo | null>();
  private readonly labelled: boolean;

  constructor(entries: readonly CompiledEntry[]) {
    this.entries = entries;
    this.labelled = entries.some((e) => e.labels.length > 0);
  }

  /** The entry for a series (first match wins), or UNKNOWN_METRIC. */
  lookup(name: string, labels: Readonly<Record<string, string>> = {}): MetricInfo {
    if (!this.labelled) {
      let hit = this.byName.get(name);
      if (hit === undefined) {
        hit = this.scan(name, labels);
        if (this.byName.size < 100_000) this.byName.set(name, hit);
      }
      return hit ?? UNKNOWN_METRIC;
    }
    return this.scan(name, labels) ?? UNKNOWN_METRIC;
  }

  /** The role alone (ingest and detector use it to skip ignored series). */
  role(name: string, labels: Readonly<Record<string, string>> = {}): MetricRole {
    return this.lookup(name, labels).role;
  }

  private scan(name: string, labels: Readonly<Record<string, string>>): MetricInfo | null {
    for (const e of this.entries) {
      if (!test(e.name, name)) continue;
      let ok = true;
      for (const [k, m] of e.labels) {
        const v = Object.prototype.hasOwnProperty.call(labels, k) ? labels[k] : '';
        if (!test(m, v)) {
          ok = false;
          break;
        }
      }
      if (ok) return e.info;
    }
    return null;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Every saturation model with its kind (the detector builds one profile per distinct pair at start). */
  saturations(): { kind: CatalogueKind | null; saturation: Saturation }[] {
    return this.entries.filter((e) => e.info.saturation !== null).map((e) => ({ kind: e.info.kind, saturation: e.info.saturation! }));
  }
}

/** The catalogue shipped with Foreshock: next to this file in the sources, or back in the sources from dist/. */
export function builtinCataloguePath(): string {
  for (const rel of ['./metrics.yaml', '../../../shared/catalogue/metrics.yaml']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new ConfigError('catalogue', 'the shipped metric catalogue (shared/catalogue/metrics.yaml) is missing');
}

/** Entries of one catalogue document (`entries:` list). */
export function parseCatalogue(text: string, where: string): CompiledEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(where, `not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { entries?: unknown }).entries)) {
    throw new ConfigError(where, 'must be a mapping with an `entries:` list');
  }
  return ((doc as { entries: unknown[] }).entries).map((e, i) => compile(e, `${where} entries[${i}]`));
}

/** The catalogue: entries of `files` (in order) before the shipped ones. */
export function loadCatalogue(files: readonly string[] = [], options: { builtin?: boolean } = {}): Catalogue {
  const all: CompiledEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new ConfigError('catalogue.files', `cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    all.push(...parseCatalogue(text, f));
  }
  if (options.builtin !== false) {
    const p = builtinCataloguePath();
    all.push(...parseCatalogue(readFileSync(p, 'utf8'), 'shared/catalogue/metrics.yaml'));
  }
  return new Catalogue(all);
}

let shipped: Catalogue | null = null;
/** The shipped catalogue alone, loaded once (tests, tools). */
export function shippedCatalogue(): Catalogue {
  return (shipped ??= loadCatalogue());
}

/**
 * Whether an event about a series may page: it must be a signal whose entry pages on this
 * family of event (`threshold` for saturation), and an anomaly must go the way that matters
 * (`value` against `expected`).
 */
export function eventPages(info: MetricInfo, family: 'anomaly' | 'forecast' | 'saturation', value: number, expected: number): boolean {
  if (info.role !== 'signal') return false;
  if (family === 'saturation') return info.pagesOn.includes('threshold');
  if (family === 'forecast') return info.pagesOn.includes('forecast');
  if (!info.pagesOn.includes('anomaly')) return false;
  if (info.direction === 'up') return value > expected;
  if (info.direction === 'down') return value < expected;
  return true;
}

/**
 * Fills a catalogue template: `{name}` is the value of label `name`, `{a|b}` the first of them
 * present, `{host}` the series' host; a label that is absent reads `?`.
 */
export function fillTemplate(template: string, labels: Readonly<Record<string, string>>, host: string): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*(?:\|[A-Za-z_][A-Za-z0-9_]*)*)\}/g, (_, names: string) => {
    for (const n of names.split('|')) {
      if (n === 'host' && host !== '') return host;
      if (Object.prototype.hasOwnProperty.call(labels, n) && labels[n] !== '') return labels[n];
    }
    return '?';
  });
}

/** A time ahead in the unit a person would say it: "40 s", "25 min", "3 h", "6 d". */
export function formatAhead(ms: number, unitOf = ms): string {
  const a = Math.abs(unitOf);
  const [div, unit] = a < 120_000 ? [1000, 's'] : a < 2 * 3_600_000 ? [60_000, 'min'] : a < 48 * 3_600_000 ? [3_600_000, 'h'] : [86_400_000, 'd'];
  return `${Math.max(0, Math.round(ms / div))} ${unit}`;
}

/** "in about 3 h (2–5 h)": an expected time ahead with its interval, in one unit. */
export function inAbout(expectedMs: number, earliestMs: number, latestMs: number): string {
  const mean = formatAhead(expectedMs);
  const unit = mean.split(' ')[1];
  const lo = formatAhead(earliestMs, expectedMs).split(' ')[0];
  const hi = Number.isFinite(latestMs) ? formatAhead(latestMs, expectedMs).split(' ')[0] : '?';
  return `in about ${mean} (${lo}–${hi} ${unit})`;
}
