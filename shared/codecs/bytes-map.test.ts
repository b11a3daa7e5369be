import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BytesMap, hashBytes } from './bytes-map.js';

describe('BytesMap', () => {
  it('finds a value by the bytes it was stored under, wherever they sit, and nothing for other bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }), fc.constantFrom<((b: Uint8Array, s: number, e: number) => number) | undefined>(undefined, () => 1, (_b, s, e) => (e - s) & 1), (keys, hash) => {
        const m = new BytesMap<number>({ hash });
        const model = new Map<string, number>();
        keys.forEach((k, i) => {
          // Stored from inside a larger buffer: only the range counts.
          const host = new Uint8Array(k.length + 6);
          host.set(k, 3);
          m.set(host, 3, 3 + k.length, i);
          model.set(Buffer.from(k).toString('hex'), i);
        });
        expect(m.size).toBe(model.size);
        for (const k of keys) expect(m.get(k, 0, k.length)).toBe(model.get(Buffer.from(k).toString('hex')));
        const other = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41);
        expect(m.get(other, 0, other.length)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('keeps its copy of the bytes (the source buffer may be reused) and starts over when full', () => {
    const m = new BytesMap<string>({ maxEntries: 2 });
    const buf = Uint8Array.of(1, 2, 3);
    m.set(buf, 0, 3, 'a');
    buf[0] = 9;
    expect(m.get(Uint8Array.of(1, 2, 3), 0, 3)).toBe('a');
    expect(m.get(buf, 0, 3)).toBeUndefined();
    m.set(buf, 0, 3, 'b');
    m.set(Uint8Array.of(7), 0, 1, 'c');
    expect(m.size).toBe(1);
    expect(m.get(Uint8Array.of(7), 0, 1)).toBe('c');
  });

  it('may hash a prefix only and still tells apart ranges that share it', () => {
    const m = new BytesMap<string>();
    const a = Uint8Array.of(1, 2, 3, 4, 5);
    const b = Uint8Array.of(1, 2, 3, 9, 9);
    m.set(a, 0, 5, 'a', 3);
    m.set(b, 0, 5, 'b', 3);
    expect(m.get(a, 0, 5, 3)).toBe('a');
    expect(m.get(b, 0, 5, 3)).toBe('b');
    expect(m.get(Uint8Array.of(1, 2, 3, 4, 6), 0, 5, 3)).toBeUndefined();
    expect(m.size).toBe(2);
  });

  it('hashes every byte: a change anywhere changes the hash of these samples', () => {
    const base = new TextEncoder().encode('node_metric_12{cluster="ac123",host="ac123-h1",job="node"}');
    const h = hashBytes(base, 0, base.length);
    for (let i = 0; i < base.length; i++) {
      const b = base.slice();
      b[i] ^= 1;
      expect(hashBytes(b, 0, b.length)).not.toBe(h);
    }
    expect(h).toBeGreaterThanOrEqual(0);
    expect(h).toBeLessThan(2 ** 30);
  });
});
