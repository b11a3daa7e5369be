// Real-data checks (`npm run bench:real-soak`): Debian's Prometheus scraping a real
// node-exporter, itself, Alertmanager, VictoriaMetrics and Foreshock every few seconds and
// remote-writing to `foreshock start` with no configuration, alerts to a real Alertmanager.
//
//   npm run bench:real-soak -- [--minutes 20] [--interval 5] [--drill none|disk|cpu|all]
//                              [--burn-minutes 5] [--disk-mib 192] [--fill-mib-per-s 1]
//
// Prints one JSON line per phase: the quiet soak (alerts in Alertmanager from start to end,
// anomalies opened after warm-up by role, per 1000 series-hours, false pages per 1000
// series-days, top metrics and detectors), the disk drill (a tmpfs filled at a steady rate:
// how long before it was full the warning came, with its time-to-full) and the CPU burn (pages
// while every core burns, and how soon after the burn they resolved).

import { cpus, loadavg, totalmem } from 'node:os';
import { cpuBurn, diskDrill } from './real/drills.js';
import { summariseSoak } from './real/soak.js';
import { RealStack, realStackAvailable } from './real/stack.js';
import { numberArg } from './support.js';

function stringArg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : (process.argv[i + 1] ?? def);
}

function print(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

const log = (line: string) => process.stderr.write(`[real-soak] ${line}\n`);

async function main(): Promise<void> {
  const missing = realStackAvailable();
  if (missing !== null) throw new Error(`cannot run: ${missing}`);
  const minutes = numberArg('minutes', 20);
  const intervalS = numberArg('interval', 5);
  const drill = stringArg('drill', 'none');
  if (!['none', 'disk', 'cpu', 'all'].includes(drill)) throw new Error(`--drill must be none, disk, cpu or all (got ${drill})`);
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
  const stack = new RealStack({ scrapeInterval: `${intervalS}s`, log });
  try {
    await stack.start();
    stack.watchAlerts(1000);
    const startedAt = Date.now();
    // No anomaly can open before a series has its warm-up samples (the default 30).
    const warmupMs = 30 * intervalS * 1000;
    log(`soak: ${minutes} min of a quiet machine`);
    await new Promise((r) => setTimeout(r, minutes * 60_000));
    await stack.pollAlerts();
    print({ case: 'real_soak', interval_s: intervalS, warmup_s: warmupMs / 1000, ...(await summariseSoak(stack, startedAt, minutes, warmupMs)), load_avg: loadavg().map((x) => Math.round(x * 100) / 100), machine });

    if (drill === 'disk' || drill === 'all') {
      const r = await diskDrill(stack, { sizeMiB: numberArg('disk-mib', 192), rateMiBPerS: numberArg('fill-mib-per-s', 1), baselineMs: 60_000, log });
      print({
        case: 'disk_drill', mountpoint: r.mountpoint, fill_s: Math.round((r.fullAt - r.fillStartedAt) / 1000),
        warned: r.warnedAt !== null, lead_s: r.leadS === null ? null : Math.round(r.leadS), warning: r.warningSummary,
        alerts: r.alerts.map((a) => `${a.labels.alertname} ${a.labels.severity}: ${a.annotations.summary ?? ''}`),
        load_avg: loadavg().map((x) => Math.round(x * 100) / 100),
      });
      // The mount is gone: let its alert resolve before the next drill counts pages.
      const until = Date.now() + 5 * 60_000;
      while (Date.now() < until && (await stack.activeAlerts()).length > 0) await new Promise((r) => setTimeout(r, 2000));
    }
    if (drill === 'cpu' || drill === 'all') {
      const r = await cpuBurn(stack, { burnMs: numberArg('burn-minutes', 5) * 60_000, resolveWithinMs: 6 * 60_000, log });
      print({
        case: 'cpu_burn', cores: r.cores, burn_s: Math.round((r.burnStoppedAt - r.burnStartedAt) / 1000), pages: r.alerts.length,
        paged_after_s: r.pagedAfterS === null ? null : Math.round(r.pagedAfterS), resolved_after_s: r.resolvedAfterS === null ? null : Math.round(r.resolvedAfterS),
        alerts: r.alerts.map((a) => `${a.labels.alertname} ${a.labels.severity}: ${a.annotations.summary ?? ''}`),
        load_avg: loadavg().map((x) => Math.round(x * 100) / 100),
      });
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:real-soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
