// Options merging for the embedded adapters: a key left out or set to undefined takes its
// default, so callers can pass `config.x || undefined` straight through.

export function withDefaults<T extends object>(defaults: Readonly<Required<T>>, options: T): Required<T> {
  const out = { ...defaults } as Required<T>;
  for (const k of Object.keys(options) as (keyof T)[]) {
    const v = options[k];
    if (v !== undefined) out[k] = v as Required<T>[keyof T];
  }
  return out;
}
