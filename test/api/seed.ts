// Seed data for the API and page suites: line protocol with explicit timestamps (ms precision)
// holding one known anomaly, a series trending towards its threshold, and quiet neighbours.

export interface Seed {
  /** Line protocol body, precision ms. */
  body: string;
  /** Series key of the anomalous series, its host and the time the anomaly starts. */
  anomalyKey: string;
  anomalyHost: string;
  anomalyStart: number;
  /** Series key of the series rising towards the threshold. */
  trendKey: string;
  /** Time of the last sample. */
  end: number;
}

const STEP = 15_000;

/**
 * `n` samples per series ending about now: `cpu_busy` on `<run>-h1` steady near 20 with a
 * sustained jump to 95 over its last 12 samples; `disk_used_ratio` on `<run>-h2` climbing
 * 0.5 → 0.8 (threshold 0.9 in the suites) with a two-minute excursion 20 minutes before the end;
 * `cpu_busy` on `<run>-h3` steady (cluster c2).
 */
export function seedLines(run: string, n = 240): Seed {
  const end = Math.floor(Date.now() / STEP) * STEP - STEP;
  const start = end - (n - 1) * STEP;
  const jumpAt = n - 12;
  let body = '';
  for (let i = 0; i < n; i++) {
    const t = start + i * STEP;
    const wobble = ((i * 7919) % 17) / 17 - 0.5; // deterministic noise in [-0.5, 0.5)
    const cpu = i >= jumpAt ? 95 + wobble : 20 + 2 * wobble;
    body += `cpu,host=${run}-h1,cluster=c1,service=trading busy=${cpu.toFixed(3)} ${t}\n`;
    body += `cpu,host=${run}-h3,cluster=c2,service=pricing busy=${(30 + 2 * wobble).toFixed(3)} ${t}\n`;
    const bump = i >= n - 80 && i < n - 72 ? 0.12 : 0; // a short excursion, long resolved by the end
    body += `disk,host=${run}-h2,cluster=c1,service=trading used_ratio=${(0.5 + (0.3 * i) / (n - 1) + 0.002 * wobble + bump).toFixed(5)} ${t}\n`;
  }
  return {
    body,
    anomalyKey: `cpu_busy{cluster="c1",host="${run}-h1",service="trading"}`,
    anomalyHost: `${run}-h1`,
    anomalyStart: start + jumpAt * STEP,
    trendKey: `disk_used_ratio{cluster="c1",host="${run}-h2",service="trading"}`,
    end,
  };
}
