// Reads Prometheus's own /metrics (text exposition format 0.0.4) for bench:vs-promql: the
// counters it reports about itself (CPU, rule evaluations) as plain numbers.

export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

/**
 * Samples of an exposition body (comments and blank lines skipped). Throws a RangeError naming
 * the line for a line that is not a sample, so a format change fails loudly.
 */
export function parseMetricsText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new RangeError(`metrics line ${i + 1}: not a sample: ${line.slice(0, 120)}`);
    const labels: Record<string, string> = {};
    if (m[3] !== undefined) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let l = LABEL.exec(m[3]); l !== null; l = LABEL.exec(m[3])) {
        if (l.index !== consumed) break;
        labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed = LABEL.lastIndex;
      }
      if (consumed !== m[3].length) throw new RangeError(`metrics line ${i + 1}: bad labels: ${m[3].slice(0, 120)}`);
    }
    const raw = m[4];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new RangeError(`metrics line ${i + 1}: bad value ${raw}`);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`; NaN when none matches. */
export function sumOf(samples: readonly MetricSample[], name: string, match: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    let ok = true;
    for (const k in match) if (s.labels[k] !== match[k]) ok = false;
    if (!ok) continue;
    sum += s.value;
    found = true;
  }
  return found ? sum : NaN;
}
