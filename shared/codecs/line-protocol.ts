// InfluxDB line protocol: parsing bodies from Telegraf and /api/v2/write (receiver, ingest)
// and writing points (metric sink, tests). One index-based pass, no regular expressions.

import { BadRequestError } from '../errors/index.js';

export type Precision = 'ns' | 'us' | 'ms' | 's';
export type FieldValue = number | string | boolean;
export type FieldType = 'float' | 'integer' | 'uinteger' | 'string' | 'boolean';

export interface LineProtocolPoint {
  measurement: string;
  /** Tag pairs in line order (unescaped). The pair arrays are reused too. */
  tags: [string, string][];
  fieldKeys: string[];
  fieldTypes: FieldType[];
  /**
   * float, integer and uinteger fields are numbers (integers beyond ±2^53 are rounded to the
   * nearest double), strings are unescaped, booleans are booleans.
   */
  fieldValues: FieldValue[];
  /** Milliseconds since the epoch (fractional below 1 ms), or null when the line has none. */
  timestampMs: number | null;
  /** 1-based line the point starts on, counting newlines inside string fields. */
  line: number;
}

export interface LineProtocolError {
  line: number;
  /** Complete message including the line, e.g. `line 3: missing fields`. */
  message: string;
}

export interface ParseResult {
  points: number;
  /** The first MAX_LINE_ERRORS rejected lines, in body order. */
  errors: LineProtocolError[];
  /** All rejected lines (errors past the first MAX_LINE_ERRORS are counted, not kept). */
  badLines: number;
}

/** Rejected lines kept with their message: a body of millions of bad lines stays cheap. */
export const MAX_LINE_ERRORS = 100;
/** Above this many tags or fields on a line, duplicates are found with a set, not a scan. */
const SMALL_LINE = 16;
/** Longest excerpt of the input quoted in an error message. */
const MAX_EXCERPT = 100;

