// A map keyed by byte ranges, for caching what an encoded thing means (a series' label bytes in
// a remote-write body, a series identity in a sample batch): a hit costs one hash and one
// comparison of the bytes, no string. Entries are verified against the bytes, so hash
// collisions only cost a longer chain.

/** Hash of `buf[start, end)`, 4 bytes a step, kept in small-integer range (a map key that never needs a heap number). */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)), 0x01000193);
    h ^= h >>> 13;
  }
  for (; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

interface Entry<V> {
  readonly bytes: Buffer;
  value: V;
  next: Entry<V> | null;
}

export interface BytesMapOptions {
  /** Entries kept; past it the map starts over empty (a cheap bound). Default 1_000_000. */
  maxEntries?: number;
  /** Replaceable so tests can force collisions. Default `hashBytes`. */
  hash?: (buf: Uint8Array, start: number, end: number) => number;
}

export class BytesMap<V> {
  private map = new Map<number, Entry<V>>();
  private count = 0;
  private readonly maxEntries: number;
  private readonly hash: (buf: Uint8Array, start: number, end: number) => number;

  constructor(options: BytesMapOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000_000;
    this.hash = options.hash ?? hashBytes;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The value stored for exactly the bytes `buf[start, end)`, or undefined. `hashEnd` hashes
   * only `buf[start, hashEnd)` (a prefix that tells entries apart well enough, to hash fewer
   * bytes); the comparison is always over the whole range. Use the same `hashEnd` rule for
   * `set` and `get`.
   */
  get(buf: Uint8Array, start: number, end: number, hashEnd = end): V | undefined {
    const n = end - start;
    for (let e = this.map.get(this.hash(buf, start, hashEnd)) ?? null; e !== null; e = e.next) {
      // Native comparison: cheaper than a JS loop beyond a few dozen bytes.
      if (e.bytes.length === n && e.bytes.compare(buf, start, end) === 0) return e.value;
    }
    return undefined;
  }

  /** Store `value` for the bytes `buf[start, end)` (copied), replacing what was stored for them. */
  set(buf: Uint8Array, start: number, end: number, value: V, hashEnd = end): void {
    const h = this.hash(buf, start, hashEnd);
    const n = end - start;
    for (let e = this.map.get(h) ?? null; e !== null; e = e.next) {
      if (e.bytes.length === n && e.bytes.compare(buf, start, end) === 0) {
        e.value = value;
        return;
      }
    }
    if (this.count >= this.maxEntries) this.clear();
    const bytes = Buffer.allocUnsafe(n); // every byte is written below
    bytes.set(buf.subarray(start, end));
    this.map.set(h, { bytes, value, next: this.map.get(h) ?? null });
    this.count++;
  }

  clear(): void {
    this.map = new Map();
    this.count = 0;
  }
}
