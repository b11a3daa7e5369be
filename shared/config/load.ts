// Loads the one typed config object: defaults ← YAML file ← FORESHOCK_* environment.
// Validated once at start-up; a bad key or value throws ConfigError naming it.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors/index.js';
import { urlAllowed } from './allow-list.js';
import { SCHEMA, type ForeshockConfig } from './schema.js';
import { envName, formatDuration, isLeaf, parseDuration, validateObjectList, type Leaf, type Schema } from './spec.js';

/** Keys that existed once, and what replaced them (a config naming one is refused with this). */
const REMOVED_KEYS: Record<string, string> = {
  'state.snapshotPath': 'removed: the embedded state is durable in data.dir (state.kind=embedded, the default)',
  'bus.retainMessages': 'removed: the embedded bus retains by bytes and age (bus.retainBytes, bus.retainAge) and never deletes what is not consumed',
};

/** FORESHOCK_* variables that are not config keys (read by the CLI or tests). */
const NON_CONFIG_ENV = /^FORESHOCK_(CONFIG|TEST_.*|REQUIRE_SERVICES|RUN_DIR|NAB_DIR)$/;

export interface LoadOptions {
  /** YAML file path; falls back to env FORESHOCK_CONFIG. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Extra overrides (e.g. CLI flags), dotted paths. */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: ForeshockConfig;
  /** Where each non-default key came from, for check-config. */
  sources: Record<string, string>;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.FORESHOCK_CONFIG;
  const sources: Record<string, string> = {};
  const out: Record<string, unknown> = {};
  const leaves = new Map<string, Leaf<unknown>>();
  collectLeaves(SCHEMA, '', leaves);
  for (const [path, leaf] of leaves) setPath(out, path, leaf.default);

  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('--config', `cannot read ${file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      // The YAML parser recurses per level: refuse absurd nesting before it can blow the stack.
      if (textNesting(text) > MAX_NESTING) throw new ConfigError(file, `nests deeper than ${MAX_NESTING} levels`);
      doc = parseYaml(text);
    } catch (err) {
      throw new ConfigError(file, `not valid YAML: ${(err as Error).message}`);
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(file, 'top level must be a mapping');
      applyObject(doc as Record<string, unknown>, '', leaves, out, sources, file);
    }
  }

  const envToPath = new Map<string, string>();
  for (const path of leaves.keys()) envToPath.set(envName(path), path);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('FORESHOCK_') || raw === undefined || NON_CONFIG_ENV.test(name)) continue;
    const path = envToPath.get(name);
    const removed = Object.keys(REMOVED_KEYS).find((k) => envName(k) === name);
    if (removed !== undefined) throw new ConfigError(name, REMOVED_KEYS[removed]);
    if (!path) throw new ConfigError(name, `unknown environment variable (no config key ${name})`);
    setPath(out, path, coerce(path, leaves.get(path)!, raw, name));
    sources[path] = `env ${name}`;
  }

  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (REMOVED_KEYS[path] !== undefined) throw new ConfigError(path, REMOVED_KEYS[path]);
    const leaf = leaves.get(path);
    if (!leaf) throw new ConfigError(path, 'unknown key');
    setPath(out, path, coerce(path, leaf, value, path));
    sources[path] = 'command line';
  }

  resolveSecrets(out, leaves, env);
  const config = out as unknown as ForeshockConfig;
  crossCheck(config);
  return { config, sources };
}

function crossCheck(c: ForeshockConfig): void {
  if (c.detector.closeScore > c.detector.openScore) {
    throw new ConfigError('detector.closeScore', `must not exceed detector.openScore (${c.detector.openScore})`);
  }
  for (const url of c.alertmanager.url) {
    if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError('alertmanager.url', `"${url}" is not an http(s) URL`);
  }
  if (c.limits.bufferBytes < c.server.maxBodyBytes + c.server.maxDecodedBytes) {
    throw new ConfigError('limits.bufferBytes', `must hold one request at the size limits: at least server.maxBodyBytes + server.maxDecodedBytes (${c.server.maxBodyBytes + c.server.maxDecodedBytes})`);
  }
  if (c.queue.backoffBase > c.queue.backoffMax) {
    throw new ConfigError('queue.backoffBase', 'must not exceed queue.backoffMax');
  }
  if (c.pagerduty.routes.length > 0 && !/^https?:\/\/[^/]+/.test(c.pagerduty.url)) {
    throw new ConfigError('pagerduty.url', `"${c.pagerduty.url}" is not an http(s) URL`);
  }
  const ids = new Set<string>();
  c.runbooks.rules.forEach((r, i) => {
    if (ids.has(r.id)) throw new ConfigError(`runbooks.rules[${i}].id`, `duplicate runbook id "${r.id}"`);
    ids.add(r.id);
    if (!urlAllowed(r.url, c.runbooks.allowList)) {
      throw new ConfigError(`runbooks.rules[${i}].url`, `"${r.url}" is not covered by runbooks.allowList (${c.runbooks.allowList.join(', ') || 'empty'})`);
    }
  });
}

/**
 * Secret fields of `objects` items may be `env:NAME` or `file:PATH`: read here, once, with the
 * loader's environment (nothing below the loader reads process.env). Errors name the item field.
 */
function resolveSecrets(out: Record<string, unknown>, leaves: Map<string, Leaf<unknown>>, env: Record<string, string | undefined>): void {
  for (const [path, leaf] of leaves) {
    if (leaf.type !== 'objectList' || !leaf.fields) continue;
    const items = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], out) as Record<string, unknown>[];
    items.forEach((item, i) => {
      for (const [field, spec] of Object.entries(leaf.fields!)) {
        const ref = item[field];
        if (spec.type !== 'secret' || typeof ref !== 'string') continue;
        const at = `${path}[${i}].${field}`;
        if (ref.startsWith('env:')) {
          const v = env[ref.slice(4)];
          if (v === undefined || v === '') throw new ConfigError(at, `environment variable ${ref.slice(4)} is not set`);
          item[field] = v;
        } else if (ref.startsWith('file:')) {
          try {
            item[field] = readFileSync(ref.slice(5), 'utf8').trim();
          } catch (err) {
            throw new ConfigError(at, `cannot read secret file ${ref.slice(5)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
          }
          if (item[field] === '') throw new ConfigError(at, `secret file ${ref.slice(5)} is empty`);
        }
      }
    });
  }
}