/** `s`, cut to MAX_EXCERPT characters for an error message. */
function clip(s: string): string {
  return s.length <= MAX_EXCERPT ? s : `${s.slice(0, MAX_EXCERPT)}... (${s.length} characters)`;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const EQUALS = 61;
const BACKSLASH = 92;
const ZERO = 48;
const NINE = 57;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';
const UINT64_MAX = '18446744073709551615';
/** int64 nanoseconds, the range InfluxDB accepts, in ms. */
const MAX_TIME_MS = 9223372036854.775807;

/** What an element of a line may escape with a backslash (besides the backslash itself). */
const ESC_MEASUREMENT = 0;
const ESC_KEY = 1;

/**
 * Parse a line-protocol body. Calls `onPoint` for every good line; the point object, its
 * arrays and tag pairs are reused between calls, so copy what you keep. Bad lines are collected with their
 * 1-based line numbers (counting raw newlines inside string fields) and parsing continues.
 * Timestamps are read in `precision` units and reported in ms.
 */
export function parseLineProtocol(body: string, precision: Precision, onPoint: (p: LineProtocolPoint) => void): ParseResult {
  return new LineParser(body, precision).run(onPoint);
}

class LineParser {
  private readonly s: string;
  private readonly len: number;
  private readonly dropDigits: number;
  private readonly scale: number;
  private pos = 0;
  private line = 1;
  private err = '';
  private readonly point: LineProtocolPoint = {
    measurement: '',
    tags: [],
    fieldKeys: [],
    fieldTypes: [],
    fieldValues: [],
    timestampMs: null,
    line: 0,
  };
  private nTags = 0;
  private nFields = 0;
  private escaped = false;
  /** Keys of the current line once it has more than SMALL_LINE tags / fields (field → index). */
  private tagKeys: Set<string> | null = null;
  private fieldIndex: Map<string, number> | null = null;

  constructor(body: string, precision: Precision) {
    this.s = body;
    this.len = body.length;
    // Timestamps become ms as hi + lo / 10^dropDigits (ns, us) or value * scale (s, ms).
    this.dropDigits = precision === 'ns' ? 6 : precision === 'us' ? 3 : 0;
    this.scale = precision === 's' ? 1000 : 1;
    if (precision !== 'ns' && precision !== 'us' && precision !== 'ms' && precision !== 's') {
      throw new BadRequestError('FS_LP_PRECISION', `unknown precision "${String(precision)}": use ns, us, ms or s`);
    }
  }

  run(onPoint: (p: LineProtocolPoint) => void): ParseResult {
    const s = this.s;
    const len = this.len;
    const errors: LineProtocolError[] = [];
    let points = 0;
    let badLines = 0;
    while (this.pos < len) {
      const c = s.charCodeAt(this.pos);
      if (c === LF) {
        this.pos++;
        this.line++;
        continue;
      }
      if (c === SPACE || c === TAB || c === CR) {
        this.pos++;
        continue;
      }
      if (c === HASH) {
        const nl = s.indexOf('\n', this.pos);
        this.pos = nl < 0 ? len : nl;
        continue;
      }
      const startLine = this.line;
      const lineStart = this.pos;
      if (this.parsePoint(startLine)) {
        points++;
        onPoint(this.point);
      } else {
        if (++badLines <= MAX_LINE_ERRORS) errors.push({ line: startLine, message: `line ${startLine}: ${this.err}` });
        this.skipLine(lineStart, startLine);
      }
    }
    return { points, errors, badLines };
  }

  private fail(message: string): false {
    this.err = message;
    return false;
  }

  /** True when `pos` ends the line: end of body, LF, or CR before LF / at the end. */
  private eol(pos: number): boolean {
    if (pos >= this.len) return true;
    const c = this.s.charCodeAt(pos);
    if (c === LF) return true;
    if (c === CR) return pos + 1 >= this.len || this.s.charCodeAt(pos + 1) === LF;
    return false;
  }

  /**
   * After a bad line, find where it ends the way InfluxDB does: a newline ends the line unless
   * it is inside a double-quoted field value. Keeps the line counter right.
   */
  private skipLine(from: number, startLine: number): void {
    const s = this.s;
    const len = this.len;
    let i = from;
    let line = startLine;
    let quoted = false;
    let fields = false;
    let equals = 0;
    let commas = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < len && s.charCodeAt(i + 1) !== LF) {
        i += 2;
        continue;
      }
      if (c === LF) {
        if (!quoted) break;
        line++;
      } else if (c === SPACE && !quoted) {
        fields = true;
      } else if (fields) {
        if (!quoted && c === EQUALS) equals++;
        else if (!quoted && c === COMMA) commas++;
        else if (c === QUOTE && equals > commas) quoted = !quoted;
      }
      i++;
    }
    this.pos = i;
    this.line = line;
  }

  /**
   * Scan an escaped element up to an unescaped stop character; returns its end and sets
   * `escaped` when a backslash was seen (only then does the element need unescaping).
   */
  private scanEscaped(stopAtEquals: boolean): number {
    const s = this.s;
    const len = this.len;
    let i = this.pos;
    this.escaped = false;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH) {
        this.escaped = true;
        if (i + 1 < len && s.charCodeAt(i + 1) !== LF) i += 2;
        else i++;
        continue;
      }
      if (c === COMMA || c === SPACE || c === LF || (stopAtEquals && c === EQUALS)) break;
      if (c === CR && this.eol(i)) break;
      i++;
    }
    return i;
  }

  /** The element `[start, end)` just scanned by `scanEscaped`, unescaped when needed. */
  private text(start: number, end: number, kind: number, escaped: boolean): string {
    return escaped ? unescapeElement(this.s, start, end, kind) : this.s.substring(start, end);
  }

  private parsePoint(startLine: number): boolean {
    const s = this.s;
    const p = this.point;
    p.line = startLine;
    p.timestampMs = null;
    this.nTags = 0;
    this.nFields = 0;

    // Measurement.
    const mStart = this.pos;
    const mEnd = this.scanEscaped(false);
    if (mEnd === mStart) return this.fail('missing measurement');
    p.measurement = this.text(mStart, mEnd, ESC_MEASUREMENT, this.escaped);
    this.pos = mEnd;
    if (this.eol(mEnd)) {
      p.tags.length = 0;
      return this.fail('missing fields');
    }

    // Tags.
    while (s.charCodeAt(this.pos) === COMMA) {
      this.pos++;
      const kStart = this.pos;
      const kEnd = this.scanEscaped(true);
      if (kEnd === kStart) return this.fail('missing tag key');
      const key = this.text(kStart, kEnd, ESC_KEY, this.escaped);
      if (this.eol(kEnd) || s.charCodeAt(kEnd) !== EQUALS) return this.fail(`missing tag value for "${clip(key)}"`);
      this.pos = kEnd + 1;
      const vStart = this.pos;
      // Tag values end at an unescaped comma or space; an unescaped '=' is taken literally.
      const vEnd = this.scanEscaped(false);
      if (vEnd === vStart) return this.fail(`missing tag value for "${clip(key)}"`);
      const value = this.text(vStart, vEnd, ESC_KEY, this.escaped);
      const tags = p.tags;
      const nt = this.nTags;
      if (nt < SMALL_LINE) {
        for (let i = 0; i < nt; i++) if (tags[i][0] === key) return this.fail(`duplicate tag "${clip(key)}"`);
      } else {
        // Many tags: a scan per tag would be quadratic in the line's length.
        if (nt === SMALL_LINE) {
          this.tagKeys = new Set();
          for (let i = 0; i < nt; i++) this.tagKeys.add(tags[i][0]);
        }
        if (this.tagKeys!.has(key)) return this.fail(`duplicate tag "${clip(key)}"`);
        this.tagKeys!.add(key);
      }
      const t = tags[this.nTags];
      if (t === undefined) tags.push([key, value]);
      else {
        t[0] = key;
        t[1] = value;
      }
      this.nTags++;
      this.pos = vEnd;
      if (this.eol(vEnd)) {
        p.tags.length = this.nTags;
        return this.fail('missing fields');
      }
    }
    p.tags.length = this.nTags;

    // Fields.
    while (s.charCodeAt(this.pos) === SPACE) this.pos++;
    if (this.eol(this.pos)) return this.fail('missing fields');
    for (;;) {
      if (!this.parseField()) return false;
      const c = s.charCodeAt(this.pos);
      if (c === COMMA) {
        this.pos++;
        continue;
      }
      break;
    }
    // Arrays are filled by index and trimmed here: keeps their capacity from line to line.
    const nf = this.nFields;
    if (p.fieldKeys.length !== nf) {
      p.fieldKeys.length = nf;
      p.fieldTypes.length = nf;
      p.fieldValues.length = nf;
    }
    if (this.eol(this.pos)) return true;

    // Timestamp (after one or more spaces; trailing spaces alone mean none).
    while (s.charCodeAt(this.pos) === SPACE || s.charCodeAt(this.pos) === TAB) this.pos++;
    if (this.eol(this.pos)) return true;
    const tStart = this.pos;
    let tEnd = tStart;
    while (tEnd < this.len) {
      const c = s.charCodeAt(tEnd);
      if (c === SPACE || c === TAB || c === LF || (c === CR && this.eol(tEnd))) break;
      tEnd++;
    }
    if (!this.parseTimestamp(tStart, tEnd)) return false;
    this.pos = tEnd;
    while (s.charCodeAt(this.pos) === SPACE || s.charCodeAt(this.pos) === TAB) this.pos++;
    if (!this.eol(this.pos)) {
      let e = this.pos;
      while (!this.eol(e)) e++;
      return this.fail(`unexpected text after the timestamp: "${clip(s.substring(this.pos, e))}"`);
    }
    return true;
  }

  private parseField(): boolean {
    const s = this.s;
    const p = this.point;
    const kStart = this.pos;
    const kEnd = this.scanEscaped(true);
    if (kEnd === kStart) return this.fail('missing field key');
    if (this.eol(kEnd) || s.charCodeAt(kEnd) !== EQUALS) return this.fail(`invalid field format: "${clip(s.substring(kStart, kEnd))}" has no value`);
    const key = this.text(kStart, kEnd, ESC_KEY, this.escaped);
    let i = kEnd + 1;
    if (this.eol(i) || s.charCodeAt(i) === COMMA || s.charCodeAt(i) === SPACE) return this.fail(`missing field value for "${clip(key)}"`);

    let type: FieldType;
    let value: FieldValue;
    if (s.charCodeAt(i) === QUOTE) {
      // String: raw newlines allowed; \" and \\ are the only escapes.
      const vStart = ++i;
      let escaped = false;
      const len = this.len;
      let lines = 0;
      for (;;) {
        if (i >= len) return this.fail(`unterminated string for field "${clip(key)}"`);
        const c = s.charCodeAt(i);
        if (c === QUOTE) break;
        if (c === BACKSLASH && i + 1 < len) {
          escaped = true;
          if (s.charCodeAt(i + 1) === LF) lines++;
          i += 2;
          continue;
        }
        if (c === LF) lines++;
        i++;
      }
      this.line += lines;
      value = escaped ? unescapeString(s, vStart, i) : s.substring(vStart, i);
      type = 'string';
      i++;
      if (!this.eol(i) && s.charCodeAt(i) !== COMMA && s.charCodeAt(i) !== SPACE) {
        let e = i;
        while (!this.eol(e) && s.charCodeAt(e) !== COMMA && s.charCodeAt(e) !== SPACE) e++;
        return this.fail(`invalid field value for "${clip(key)}": unexpected text after the closing quote: "${clip(s.substring(i, e))}"`);
      }
    } else {
      const vStart = i;
      const len = this.len;
      while (i < len) {
        const c = s.charCodeAt(i);
        if (c === COMMA || c === SPACE || c === LF || (c === CR && this.eol(i))) break;
        i++;
      }
      const vEnd = i;
      const last = s.charCodeAt(vEnd - 1);
      const first = s.charCodeAt(vStart);
      let v: number | boolean = NaN;
      if (last === 105 /* i */) {
        v = parseInteger(s, vStart, vEnd - 1, false);
        type = 'integer';
      } else if (last === 117 /* u */) {
        v = parseInteger(s, vStart, vEnd - 1, true);
        type = 'uinteger';
      } else if (first === 116 || first === 84 || first === 102 || first === 70 /* t T f F */) {
        const b = parseBoolean(s, vStart, vEnd);
        if (b !== null) v = b;
        type = 'boolean';
      } else {
        v = parseFloatToken(s, vStart, vEnd);
        type = 'float';
      }
      if (v !== v) {
        const token = clip(s.substring(vStart, vEnd));
        const range = (type === 'integer' || type === 'uinteger') && isIntegerSyntax(s, vStart, vEnd - 1, type === 'uinteger');
        return this.fail(`invalid field value for "${clip(key)}": "${token}"${range ? ` (out of ${type === 'integer' ? 'int64' : 'uint64'} range)` : ''}`);
      }
      value = v;
    }
    this.pos = i;

    const keys = p.fieldKeys;
    const n = this.nFields;
    let k = -1;
    if (n < SMALL_LINE) {
      for (let j = 0; j < n; j++) {
        if (keys[j] === key) {
          k = j;
          break;
        }
      }
    } else {
      // Many fields: a scan per field would be quadratic in the line's length.
      if (n === SMALL_LINE) {
        this.fieldIndex = new Map();
        for (let j = 0; j < n; j++) if (!this.fieldIndex.has(keys[j])) this.fieldIndex.set(keys[j], j);
      }
      k = this.fieldIndex!.get(key) ?? -1;
      if (k < 0) this.fieldIndex!.set(key, n);
    }
    if (k >= 0) {
      // Same line, same field: the last value wins unless the types disagree (as InfluxDB does).
      if (p.fieldTypes[k] !== type) return this.fail(`field "${clip(key)}" appears twice with different types (${p.fieldTypes[k]}, ${type})`);
      p.fieldValues[k] = value;
      return true;
    }
    if (n < keys.length) {
      keys[n] = key;
      p.fieldTypes[n] = type;
      p.fieldValues[n] = value;
    } else {
      keys.push(key);
      p.fieldTypes.push(type);
      p.fieldValues.push(value);
    }
    this.nFields = n + 1;
    return true;
  }

  private parseTimestamp(start: number, end: number): boolean {
    const s = this.s;
    let i = start;
    const neg = s.charCodeAt(i) === MINUS;
    if (neg) i++;
    if (i === end) return this.fail(`invalid timestamp "${clip(s.substring(start, end))}"`);
    for (let k = i; k < end; k++) {
      const c = s.charCodeAt(k);
      if (c < ZERO || c > NINE) return this.fail(`invalid timestamp "${clip(s.substring(start, end))}"`);
    }
    while (i < end - 1 && s.charCodeAt(i) === ZERO) i++;
    const digits = end - i;
    // Split the digits so that neither part loses precision: ns values exceed 2^53.
    const drop = this.dropDigits;
    const split = end - drop;
    let hi = 0;
    let lo = 0;
    for (let k = i; k < end; k++) {
      const d = s.charCodeAt(k) - ZERO;
      if (k < split) hi = hi * 10 + d;
      else lo = lo * 10 + d;
    }
    let ms = drop > 0 ? hi + lo / POW10[drop] : hi * this.scale;
    if (neg) ms = -ms;
    const outOfRange =
      this.dropDigits === 6
        ? digits > 19 || (digits === 19 && exceeds(s, i, neg ? INT64_MIN_ABS : INT64_MAX))
        : ms > MAX_TIME_MS || ms < -MAX_TIME_MS;
    if (outOfRange) return this.fail(`timestamp out of range "${clip(s.substring(start, end))}"`);
    this.point.timestampMs = ms;
    return true;
  }
}

