import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadNabCorpus, resultsPath } from './corpus.js';
import { nabDirForTests } from './nab-dir.js';
import {
  findWindowsForFile,
  formatNabResultsCsv,
  formatNabTimestamp,
  parseCombinedWindows,
  parseNabDataCsv,
  parseNabResultsCsv,
  parseNabTimestamp,
  readNabResultsFile,
  roundNabScores,
  windowLabels,
} from '../../shared/codecs/nab-csv.js';

describe('NAB timestamps', () => {
  it('parse as UTC', () => {
    expect(parseNabTimestamp('2014-04-10 16:15:00')).toBe(Date.UTC(2014, 3, 10, 16, 15, 0));
    expect(parseNabTimestamp('2014-04-10 16:15:00.000000')).toBe(Date.UTC(2014, 3, 10, 16, 15, 0));
    expect(parseNabTimestamp('2014-04-10 16:15:00.250000')).toBe(Date.UTC(2014, 3, 10, 16, 15, 0, 250));
  });

  it('reject what is not a date and time', () => {
    for (const bad of ['', '2014-04-10', '2014-02-30 00:00:00', '2014-04-10 16:15', 'x2014-04-10 16:15:00']) {
      expect(parseNabTimestamp(bad), bad).toBeNaN();
    }
  });

  it('format and parse round-trip every whole second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_799 }), (s) => {
        const text = formatNabTimestamp(s * 1000);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
        expect(parseNabTimestamp(text)).toBe(s * 1000);
      }),
    );
  });
});

describe('NAB CSVs', () => {
  it('reads a data file, CRLF or not, and names the bad line', () => {
    const s = parseNabDataCsv('timestamp,value\r\n2015-01-01 00:00:00,1.5\r\n2015-01-01 00:05:00,-2\r\n');
    expect(Array.from(s.values)).toEqual([1.5, -2]);
    expect(s.timestampsMs[1] - s.timestampsMs[0]).toBe(300_000);
    expect(() => parseNabDataCsv('timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,\n', 'x.csv')).toThrow(
      /x\.csv: line 3: bad value/,
    );
    expect(() => parseNabDataCsv('time,value\n')).toThrow(/no "timestamp" column/);
  });

  it('writes results that read back to the same rows', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v)), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), {
          maxLength: 50,
        }),
        (rows) => {
          const n = rows.length;
          const timestampsMs = Float64Array.from(rows, (_, i) => Date.UTC(2015, 0, 1) + i * 300_000);
          const values = Float64Array.from(rows, (r) => r[0]);
          const scores = Float64Array.from(rows, (r) => r[1]);
          const labels = Uint8Array.from(rows, (r) => (r[2] ? 1 : 0));
          const back = parseNabResultsCsv(formatNabResultsCsv({ timestampsMs, values }, scores, labels));
          expect(back.timestampsMs).toEqual(timestampsMs);
          expect(back.values).toEqual(values);
          expect(back.scores).toEqual(scores);
          expect(back.labels).toEqual(labels);
          expect(back.scores.length).toBe(n);
        },
      ),
    );
  });

  it('labels 0 when no windows are given', () => {
    const csv = formatNabResultsCsv({ timestampsMs: Float64Array.of(0), values: Float64Array.of(3) }, Float64Array.of(0.25));
    expect(csv).toBe('timestamp,value,anomaly_score,label\n1970-01-01 00:00:00,3,0.25,0\n');
  });

  it('rounds scores to 12 significant digits like NAB’s results files', () => {
    expect(Array.from(roundNabScores(Float64Array.of(0.9999999999999983, 0.0301029996658834, 0)))).toEqual([1, 0.0301029996659, 0]);
  });
});

describe('NAB windows and labels', () => {
  it('parses combined_windows.json and labels rows inside windows, both ends included', () => {
    const windows = parseCombinedWindows(
      JSON.stringify({ 'a/x.csv': [['2015-01-01 00:10:00.000000', '2015-01-01 00:20:00.000000']], 'a/y.csv': [] }),
    );
    expect(windows.get('a/y.csv')).toEqual([]);
    const ts = Float64Array.from({ length: 6 }, (_, i) => Date.UTC(2015, 0, 1) + i * 300_000);
    expect(Array.from(windowLabels(ts, windows.get('a/x.csv') ?? []))).toEqual([0, 0, 1, 1, 1, 0]);
    expect(() => parseCombinedWindows('{"a/x.csv": [["2015-01-01 00:10:00", "nope"]]}')).toThrow(/bad window/);
    expect(findWindowsForFile(windows, '../nab/data/a/x.csv')).toBe(windows.get('a/x.csv'));
    expect(findWindowsForFile(windows, 'a/y.csv')).toEqual([]);
    expect(findWindowsForFile(windows, 'data/b/x.csv')).toBeUndefined();
  });
});

const nab = await nabDirForTests();

describe.skipIf(!nab.available)('NAB formats on the NAB dev half', () => {
  it('labels from combined_windows.json equal the label column NAB wrote', async () => {
    const corpus = await loadNabCorpus(nab.dir);
    let inside = 0;
    for (const f of corpus.files) {
      const published = await readNabResultsFile(resultsPath(join(nab.dir, 'results'), 'numenta', f.path));
      const labels = windowLabels(f.series.timestampsMs, f.windows);
      expect(labels, f.path).toEqual(published.labels);
      inside += labels.reduce((a, b) => a + b, 0);
    }
    expect(inside).toBeGreaterThan(0);
  });
});
