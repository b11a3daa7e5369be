// The building blocks of the config schema: one leaf per key with its type, default, bounds
// and doc. The schema (schema.ts) is the single place keys are declared; loading, env
// overrides, check-config and the README's key table all derive from it.

export type LeafType = 'string' | 'int' | 'number' | 'boolean' | 'enum' | 'stringList' | 'duration';

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
