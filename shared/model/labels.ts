// Series identity: a series is its sorted label set. Used by ingest (normalisation),
// the detector (series table keys) and the API (filters).

/** Labels of one series, sorted by name, `__name__` included. */
export type Labels = Readonly<Record<string, string>>;

/** Sort and freeze a label set; the returned object iterates in name order. */
export function sortedLabels(pairs: Iterable<readonly [string, string]>): Labels {
  const arr = Array.from(pairs).filter(([, v]) => v !== '');
  arr.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Record<string, string> = {};
  for (const [k, v] of arr) out[k] = v;
  return Object.freeze(out);
}

/**
 * Canonical series key: `name{a="1",b="2"}` with labels in name order and values escaped
 * as in the Prometheus exposition format. Stable across processes and restarts.
 */
export function seriesKey(labels: Labels): string {
  const name = labels.__name__ ?? '';
  let s = name + '{';
  let first = true;
  for (const k of Object.keys(labels).sort()) {
    if (k === '__name__') continue;
    if (!first) s += ',';
    first = false;
    s += k + '="' + escapeLabelValue(labels[k]) + '"';
  }
  return s + '}';
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Parse a key made by `seriesKey` back into labels (for API queries). */
export function parseSeriesKey(key: string): Labels | null {
  const open = key.indexOf('{');
  if (open < 0 || !key.endsWith('}')) return null;
  const pairs: [string, string][] = [];
  const name = key.slice(0, open);
  if (name) pairs.push(['__name__', name]);
  let i = open + 1;
  const end = key.length - 1;
  while (i < end) {
    const eq = key.indexOf('="', i);
    if (eq < 0) return null;
    const k = key.slice(i, eq);
    let j = eq + 2;
    let v = '';
    while (j < end && key[j] !== '"') {
      if (key[j] === '\\' && j + 1 < end) {
        const c = key[j + 1];
        v += c === 'n' ? '\n' : c;
        j += 2;
      } else {
        v += key[j++];
      }
    }
    if (key[j] !== '"') return null;
    pairs.push([k, v]);
    i = j + 1;
    if (key[i] === ',') i++;
  }
  return sortedLabels(pairs);
}
