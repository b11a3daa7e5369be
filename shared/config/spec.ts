// The building blocks of the config schema: one leaf per key with its type, default, bounds
// and doc. The schema (schema.ts) is the single place keys are declared; loading, env
// overrides, check-config and the README's key table all derive from it.

export type LeafType = 'string' | 'int' | 'number' | 'boolean' | 'enum' | 'stringList' | 'duration' | 'objectList';

export interface Leaf<T> {
  readonly leaf: true;
  readonly type: LeafType;
  readonly default: T;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Secret values are never printed (check-config, logs). */
  readonly secret?: boolean;
  /** `objectList`: the fields every item has (validated, defaults filled in). */
  readonly fields?: ObjectSpec;
}

export const str = (def: string, doc: string, opts: { secret?: boolean } = {}): Leaf<string> => ({
  leaf: true, type: 'string', default: def, doc, ...opts,
});
export const int = (def: number, doc: string, min = -Infinity, max = Infinity): Leaf<number> => ({
  leaf: true, type: 'int', default: def, doc, min, max,
});
export const num = (def: number, doc: string, min = -Infinity, max = Infinity): Leaf<number> => ({
  leaf: true, type: 'number', default: def, doc, min, max,
});
export const bool = (def: boolean, doc: string): Leaf<boolean> => ({ leaf: true, type: 'boolean', default: def, doc });
export const oneOf = <const V extends readonly string[]>(values: V, def: V[number], doc: string): Leaf<V[number]> => ({
  leaf: true, type: 'enum', default: def, doc, values,
});
export const list = (def: string[], doc: string): Leaf<string[]> => ({ leaf: true, type: 'stringList', default: def, doc });
/** A duration in milliseconds; written as `15s`, `5m`, `2h`, `1d`, `250ms` or a number of ms. */
export const duration = (def: string, doc: string, minMs = 0): Leaf<number> => ({
  leaf: true, type: 'duration', default: parseDuration(def) ?? 0, doc, min: minMs,
});

/** Field types of the items of an `objects` leaf. `secret`: a string written literally, as `env:NAME` or as `file:PATH` (resolved at load, never printed). */
export type FieldType = 'string' | 'int' | 'number' | 'boolean' | 'duration' | 'enum' | 'stringList' | 'stringMap' | 'json' | 'secret';

export interface FieldSpec {
  readonly type: FieldType;
  readonly doc: string;
  /** A missing required field is an error; a missing optional one takes `default`. */
  readonly required?: boolean;
  readonly default?: unknown;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** `string`: the whole value must match. */
  readonly pattern?: RegExp;
}

export type ObjectSpec = { readonly [field: string]: FieldSpec };

/**
 * A list of small records (PagerDuty routes, runbook rules): each item is validated against
 * `fields`, unknown fields are refused, errors name the item (`runbooks.rules[2].url`). `T` is
 * the item type the caller declares next to the fields. From the environment: a JSON array.
 */
export const objects = <T>(doc: string, fields: ObjectSpec): Leaf<T[]> => ({
  leaf: true, type: 'objectList', default: [], doc, fields,
});

/** Resolves `env:NAME` / `file:PATH` secret references; throws with the reason. */
export type SecretResolver = (ref: string) => string;

/**
 * Validates one `objects` leaf value and fills in defaults. Throws `{ at, message }` via `fail`,
 * with `at` the item path (`runbooks.rules[2].url`).
 */