/** True when the digits at `s[i, i+limit.length)` are greater than `limit` (same length). */
function exceeds(s: string, i: number, limit: string): boolean {
  for (let k = 0; k < limit.length; k++) {
    const a = s.charCodeAt(i + k);
    const b = limit.charCodeAt(k);
    if (a !== b) return a > b;
  }
  return false;
}

function isIntegerSyntax(s: string, start: number, end: number, unsigned: boolean): boolean {
  let i = start;
  if (!unsigned && s.charCodeAt(i) === MINUS) i++;
  if (i >= end) return false;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) return false;
  }
  return true;
}

/** Integer digits in `s[start, end)` (the i/u suffix excluded); NaN when invalid or out of range. */
function parseInteger(s: string, start: number, end: number, unsigned: boolean): number {
  if (!isIntegerSyntax(s, start, end, unsigned)) return NaN;
  const neg = s.charCodeAt(start) === MINUS;
  const ds = neg ? start + 1 : start;
  const digits = end - ds;
  if (digits <= 15) {
    let v = 0;
    for (let k = ds; k < end; k++) v = v * 10 + (s.charCodeAt(k) - ZERO);
    return neg ? -v : v;
  }
  // Strip leading zeros before comparing against the limits.
  let z = ds;
  while (z < end - 1 && s.charCodeAt(z) === ZERO) z++;
  const n = end - z;
  const limit = unsigned ? UINT64_MAX : neg ? INT64_MIN_ABS : INT64_MAX;
  if (n > limit.length || (n === limit.length && exceeds(s, z, limit))) return NaN;
  return Number(s.substring(start, end));
}

