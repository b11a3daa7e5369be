// Our job ids (event ids: any string) ↔ BullMQ custom job ids, which may not contain ':' (it
// separates Redis key parts), may not look like an integer (BullMQ's own ids are integers) and
// may not be empty.

const ESCAPES = /[%:]/g;
const UNESCAPES = /%(25|3A)/g;
/** Marks an id that would otherwise parse as an integer; '%' never appears unescaped otherwise. */
const INT_MARK = '%i';

/** A BullMQ-safe job id for `id`; `fromBullJobId` reverses it. Ids without '%' or ':' pass unchanged. */
export function toBullJobId(id: string): string {
  const escaped = id.replace(ESCAPES, (c) => (c === '%' ? '%25' : '%3A'));
  // An empty id would make BullMQ generate one, losing idempotency.
  return escaped === '' || `${parseInt(escaped, 10)}` === escaped ? INT_MARK + escaped : escaped;
}

export function fromBullJobId(jobId: string): string {
  const body = jobId.startsWith(INT_MARK) ? jobId.slice(INT_MARK.length) : jobId;
  return body.replace(UNESCAPES, (_, hex: string) => (hex === '25' ? '%' : ':'));
}
