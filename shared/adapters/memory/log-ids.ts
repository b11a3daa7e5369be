// Ids of capped-log entries in the embedded state stores: `<ms, 13 digits>-<seq, 6 digits>`,
// monotonic even when the clock steps back, and sorting as strings in time order.

const ID_MS_DIGITS = 13;
const ID_SEQ_DIGITS = 6;
const ID_SEQ_MAX = 10 ** ID_SEQ_DIGITS - 1;

/** The last id issued (ms and sequence part); updated in place by `nextLogId`. */
export interface LogIdState {
  lastIdMs: number;
  lastIdSeq: number;
}

export function nextLogId(state: LogIdState, nowMs: number): string {
  let ms = Math.max(Math.floor(nowMs), state.lastIdMs);
  let seq = ms === state.lastIdMs ? state.lastIdSeq + 1 : 0;
  if (seq > ID_SEQ_MAX) {
    ms++;
    seq = 0;
  }
  state.lastIdMs = ms;
  state.lastIdSeq = seq;
  return String(ms).padStart(ID_MS_DIGITS, '0') + '-' + String(seq).padStart(ID_SEQ_DIGITS, '0');
}