const BOOLEANS: readonly [string, boolean][] = [
  ['t', true],
  ['T', true],
  ['true', true],
  ['True', true],
  ['TRUE', true],
  ['f', false],
  ['F', false],
  ['false', false],
  ['False', false],
  ['FALSE', false],
];

function parseBoolean(s: string, start: number, end: number): boolean | null {
  const n = end - start;
  for (let k = 0; k < BOOLEANS.length; k++) {
    const [word, v] = BOOLEANS[k];
    if (word.length === n && s.startsWith(word, start)) return v;
  }
  return null;
}

/**
 * Float per the line-protocol grammar: [-]digits[.digits][e[+-]digits] (either side of the
 * dot may be empty, not both). Returns NaN when the token is not one (NaN/Inf are not allowed).
 */
function parseFloatToken(s: string, start: number, end: number): number {
  let i = start;
  const neg = s.charCodeAt(i) === MINUS;
  if (neg) i++;
  let mantissa = 0;
  let digits = 0;
  let fracDigits = 0;
  let intDigits = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    mantissa = mantissa * 10 + (c - ZERO);
    intDigits++;
  }
  if (i < end && s.charCodeAt(i) === DOT) {
    i++;
    for (; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      mantissa = mantissa * 10 + (c - ZERO);
      fracDigits++;
    }
  }
  digits = intDigits + fracDigits;
  if (digits === 0) return NaN;
  let exp = 0;
  if (i < end) {
    const c = s.charCodeAt(i);
    if (c !== 101 && c !== 69 /* e E */) return NaN;
    i++;
    let expNeg = false;
    const sign = s.charCodeAt(i);
    if (sign === MINUS || sign === 43 /* + */) {
      expNeg = sign === MINUS;
      i++;
    }
    const expStart = i;
    for (; i < end; i++) {
      const d = s.charCodeAt(i);
      if (d < ZERO || d > NINE) return NaN;
      if (exp < 100000) exp = exp * 10 + (d - ZERO);
    }
    if (i === expStart) return NaN;
    if (expNeg) exp = -exp;
  }
  // Exact fast path (Clinger): an integer mantissa below 2^53 times an exact power of ten
  // rounds once, so it is the correctly rounded result; anything else goes to Number().
  const e10 = exp - fracDigits;
  let v: number;
  if (digits <= 15 && e10 >= -22 && e10 <= 22) {
    v = e10 < 0 ? mantissa / POW10[-e10] : mantissa * POW10[e10];
    return neg ? -v : v;
  }
  v = Number(s.substring(start, end));
  return Number.isFinite(v) ? v : NaN;
}

