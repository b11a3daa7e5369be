import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from './generator.js';
import { aggregate, median, scoreSeries, type SeriesOutcome } from './scoring.js';

const T0 = 0;
const SCORED = DAY_MS; // one day of burn-in
const END = 5 * DAY_MS;

function normal(alerts: number[] = [], warnings: number[] = []): SeriesOutcome {
  return { troubleStartMs: NaN, windowEndMs: NaN, breachMs: NaN, scoredFromMs: SCORED, endMs: END, alerts, warnings };
}

function troubled(start: number, windowEnd: number, breach: number, alerts: number[] = [], warnings: number[] = []): SeriesOutcome {
  return { troubleStartMs: start, windowEndMs: windowEnd, breachMs: breach, scoredFromMs: SCORED, endMs: END, alerts, warnings };
}

describe('median', () => {
  it('takes the middle value, or the mean of the middle two, of the finite values', () => {
    expect(median([])).toBeNull();
    expect(median([NaN])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, NaN, 30])).toBe(20);
  });
});

describe('scoreSeries', () => {
  it('counts every scored signal on a normal series as false, and burn-in signals apart', () => {
    const s = scoreSeries(normal([T0 + HOUR_MS, SCORED, 2 * DAY_MS], [3 * DAY_MS]));
    expect(s).toMatchObject({ troubled: false, falseAlerts: 3, falseWarnings: 1, burnInSignals: 1, scoredDays: 4, normalDays: 4 });
    expect(s.detectedAtMs).toBeNaN();
  });

  it('splits a troubled series into normal time before the trouble and the detection window', () => {
    const start = 2 * DAY_MS + 12 * HOUR_MS;
    const s = scoreSeries(troubled(start, start + HOUR_MS, NaN, [DAY_MS + HOUR_MS, start - 1, start + 15 * 60_000, start + 2 * HOUR_MS]));
    expect(s.falseAlerts).toBe(2);
    expect(s.normalDays).toBeCloseTo(1.5, 12);
    expect(s.scoredDays).toBe(4);
    expect(s.detectedAtMs).toBe(start + 15 * 60_000);
    expect(s.delayMs).toBe(15 * 60_000);
    expect(s.breaches).toBe(false);
    expect(s.leadMs).toBeNaN();
  });

  it('counts a signal at the window end but not after it', () => {
    const start = 2 * DAY_MS;
    expect(scoreSeries(troubled(start, start + HOUR_MS, NaN, [start + HOUR_MS])).detectedAtMs).toBe(start + HOUR_MS);
    expect(scoreSeries(troubled(start, start + HOUR_MS, NaN, [start + HOUR_MS + 1])).detectedAtMs).toBeNaN();
  });

  it('measures lead time from the first alert or warning before the breach', () => {
    const start = 2 * DAY_MS;
    const breach = 4 * DAY_MS;
    const s = scoreSeries(troubled(start, breach, breach, [3 * DAY_MS], [2.5 * DAY_MS, 3.5 * DAY_MS]));
    expect(s.detectedAtMs).toBe(2.5 * DAY_MS);
    expect(s.leadMs).toBe(1.5 * DAY_MS);
    expect(s.forecastLeadMs).toBe(1.5 * DAY_MS);
    const late = scoreSeries(troubled(start, breach, breach, [breach], []));
    expect(late.detectedAtMs).toBe(breach); // detected at the breach, but with no warning ahead of it
    expect(late.leadMs).toBeNaN();
    const alertFirst = scoreSeries(troubled(start, breach, breach, [2.2 * DAY_MS], [3 * DAY_MS]));
    expect(alertFirst.leadMs).toBeCloseTo(1.8 * DAY_MS, 6);
    expect(alertFirst.forecastLeadMs).toBe(DAY_MS);
  });
});

describe('aggregate', () => {
  it('computes recall, false alerts per 1000 normal series-days, median delay and lead', () => {
    const start = 2 * DAY_MS;
    const scores = [
      normal([2 * DAY_MS]), // 4 normal days, 1 false alert
      normal(), // 4 normal days
      troubled(start, start + HOUR_MS, NaN, [start + 60_000]), // 1 normal day, detected after 60 s
      troubled(start, start + HOUR_MS, NaN, [start + 180_000]), // detected after 180 s
      troubled(start, 4 * DAY_MS, 4 * DAY_MS, [3 * DAY_MS], [1.5 * DAY_MS]), // 1 false warning, detected after 1 day, lead 1 day
      troubled(start, END, NaN, []), // missed
    ].map(scoreSeries);
    const a = aggregate(scores);
    expect(a.series).toBe(6);
    expect(a.series_days).toBe(24);
    expect(a.troubled_series).toBe(4);
    expect(a.detected).toBe(3);
    expect(a.recall).toBe(0.75);
    expect(a.false_alerts).toBe(2);
    expect(a.false_forecast_warnings).toBe(1);
    expect(a.normal_series_days).toBe(12);
    expect(a.false_alerts_per_1000_series_days).toBeCloseTo((2 / 12) * 1000, 2);
    expect(a.median_detection_delay_s).toBe(180);
    expect(a.breaching_series).toBe(1);
    expect(a.warned_before_breach).toBe(1);
    expect(a.median_lead_time_s).toBe(DAY_MS / 1000);
    expect(a.forecast_warned_before_breach).toBe(0); // its warning came before the trouble
    expect(a.median_forecast_lead_time_s).toBeNull();
  });

  it('reports null recall without troubled series and null rates without normal time', () => {
    expect(aggregate([scoreSeries(normal())]).recall).toBeNull();
    const onlyTrouble = aggregate([scoreSeries({ ...troubled(SCORED, SCORED + HOUR_MS, NaN, [SCORED]) })]);
    expect(onlyTrouble.false_alerts_per_1000_series_days).toBeNull();
    expect(onlyTrouble.recall).toBe(1);
    expect(onlyTrouble.median_detection_delay_s).toBe(0);
  });
});