export function validateObjectList(
  path: string, fields: ObjectSpec, value: unknown, resolveSecret: SecretResolver, fail: (at: string, why: string) => never,
): Record<string, unknown>[] {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (err) {
      fail(path, `must be a list of mappings (from the environment: a JSON array): ${(err as Error).message}`);
    }
  }
  if (!Array.isArray(v)) return fail(path, `must be a list of mappings, got ${JSON.stringify(v)}`);
  return v.map((item: unknown, i) => {
    const at = `${path}[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return fail(at, 'must be a mapping');
    const rec = item as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!(k in fields)) fail(`${at}.${k}`, `unknown field (known: ${Object.keys(fields).join(', ')})`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(fields)) {
      const fv = rec[k];
      if (fv === undefined || fv === null) {
        if (f.required) fail(`${at}.${k}`, `required (${f.doc})`);
        out[k] = structuredClone(f.default);
        continue;
      }
      out[k] = coerceField(`${at}.${k}`, f, fv, resolveSecret, fail);
    }
    return out;
  });
}

function coerceField(at: string, f: FieldSpec, v: unknown, resolveSecret: SecretResolver, fail: (at: string, why: string) => never): unknown {
  switch (f.type) {
    case 'string':
    case 'secret': {
      if (typeof v !== 'string' && typeof v !== 'number') return fail(at, `must be a string, got ${JSON.stringify(v)}`);
      let s = String(v);
      if (f.type === 'secret') {
        try {
          s = resolveSecret(s);
        } catch (err) {
          return fail(at, (err as Error).message);
        }
        if (s === '') return fail(at, 'is empty');
      }
      if (f.pattern && !f.pattern.test(s)) return fail(at, `must match ${f.pattern}, got ${JSON.stringify(s)}`);
      return s;
    }
    case 'int':
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return fail(at, `must be a number, got ${JSON.stringify(v)}`);
      if (f.type === 'int' && !Number.isInteger(n)) return fail(at, `must be a whole number, got ${n}`);
      if (n < (f.min ?? -Infinity) || n > (f.max ?? Infinity)) return fail(at, `must be between ${f.min ?? '-inf'} and ${f.max ?? 'inf'}, got ${n}`);
      return n;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      return fail(at, `must be true or false, got ${JSON.stringify(v)}`);
    case 'duration': {
      const ms = typeof v === 'number' ? v : typeof v === 'string' ? parseDuration(v) : null;
      if (ms === null || !Number.isFinite(ms)) return fail(at, `must be a duration like 30s, 5m, 1h, got ${JSON.stringify(v)}`);
      if (ms < (f.min ?? 0)) return fail(at, `must be at least ${formatDuration(f.min ?? 0)}, got ${JSON.stringify(v)}`);
      return ms;
    }
    case 'enum':
      if (typeof v === 'string' && f.values!.includes(v)) return v;
      return fail(at, `must be one of ${f.values!.join(', ')}, got ${JSON.stringify(v)}`);
    case 'stringList':
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
        if (f.values) for (const x of v) if (!f.values.includes(x)) fail(at, `items must be among ${f.values.join(', ')}, got ${JSON.stringify(x)}`);
        return [...v];
      }
      return fail(at, `must be a list of strings, got ${JSON.stringify(v)}`);
    case 'stringMap': {
      if (typeof v !== 'object' || Array.isArray(v)) return fail(at, `must be a mapping of strings, got ${JSON.stringify(v)}`);
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') fail(`${at}.${k}`, `must be a string, got ${JSON.stringify(x)}`);
        out[k] = String(x);
      }
      return out;
    }
    case 'json':
      return structuredClone(v);
  }
}

export type Schema = { readonly [k: string]: Leaf<unknown> | Schema };
export type ConfigOf<S> = { readonly [K in keyof S]: S[K] extends Leaf<infer T> ? T : ConfigOf<S[K]> };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse `1h30m`, `15s`, `250ms`, `2d` or a plain number of ms; null when malformed. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return pos === t.length && pos > 0 ? total : null;
}

export function formatDuration(ms: number): string {
  for (const [u, f] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

export function isLeaf(x: Leaf<unknown> | Schema): x is Leaf<unknown> {
  return (x as Leaf<unknown>).leaf === true;
}

/** `detector.minDuration` → `FORESHOCK_DETECTOR_MIN_DURATION` */
export function envName(path: string): string {
  return 'FORESHOCK_' + path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}