function unescapeElement(s: string, start: number, end: number, kind: number): string {
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) !== BACKSLASH || i + 1 >= end) continue;
    const c = s.charCodeAt(i + 1);
    const special = c === COMMA || c === SPACE || c === BACKSLASH || (kind === ESC_KEY && c === EQUALS);
    if (special) {
      out += s.substring(from, i);
      from = i + 1;
    }
    i++;
  }
  return out + s.substring(from, end);
}

function unescapeString(s: string, start: number, end: number): string {
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) !== BACKSLASH || i + 1 >= end) continue;
    const c = s.charCodeAt(i + 1);
    if (c === QUOTE || c === BACKSLASH) {
      out += s.substring(from, i);
      from = i + 1;
    }
    i++;
  }
  return out + s.substring(from, end);
}

// ---------------------------------------------------------------------------------------
// Writer

/** A point to write: the parser's point shape; `line` is not needed. */
export type LineProtocolPointInput = Pick<LineProtocolPoint, 'measurement' | 'fieldKeys' | 'fieldTypes' | 'fieldValues'> & {
  tags?: readonly (readonly [string, string])[];
  timestampMs?: number | null;
};

function formatError(message: string): BadRequestError {
  return new BadRequestError('FS_LP_FORMAT', message);
}

function escapeWith(s: string, escapeEquals: boolean, what: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === COMMA || c === SPACE || c === BACKSLASH || (escapeEquals && c === EQUALS)) {
      out += s.substring(from, i) + '\\';
      from = i;
    } else if (c === LF || c === CR) {
      throw formatError(`${what} ${JSON.stringify(s)} contains a line break, which line protocol cannot carry`);
    }
  }
  return out === '' ? s : out + s.substring(from);
}

