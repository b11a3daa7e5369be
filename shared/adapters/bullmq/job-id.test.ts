import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBullJobId, toBullJobId } from './job-id.js';

describe('BullMQ job ids', () => {
  it('leaves ordinary ids alone', () => {
    expect(toBullJobId('ev-01HZX')).toBe('ev-01HZX');
    expect(toBullJobId('cpu{host="a"}')).toBe('cpu{host="a"}');
  });

  it('escapes what BullMQ refuses: colons and integer-looking ids', () => {
    expect(toBullJobId('anomaly:cpu:17')).toBe('anomaly%3Acpu%3A17');
    expect(toBullJobId('12345')).toBe('%i12345');
    expect(toBullJobId('-7')).toBe('%i-7');
    expect(toBullJobId('50%')).toBe('50%25');
    expect(fromBullJobId('%i12345')).toBe('12345');
    expect(toBullJobId('')).toBe('%i');
    expect(fromBullJobId('%i')).toBe('');
  });

  it('round-trips any string, and the result never contains ":" nor reads as an integer (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[-0-9%:i]{0,8}$/), fc.integer().map(String)), (id) => {
        const bull = toBullJobId(id);
        expect(bull.includes(':')).toBe(false);
        expect(`${parseInt(bull, 10)}` === bull).toBe(false);
        expect(bull).not.toBe('');
        expect(fromBullJobId(bull)).toBe(id);
      }),
      { numRuns: 2_000 },
    );
  });

  it('maps distinct ids to distinct BullMQ ids (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[-0-9%:i3A25]{0,8}$/), fc.stringMatching(/^[-0-9%:i3A25]{0,8}$/), (a, b) => {
        fc.pre(a !== b);
        expect(toBullJobId(a)).not.toBe(toBullJobId(b));
      }),
      { numRuns: 2_000 },
    );
  });
});
