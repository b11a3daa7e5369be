// Raw payloads as receivers publish them to the raw topics, before ingest decodes them.
// One message = one accepted request body: a 12-byte header (magic, version, format,
// precision, receive time as float64 ms) then the body as it was received (remote-write:
// snappy-compressed; line protocol: plain text, or gzip as sent, so a small gzip body that
// inflates a hundredfold is not kept inflated while it waits). Telegraf's own Kafka output writes bare
// line protocol to its topic instead; ingest tells the two apart by topic.

import { BadRequestError } from '../errors/index.js';

export const RAW_FORMAT_REMOTE_WRITE = 1;
export const RAW_FORMAT_LINE_PROTOCOL = 2;
/** Line protocol still gzip-compressed, as the sender sent it. */
export const RAW_FORMAT_LINE_PROTOCOL_GZIP = 3;
export type RawFormat = typeof RAW_FORMAT_REMOTE_WRITE | typeof RAW_FORMAT_LINE_PROTOCOL | typeof RAW_FORMAT_LINE_PROTOCOL_GZIP;

const MAGIC = 0xf5;
const VERSION = 1;
const PRECISIONS = ['ns', 'us', 'ms', 's'] as const;
export type RawPrecision = (typeof PRECISIONS)[number];

export interface RawPayload {
  format: RawFormat;
  precision: RawPrecision;
  /** When the receiver accepted the body (ms); the time of line-protocol points without one. */
  receivedAtMs: number;
  body: Uint8Array;
}

const HEADER = 12;

export function encodeRawPayload(format: RawFormat, precision: RawPrecision, receivedAtMs: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + HEADER);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = format;
  out[3] = PRECISIONS.indexOf(precision);
  new DataView(out.buffer, out.byteOffset, HEADER).setFloat64(4, receivedAtMs, true);
  out.set(body, HEADER);
  return out;
}

/** The returned body is a view into `buf` (no copy). */
export function decodeRawPayload(buf: Uint8Array): RawPayload {
  if (buf.length < HEADER || buf[0] !== MAGIC) throw new BadRequestError('FS_RAW_ENVELOPE', 'not a Foreshock raw payload (bad magic byte)');
  if (buf[1] !== VERSION) throw new BadRequestError('FS_RAW_ENVELOPE', `unsupported raw payload version ${buf[1]}`);
  const format = buf[2];
  if (format !== RAW_FORMAT_REMOTE_WRITE && format !== RAW_FORMAT_LINE_PROTOCOL && format !== RAW_FORMAT_LINE_PROTOCOL_GZIP) {
    throw new BadRequestError('FS_RAW_ENVELOPE', `unknown raw payload format ${format}`);
  }
  const precision = PRECISIONS[buf[3]];
  if (!precision) throw new BadRequestError('FS_RAW_ENVELOPE', `unknown precision code ${buf[3]}`);
  const receivedAtMs = new DataView(buf.buffer, buf.byteOffset, HEADER).getFloat64(4, true);
  return { format, precision, receivedAtMs, body: buf.subarray(HEADER) };
}