function collectLeaves(schema: Schema, prefix: string, out: Map<string, Leaf<unknown>>): void {
  for (const [k, v] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isLeaf(v)) out.set(path, v);
    else collectLeaves(v, path, out);
  }
}

/** All keys with their leaf specs, in schema order (for docs and check-config). */
export function configKeys(): [string, Leaf<unknown>][] {
  const m = new Map<string, Leaf<unknown>>();
  collectLeaves(SCHEMA, '', m);
  return [...m];
}

function applyObject(
  obj: Record<string, unknown>, prefix: string, leaves: Map<string, Leaf<unknown>>,
  out: Record<string, unknown>, sources: Record<string, string>, file: string,
): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const leaf = leaves.get(path);
    if (leaf) {
      setPath(out, path, coerce(path, leaf, v, path));
      sources[path] = file;
      continue;
    }
    const isSection = [...leaves.keys()].some((p) => p.startsWith(path + '.'));
    if (REMOVED_KEYS[path] !== undefined) throw new ConfigError(path, REMOVED_KEYS[path]);
    if (!isSection) throw new ConfigError(path, 'unknown key' + suggest(path, leaves));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(path, 'must be a mapping of keys');
    applyObject(v as Record<string, unknown>, path, leaves, out, sources, file);
  }
}

function suggest(path: string, leaves: Map<string, Leaf<unknown>>): string {
  const last = path.split('.').pop()!.toLowerCase();
  const near = [...leaves.keys()].find((p) => p.toLowerCase().endsWith('.' + last) || p.toLowerCase().includes(last));
  return near ? ` (did you mean ${near}?)` : '';
}

/** Deepest nesting any config value may have; messages print values, which recurses. */
const MAX_NESTING = 64;