function escapeString(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH) {
      out += s.substring(from, i) + '\\';
      from = i;
    }
  }
  return out === '' ? s : out + s.substring(from);
}

const INT64_MAX_NUM = 2 ** 63;
const UINT64_MAX_NUM = 2 ** 64;

function formatInteger(v: number, unsigned: boolean): string {
  const t = Math.trunc(v);
  if (unsigned) {
    if (t <= 0) return '0';
    if (t >= UINT64_MAX_NUM) return UINT64_MAX;
  } else {
    if (t >= INT64_MAX_NUM) return INT64_MAX;
    if (t <= -INT64_MAX_NUM) return '-' + INT64_MIN_ABS;
  }
  return Number.isSafeInteger(t) ? String(t) : BigInt(t).toString();
}

function formatTimestamp(ms: number, precision: Precision): string {
  if (precision === 'ms') return String(Math.round(ms));
  if (precision === 's') return String(Math.round(ms / 1000));
  // ns and us: whole ms as digits, then the sub-ms part padded, without going through a
  // float that cannot hold 19 digits.
  const sub = precision === 'ns' ? 1e6 : 1e3;
  const width = precision === 'ns' ? 6 : 3;
  const neg = ms < 0;
  const a = Math.abs(ms);
  let whole = Math.floor(a);
  let frac = Math.round((a - whole) * sub);
  if (frac >= sub) {
    whole += 1;
    frac -= sub;
  }
  if (whole === 0) return (neg && frac !== 0 ? '-' : '') + String(frac);
  return (neg ? '-' : '') + String(whole) + String(frac).padStart(width, '0');
}

