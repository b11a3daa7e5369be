// UTF-8 string helpers for the binary codecs (remote-write labels, sample batches): label
// names and values repeat across a request, so short ASCII strings come from a small cache.

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

const CACHE_SIZE = 4096;
const CACHE_MASK = CACHE_SIZE - 1;
const MAX_CACHED = 64;
const cacheStr: string[] = new Array<string>(CACHE_SIZE).fill('');
const cacheHash = new Int32Array(CACHE_SIZE);

/**
 * Decode `buf[start, end)` as UTF-8 (invalid sequences become U+FFFD, never an error).
 * Short ASCII strings are interned: decoding the same bytes twice usually returns the same
 * string without allocating.
 */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > MAX_CACHED) return decoder.decode(buf.subarray(start, end));
  let h = n;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
    h = Math.imul(h ^ c, 0x01000193);
  }
  const slot = (h ^ (h >>> 15)) & CACHE_MASK;
  const cached = cacheStr[slot];
  if (cacheHash[slot] === h && cached.length === n) {
    let same = true;
    for (let j = 0; j < n; j++) {
      if (cached.charCodeAt(j) !== buf[start + j]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const s = asciiString(buf, start, end);
  cacheStr[slot] = s;
  cacheHash[slot] = h;
  return s;
}

function asciiString(buf: Uint8Array, start: number, end: number): string {
  // Below 13 characters V8 builds concatenations as flat strings; longer ones would become
  // rope (cons) strings, slow to compare against later, so build those in one call.
  if (end - start <= 12) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
}

/** Number of bytes `s` takes as UTF-8 (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2; // 4 bytes for 2 UTF-16 units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * Write `s` as UTF-8 at `buf[pos]`; the caller has made room for `utf8Length(s)` bytes.
 * Returns the position after the string.
 */
export function writeUtf8(buf: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  // ASCII loop first: label names and values almost always are.
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[pos++] = c;
  }
  if (i === n) return pos;
  const r = encoder.encodeInto(s.slice(i), buf.subarray(pos));
  return pos + r.written;
}