/** Nesting depth of a YAML or JSON text: open brackets and braces, or `- ` runs on one line (quotes and comments skipped). */
function textNesting(text: string): number {
  let depth = 0;
  let max = 0;
  let dashes = 0;
  let quote = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === 92 /* \ */ && quote === 34) i++;
      else if (c === quote) quote = 0;
      continue;
    }
    if (c === 34 || c === 39) quote = c;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth = Math.max(0, depth - 1);
    else if (c === 10) dashes = 0;
    else if (c === 45 && (i + 1 >= text.length || text.charCodeAt(i + 1) === 32)) max = Math.max(max, depth + ++dashes);
    else if (c === 35 && (i === 0 || text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 10)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl - 1;
    }
  }
  return max;
}

/** Nesting depth of a parsed value, without recursion. */
function valueNesting(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (d > max) max = d;
    if (d > MAX_NESTING || x === null || typeof x !== 'object') continue;
    for (const c of Object.values(x as object)) stack.push([c, d + 1]);
  }
  return max;
}

function coerce(path: string, leaf: Leaf<unknown>, v: unknown, where: string): unknown {
  const bad = (why: string): never => {
    throw new ConfigError(where === path ? path : `${where} (${path})`, why);
  };
  if (typeof v === 'string' ? leaf.type === 'objectList' && textNesting(v) > MAX_NESTING : valueNesting(v) > MAX_NESTING) {
    return bad(`nests deeper than ${MAX_NESTING} levels`);
  }
  switch (leaf.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      return bad(`must be a string, got ${JSON.stringify(v)}`);
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === '0' || v === 'no') return false;
      return bad(`must be true or false, got ${JSON.stringify(v)}`);
    case 'int':
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return bad(`must be a number, got ${JSON.stringify(v)}`);
      if (leaf.type === 'int' && !Number.isInteger(n)) return bad(`must be a whole number, got ${n}`);
      if (n < (leaf.min ?? -Infinity) || n > (leaf.max ?? Infinity)) return bad(`must be between ${leaf.min} and ${leaf.max}, got ${n}`);
      return n;
    }
    case 'duration': {
      const ms = typeof v === 'number' ? v : typeof v === 'string' ? parseDuration(v) : null;
      if (ms === null || !Number.isFinite(ms)) return bad(`must be a duration like 30s, 5m, 1h, got ${JSON.stringify(v)}`);
      if (ms < (leaf.min ?? 0)) return bad(`must be at least ${formatDuration(leaf.min ?? 0)}, got ${JSON.stringify(v)}`);
      return ms;
    }
    case 'enum':
      if (typeof v === 'string' && leaf.values!.includes(v)) return v;
      return bad(`must be one of ${leaf.values!.join(', ')}, got ${JSON.stringify(v)}`);
    case 'objectList':
      // Secret references stay as written here; resolveSecrets reads them once everything is merged.
      return validateObjectList(path, leaf.fields ?? {}, v, (ref) => ref, (at, why) => {
        throw new ConfigError(where === path ? at : `${where} (${at})`, why);
      });
    case 'stringList': {
      if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      return bad(`must be a list of strings or a comma-separated string, got ${JSON.stringify(v)}`);
    }
  }
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    o[parts[i]] ??= {};
    o = o[parts[i]] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]] = value;
}

/** Config as YAML-ready plain values with secrets masked (check-config output). */
export function describeConfig(config: ForeshockConfig): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [path, leaf] of configKeys()) {
    let v: unknown = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
    if (leaf.type === 'duration') v = formatDuration(v as number);
    if (leaf.secret && v) v = '***';
    if (leaf.type === 'objectList' && leaf.fields) {
      const secretFields = Object.entries(leaf.fields).filter(([, f]) => f.type === 'secret').map(([k]) => k);
      v = (v as Record<string, unknown>[]).map((item) => {
        const copy = { ...item };
        for (const k of secretFields) if (copy[k]) copy[k] = '***';
        return copy;
      });
    }
    flat[path] = v;
  }
  return flat;
}