/**
 * One line of line protocol (no trailing newline). Non-finite float fields are left out (line
 * protocol has no NaN or Inf); when no field is left the result is '' and the caller skips it.
 * Empty tag values are left out, as InfluxDB would drop them. Throws BadRequestError
 * ('FS_LP_FORMAT') for what cannot be written: empty names, line breaks outside strings, a
 * measurement starting with '#'.
 */
export function formatLineProtocol(point: LineProtocolPointInput, precision: Precision = 'ns'): string {
  const m = point.measurement;
  if (m === '') throw formatError('empty measurement');
  if (m.charCodeAt(0) === HASH) throw formatError(`measurement ${JSON.stringify(m)} starts with "#", which reads as a comment`);
  // Leading spaces are escaped below; a leading tab cannot be, and readers skip it.
  if (m.charCodeAt(0) === TAB) throw formatError(`measurement ${JSON.stringify(m)} starts with a tab, which line protocol cannot carry`);
  let line = escapeWith(m, false, 'measurement');
  const tags = point.tags ?? [];
  for (let i = 0; i < tags.length; i++) {
    const [k, v] = tags[i];
    if (k === '') throw formatError('empty tag key');
    if (v === '') continue;
    line += ',' + escapeWith(k, true, 'tag key') + '=' + escapeWith(v, true, 'tag value');
  }
  let fields = '';
  const keys = point.fieldKeys;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === '') throw formatError('empty field key');
    const type = point.fieldTypes[i];
    const v = point.fieldValues[i];
    let text: string;
    switch (type) {
      case 'float': {
        const n = Number(v);
        if (!Number.isFinite(n)) continue;
        text = Object.is(n, -0) ? '-0' : String(n);
        break;
      }
      case 'integer':
        text = formatInteger(Number(v), false) + 'i';
        break;
      case 'uinteger':
        text = formatInteger(Number(v), true) + 'u';
        break;
      case 'boolean':
        text = v ? 'true' : 'false';
        break;
      case 'string':
        text = '"' + escapeString(String(v)) + '"';
        break;
      default:
        throw formatError(`unknown field type ${JSON.stringify(type)} for field ${JSON.stringify(k)}`);
    }
    fields += (fields === '' ? '' : ',') + escapeWith(k, true, 'field key') + '=' + text;
  }
  if (fields === '') return '';
  line += ' ' + fields;
  if (point.timestampMs !== undefined && point.timestampMs !== null) line += ' ' + formatTimestamp(point.timestampMs, precision);
  return line;
}
